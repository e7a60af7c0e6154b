// The window's data and the pure functions that shape it: no DOM, no Tauri,
// so every rule here runs under Vitest. The types mirror the node's
// `hark_node::api` module (crates/hark-node/src/api.rs) field for field.

/** Who this node is (`api::WhoAmI`). */
export interface WhoAmI {
  peer_id: string;
  display_name: string;
  safety_number: string;
  listen_addrs: string[];
  data_dir: string;
}

/** A peer this node knows of (`api::PeerInfo`). */
export interface PeerInfo {
  peer_id: string;
  display_name: string;
  safety_number: string;
  online: boolean;
  last_seen_ms: number;
}

export type Direction = "outgoing" | "incoming";

export type MessageState =
  | "queued"
  | "sent"
  | "delivered"
  | "receiving"
  | "received";

/** One line of the inbox (`api::MessageSummary`). */
export interface MessageSummary {
  id: string;
  direction: Direction;
  from: string;
  from_name: string;
  to: string[];
  created_at_ms: number;
  duration_ms: number;
  state: MessageState;
}

/** A live change in the node (`api::Event`, tagged by `type`). */
export type HarkEvent =
  | { type: "peer_online"; peer: PeerInfo }
  | { type: "peer_offline"; peer_id: string }
  | { type: "message"; message: MessageSummary };

/** A failed request as the shell returns it (`api::Error`). */
export interface ApiError {
  kind: string;
  message: string;
}

/** Everything the window shows. */
export interface State {
  me: WhoAmI | null;
  peers: PeerInfo[];
  messages: MessageSummary[];
}

export const emptyState: State = { me: null, peers: [], messages: [] };

/** How many trailing characters of a peer id make its short form. */
const SHORT_ID_LENGTH = 8;

/**
 * The last characters of a peer id. Ed25519 peer ids all begin with the
 * same "12D3KooW", so the tail is the part that tells two apart.
 */
export function shortId(peerId: string): string {
  if (peerId.length <= SHORT_ID_LENGTH) {
    return peerId;
  }
  return `…${peerId.slice(-SHORT_ID_LENGTH)}`;
}

/** A speech length as m:ss (or h:mm:ss from an hour on), rounded down. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const seconds = total % 60;
  const minutes = Math.floor(total / 60) % 60;
  const hours = Math.floor(total / 3600);

  const ss = String(seconds).padStart(2, "0");
  if (hours === 0) {
    return `${minutes}:${ss}`;
  }
  return `${hours}:${String(minutes).padStart(2, "0")}:${ss}`;
}

/** Locale and time zone for time formatting; tests pin both. */
export interface TimeFormat {
  locale?: string;
  timeZone?: string;
}

/**
 * When a message was made: the clock time alone when it is from the same
 * day as `nowMs`, else the date as well.
 */
export function formatTime(ms: number, nowMs: number, fmt: TimeFormat = {}): string {
  const base: Intl.DateTimeFormatOptions = { timeZone: fmt.timeZone };
  const day = new Intl.DateTimeFormat(fmt.locale, { ...base, dateStyle: "short" });
  const sameDay = day.format(ms) === day.format(nowMs);

  const options: Intl.DateTimeFormatOptions = sameDay
    ? { ...base, hour: "2-digit", minute: "2-digit" }
    : { ...base, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(fmt.locale, options).format(ms);
}

/** Peers to show: online ones first, then by name, then by id. */
export function sortPeers(peers: readonly PeerInfo[]): PeerInfo[] {
  return [...peers].sort(
    (a, b) =>
      Number(b.online) - Number(a.online) ||
      a.display_name.localeCompare(b.display_name) ||
      compareText(a.peer_id, b.peer_id),
  );
}

/** Messages to show: newest first; equal times keep a stable order by id. */
export function sortMessages(messages: readonly MessageSummary[]): MessageSummary[] {
  return [...messages].sort(
    (a, b) => b.created_at_ms - a.created_at_ms || compareText(a.id, b.id),
  );
}

function compareText(a: string, b: string): number {
  if (a === b) {
    return 0;
  }
  return a < b ? -1 : 1;
}

/** The state after one live event; the input state is left untouched. */
export function applyEvent(state: State, event: HarkEvent): State {
  switch (event.type) {
    case "peer_online":
      return { ...state, peers: upsert(state.peers, event.peer, (p) => p.peer_id) };
    case "peer_offline":
      return {
        ...state,
        peers: state.peers.map((p) =>
          p.peer_id === event.peer_id ? { ...p, online: false } : p,
        ),
      };
    case "message":
      return {
        ...state,
        messages: upsert(state.messages, event.message, (m) => m.id),
      };
    default:
      // A newer node may send kinds this window does not know: ignore them.
      return state;
  }
}

function upsert<T>(items: readonly T[], item: T, key: (x: T) => string): T[] {
  const k = key(item);
  const index = items.findIndex((x) => key(x) === k);
  if (index === -1) {
    return [...items, item];
  }
  return items.map((x, i) => (i === index ? item : x));
}

/** A peer's display name as known here, else its short id. */
export function nameOf(state: State, peerId: string): string {
  if (state.me?.peer_id === peerId) {
    return "me";
  }
  const peer = state.peers.find((p) => p.peer_id === peerId);
  return peer?.display_name || shortId(peerId);
}

/** "From Alice" or "To Bob, Carol": who a message is between. */
export function counterpart(state: State, message: MessageSummary): string {
  if (message.direction === "incoming") {
    return `From ${message.from_name || nameOf(state, message.from)}`;
  }
  const others = message.to.filter((id) => id !== state.me?.peer_id);
  const names = others.map((id) => nameOf(state, id));
  return `To ${names.length > 0 ? names.join(", ") : "me"}`;
}

const STATE_LABELS: Record<MessageState, string> = {
  queued: "Queued",
  sent: "Sent",
  delivered: "Delivered",
  receiving: "Receiving…",
  received: "Received",
};

/** The words shown for a delivery state. */
export function stateLabel(state: MessageState): string {
  return STATE_LABELS[state] ?? state;
}

/** A one-line text for a failed request, whatever shape the error came in. */
export function describeError(error: unknown): string {
  if (isApiError(error)) {
    return `${error.message} (${error.kind})`;
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

function isApiError(value: unknown): value is ApiError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ApiError).kind === "string" &&
    typeof (value as ApiError).message === "string"
  );
}
