// The window: loads who this node is, its peers and its inbox through the
// shell's Tauri commands, then keeps them current from `hark://event`.
// Names and other text come from the network, so everything is written with
// textContent, never as HTML.

import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";

import {
  applyEvent,
  counterpart,
  describeError,
  emptyState,
  formatDuration,
  formatTime,
  shortId,
  sortMessages,
  sortPeers,
  stateLabel,
  type HarkEvent,
  type MessageSummary,
  type PeerInfo,
  type State,
  type WhoAmI,
} from "./model";

/** The node's live events. */
const EVENT = "hark://event";
/** Sent by the shell when it dropped events: reload everything. */
const RESYNC = "hark://resync";

let state: State = emptyState;
/** Events that arrived while a load was under way, replayed after it. */
let pending: HarkEvent[] | null = null;

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) {
    throw new Error(`index.html lacks #${id}`);
  }
  return element as T;
}

function el(tag: string, className: string, text = ""): HTMLElement {
  const element = document.createElement(tag);
  element.className = className;
  element.textContent = text;
  return element;
}

function renderMe(me: WhoAmI | null): void {
  byId("me-name").textContent = me?.display_name ?? "…";

  const id = byId("me-id");
  id.textContent = me ? shortId(me.peer_id) : "…";
  id.title = me?.peer_id ?? "";

  byId("me-safety").textContent = me?.safety_number ?? "…";
}

function peerItem(peer: PeerInfo): HTMLElement {
  const item = el("li", "peer");
  const status = peer.online ? "online" : "offline";

  const dot = el("span", `dot ${status}`);
  dot.setAttribute("role", "img");
  dot.setAttribute("aria-label", status);

  const name = el("span", "name", peer.display_name || shortId(peer.peer_id));
  name.title = peer.peer_id;

  const safety = el("code", "safety", peer.safety_number);
  safety.setAttribute("aria-label", `safety number ${peer.safety_number}`);

  item.append(dot, name, safety);
  return item;
}

function messageItem(message: MessageSummary, now: number): HTMLElement {
  const item = el("li", `message ${message.direction}`);
  const arrow = el("span", "direction", message.direction === "incoming" ? "↓" : "↑");
  arrow.setAttribute("aria-hidden", "true");

  const time = el("time", "time", formatTime(message.created_at_ms, now));
  time.setAttribute("datetime", new Date(message.created_at_ms).toISOString());

  item.append(
    arrow,
    el("span", "who", counterpart(state, message)),
    time,
    el("span", "duration", formatDuration(message.duration_ms)),
    el("span", `state ${message.state}`, stateLabel(message.state)),
  );
  return item;
}

function renderList(listId: string, emptyId: string, items: HTMLElement[]): void {
  byId(listId).replaceChildren(...items);
  byId(emptyId).hidden = items.length > 0;
}

function render(): void {
  const now = Date.now();
  renderMe(state.me);
  renderList("peers", "peers-empty", sortPeers(state.peers).map(peerItem));
  renderList(
    "messages",
    "messages-empty",
    sortMessages(state.messages).map((m) => messageItem(m, now)),
  );
}

function showError(error: unknown): void {
  const box = byId("error");
  box.textContent = error === null ? "" : describeError(error);
  box.hidden = error === null;
}

function onEvent(event: HarkEvent): void {
  if (pending !== null) {
    pending.push(event);
    return;
  }
  state = applyEvent(state, event);
  render();
}

async function load(): Promise<void> {
  pending = [];
  try {
    const [me, peers, messages] = await Promise.all([
      invoke<WhoAmI>("whoami"),
      invoke<PeerInfo[]>("peers"),
      invoke<MessageSummary[]>("inbox"),
    ]);
    state = { me, peers, messages };
    showError(null);
  } catch (error) {
    showError(error);
  }

  // Replaying may repeat a change the snapshot already holds; upserts make
  // that harmless. An event sent before the snapshot but delivered after it
  // could briefly show an older message state until the next event.
  const replay = pending;
  pending = null;
  state = replay.reduce(applyEvent, state);
  render();
}

async function start(): Promise<void> {
  render();

  // Listen before loading so no event falls between the load and the listen.
  await listen<HarkEvent>(EVENT, (event) => onEvent(event.payload));
  await listen(RESYNC, () => void load());

  await load();
}

start().catch(showError);
