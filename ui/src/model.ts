// The window's data and the pure functions that shape it: no DOM, no Tauri,
// so every rule here runs under Vitest. The types come from the bindings
// generated from Rust (bindings.ts), never written by hand.

import type {
  ApiError,
  ChannelInfo,
  Me,
  Message,
  MessageState,
  NodeEvent,
  Peer,
  ReadMarks,
} from "./bindings";

export type { ApiError, ChannelInfo, Me, Message, MessageState, NodeEvent, Peer, ReadMarks };

/** Everything the window shows from the node. */
export interface State {
  me: Me | null;
  peers: Peer[];
  messages: Message[];
  channels: ChannelInfo[];
  /** Newest message time seen, per conversation (its key). */
  marks: Record<string, number>;
}

export const emptyState: State = { me: null, peers: [], messages: [], channels: [], marks: {} };

/**
 * A conversation is keyed by the peer id of the one person it is with, or
 * by "#" and the channel id for a channel (what the node takes as a
 * recipient, and unique where channel names may repeat).
 */
export function channelKey(channelId: string): string {
  return `#${channelId}`;
}

/** The channel id of a channel conversation's key, else null. */
export function channelIdOf(key: string): string | null {
  return key.startsWith("#") ? key.slice(1) : null;
}

/** The channel a conversation key stands for, if this node is in it. */
export function channelOf(state: State, key: string): ChannelInfo | undefined {
  const id = channelIdOf(key);
  return id === null ? undefined : state.channels.find((c) => c.id === id);
}

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
export function sortPeers(peers: readonly Peer[]): Peer[] {
  return [...peers].sort(
    (a, b) =>
      Number(b.online) - Number(a.online) ||
      a.display_name.localeCompare(b.display_name) ||
      compareText(a.peer_id, b.peer_id),
  );
}

/** Messages in reading order: oldest first, as chat apps show them. */
export function sortMessages(messages: readonly Message[]): Message[] {
  return [...messages].sort(
    (a, b) => a.created_at_ms - b.created_at_ms || compareText(a.id, b.id),
  );
}

function compareText(a: string, b: string): number {
  if (a === b) {
    return 0;
  }
  return a < b ? -1 : 1;
}

/** The state after one live event; the input state is left untouched. */
export function applyEvent(state: State, event: NodeEvent): State {
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
    case "channel_changed":
      return {
        ...state,
        channels: upsert(state.channels, event.channel, (c) => c.id),
      };
    case "message_removed":
      return {
        ...state,
        messages: state.messages.filter((m) => m.id !== event.id),
      };
    default:
      // A newer shell may send kinds this window does not know: ignore them.
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
  if (channelIdOf(peerId) !== null) {
    return `# ${channelOf(state, peerId)?.name ?? "left channel"}`;
  }
  if (state.me?.peer_id === peerId) {
    return "me";
  }
  const peer = state.peers.find((p) => p.peer_id === peerId);
  return peer?.display_name || shortId(peerId);
}

/** The sender's name as the list shows it: "You" for this node. */
export function senderName(state: State, message: Message): string {
  if (message.direction === "outgoing") {
    return "You";
  }
  return message.from_name || nameOf(state, message.from);
}

/**
 * The conversations a message belongs to: its channel's, or those with
 * each peer it is between, this node left out.
 */
export function partiesOf(state: State, message: Message): string[] {
  const channelId = message.channel_id ?? null;
  if (channelId !== null) {
    return [channelKey(channelId)];
  }
  const me = state.me?.peer_id;
  const ids = message.direction === "incoming" ? [message.from] : message.to;
  return ids.filter((id) => id !== me);
}

/** The messages of the conversation with `peerId`, in reading order. */
export function conversation(state: State, peerId: string): Message[] {
  return sortMessages(state.messages.filter((m) => partiesOf(state, m).includes(peerId)));
}

/** One line of the conversation list. */
export interface ConversationSummary {
  peerId: string;
  name: string;
  online: boolean;
  unread: number;
  lastAt: number;
}

/** Incoming, complete messages newer than the conversation's read mark. */
export function unreadCount(state: State, key: string): number {
  const mark = state.marks[key] ?? 0;
  return state.messages.filter(
    (m) =>
      m.direction === "incoming" &&
      m.state === "received" &&
      partiesOf(state, m).includes(key) &&
      m.created_at_ms > mark,
  ).length;
}

/** The newest message time per conversation key. */
function latestPerConversation(state: State): Map<string, number> {
  const latest = new Map<string, number>();
  for (const message of state.messages) {
    for (const key of partiesOf(state, message)) {
      latest.set(key, Math.max(latest.get(key) ?? 0, message.created_at_ms));
    }
  }
  return latest;
}

/**
 * Conversations with at least one message, the most recent first: with
 * people, and with channels this node has left (whose messages stay);
 * channels it is in are listed on their own (`channelList`).
 */
export function conversations(state: State): ConversationSummary[] {
  const latest = latestPerConversation(state);
  return [...latest.entries()]
    .filter(([key]) => channelIdOf(key) === null || channelOf(state, key) === undefined)
    .map(([peerId, lastAt]) => ({
      peerId,
      name: nameOf(state, peerId),
      online: state.peers.some((p) => p.peer_id === peerId && p.online),
      unread: unreadCount(state, peerId),
      lastAt,
    }))
    .sort((a, b) => b.lastAt - a.lastAt || compareText(a.peerId, b.peerId));
}

/** One line of the channel list. */
export interface ChannelSummary {
  key: string;
  channel: ChannelInfo;
  /** Members known here who are online now. */
  online: number;
  unread: number;
}

/** The channels this node is in, by name. */
export function channelList(state: State): ChannelSummary[] {
  const online = new Set(state.peers.filter((p) => p.online).map((p) => p.peer_id));
  return [...state.channels]
    .sort((a, b) => a.name.localeCompare(b.name) || compareText(a.id, b.id))
    .map((channel) => ({
      key: channelKey(channel.id),
      channel,
      online: channel.members.filter((m) => online.has(m)).length,
      unread: unreadCount(state, channelKey(channel.id)),
    }));
}

/** The newest creation time in a conversation, for its read mark. */
export function newestAt(messages: readonly Message[]): number {
  return messages.reduce((max, m) => Math.max(max, m.created_at_ms), 0);
}

const STATE_LABELS: Record<MessageState, string> = {
  queued: "Queued",
  sent: "Sent",
  delivered: "Delivered",
  heard: "Heard",
  receiving: "Receiving…",
  received: "Received",
};

/** The words shown for a delivery state. */
export function stateLabel(state: MessageState): string {
  return STATE_LABELS[state] ?? state;
}

/**
 * What a screen reader says for a message: sender, length, position,
 * state, as WhatsApp and Signal read their voice notes.
 */
export function messageLabel(
  state: State,
  message: Message,
  positionMs: number,
  nowMs: number,
): string {
  const parts = [
    `Voice message from ${senderName(state, message)}`,
    formatDuration(message.duration_ms),
  ];
  if (positionMs > 0) {
    parts.push(`at ${formatDuration(positionMs)}`);
  }
  parts.push(formatTime(message.created_at_ms, nowMs), stateLabel(message.state));
  return parts.join(", ");
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

export function isApiError(value: unknown): value is ApiError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ApiError).kind === "string" &&
    typeof (value as ApiError).message === "string"
  );
}
