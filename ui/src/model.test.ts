import { describe, expect, it } from "vitest";

import {
  applyEvent,
  channelKey,
  channelList,
  conversation,
  conversations,
  describeError,
  emptyState,
  formatDuration,
  formatTime,
  messageLabel,
  nameOf,
  senderName,
  shortId,
  sortMessages,
  sortPeers,
  stateLabel,
  unreadCount,
  type Message,
  type Peer,
  type State,
} from "./model";

const ALICE = "12D3KooWAliceAliceAliceAliceAliceAliceAlice01";
const BOB = "12D3KooWBobBobBobBobBobBobBobBobBobBobBobBob02";
const CAROL = "12D3KooWCarolCarolCarolCarolCarolCarolCarol03";

export function peer(peer_id: string, display_name: string, online: boolean): Peer {
  return { peer_id, display_name, online, safety_number: "12345 67890", last_seen_ms: 0 };
}

export function message(id: string, created_at_ms: number, extra: Partial<Message> = {}): Message {
  return {
    id,
    direction: "incoming",
    from: BOB,
    from_name: "Bob",
    to: [ALICE],
    to_names: ["Alice"],
    channel: null,
    channel_id: null,
    created_at_ms,
    duration_ms: 5000,
    state: "received",
    ...extra,
  };
}

const me: State["me"] = {
  peer_id: ALICE,
  display_name: "Alice",
  safety_number: "11111 22222",
  listen_addrs: [],
  data_dir: "/tmp/a",
  carrying: 0,
  carrying_bytes: 0,
};

describe("shortId", () => {
  // The tail tells peers apart; the common "12D3KooW" prefix would not.
  it("keeps the last eight characters", () => {
    expect(shortId(ALICE)).toBe("…eAlice01");
  });

  // An id already short is shown whole, without an ellipsis.
  it("leaves short ids alone", () => {
    expect(shortId("abc")).toBe("abc");
  });
});

describe("formatDuration", () => {
  // Under a minute, a minute and more, an hour and more, and rounding down.
  it.each([
    [0, "0:00"],
    [7_900, "0:07"],
    [65_000, "1:05"],
    [3_723_000, "1:02:03"],
    [-5, "0:00"],
  ])("formats %d ms as %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe("formatTime", () => {
  const fmt = { locale: "en-GB", timeZone: "UTC" };
  const now = Date.UTC(2026, 11, 3, 18, 0);

  // A message from earlier today shows only its clock time.
  it("shows the time alone for today", () => {
    expect(formatTime(Date.UTC(2026, 11, 3, 9, 5), now, fmt)).toBe("09:05");
  });

  // An older message also shows its day and month.
  it("adds the date for other days", () => {
    expect(formatTime(Date.UTC(2026, 11, 1, 23, 30), now, fmt)).toBe("1 Dec, 23:30");
  });
});

describe("sorting", () => {
  // Online peers come first, then alphabetical by name.
  it("puts online peers first, then by name", () => {
    const sorted = sortPeers([
      peer(CAROL, "Carol", false),
      peer(BOB, "Bob", true),
      peer(ALICE, "Alice", false),
    ]);
    expect(sorted.map((p) => p.display_name)).toEqual(["Bob", "Alice", "Carol"]);
  });

  // Reading order: oldest first; same-millisecond messages order by id.
  it("puts messages oldest first and breaks ties by id", () => {
    const sorted = sortMessages([message("b", 10), message("c", 30), message("a", 10)]);
    expect(sorted.map((m) => m.id)).toEqual(["a", "b", "c"]);
  });
});

describe("applyEvent", () => {
  // A peer coming online for the first time is added, then replaced, not duplicated.
  it("adds and replaces peers", () => {
    const added = applyEvent(emptyState, { type: "peer_online", peer: peer(BOB, "Bob", true) });
    const renamed = applyEvent(added, { type: "peer_online", peer: peer(BOB, "Robert", true) });
    expect(renamed.peers).toEqual([peer(BOB, "Robert", true)]);
  });

  // Going offline keeps the peer but clears its online flag; others are untouched.
  it("marks a peer offline", () => {
    const state = { ...emptyState, peers: [peer(BOB, "Bob", true), peer(CAROL, "Carol", true)] };
    const next = applyEvent(state, { type: "peer_offline", peer_id: BOB });
    expect(next.peers.map((p) => p.online)).toEqual([false, true]);
    expect(state.peers[0]?.online).toBe(true);
  });

  // A message changing state replaces its earlier summary.
  it("updates a message in place", () => {
    const state = { ...emptyState, messages: [message("m1", 5, { state: "receiving" })] };
    const next = applyEvent(state, { type: "message", message: message("m1", 5) });
    expect(next.messages.map((m) => m.state)).toEqual(["received"]);
  });

  // A cancelled live message leaves the list; the others stay.
  it("removes a cancelled message", () => {
    const state = {
      ...emptyState,
      messages: [message("m1", 5, { state: "receiving" }), message("m2", 6)],
    };
    const next = applyEvent(state, { type: "message_removed", id: "m1" });
    expect(next.messages.map((m) => m.id)).toEqual(["m2"]);
  });

  // Problems and unknown kinds leave the lists as they were.
  it("ignores events that are not list changes", () => {
    const problem = applyEvent(emptyState, { type: "problem", kind: "storage", message: "full" });
    expect(problem).toBe(emptyState);
  });
});

describe("conversations", () => {
  const state: State = {
    me,
    peers: [peer(BOB, "Bob", true), peer(CAROL, "Carol", false)],
    messages: [
      message("b1", 100),
      message("b2", 300),
      message("c1", 200, { direction: "outgoing", from: ALICE, to: [CAROL] }),
      message("b3", 400, { state: "receiving" }),
    ],
    channels: [],
    marks: { [BOB]: 100 },
  };

  // Each peer's conversation holds the messages to and from them, oldest first.
  it("groups messages by peer", () => {
    expect(conversation(state, BOB).map((m) => m.id)).toEqual(["b1", "b2", "b3"]);
    expect(conversation(state, CAROL).map((m) => m.id)).toEqual(["c1"]);
  });

  // Unread: complete incoming messages after the read mark (not ones still arriving, not our own).
  it("counts unread messages", () => {
    expect(unreadCount(state, BOB)).toBe(1);
    expect(unreadCount(state, CAROL)).toBe(0);
  });

  // The list is newest conversation first, with names, presence and counts.
  it("lists conversations", () => {
    expect(conversations(state)).toEqual([
      { peerId: BOB, name: "Bob", online: true, unread: 1, lastAt: 400 },
      { peerId: CAROL, name: "Carol", online: false, unread: 0, lastAt: 200 },
    ]);
  });
});

describe("channels", () => {
  const TEAM = "00112233445566778899aabbccddeeff";
  const team = {
    id: TEAM,
    name: "team",
    invite: "hark-channel:X",
    muted: false,
    members: [BOB, CAROL],
  };
  const inTeam = { channel: "team", channel_id: TEAM, to: [] };
  const state: State = {
    me,
    peers: [peer(BOB, "Bob", true), peer(CAROL, "Carol", false)],
    messages: [
      message("d1", 100),
      message("t1", 200, inTeam),
      message("t2", 300, { ...inTeam, direction: "outgoing", from: ALICE }),
      message("t3", 400, inTeam),
    ],
    channels: [team, { ...team, id: "ff", name: "all hands", members: [] }],
    marks: { [channelKey(TEAM)]: 200 },
  };

  // A channel message belongs to the channel's conversation, not to its sender's.
  it("groups channel messages under the channel", () => {
    expect(conversation(state, channelKey(TEAM)).map((m) => m.id)).toEqual(["t1", "t2", "t3"]);
    expect(conversation(state, BOB).map((m) => m.id)).toEqual(["d1"]);
  });

  // Channels are listed on their own, by name, with who is online and what is unread.
  it("lists channels apart from conversations", () => {
    expect(conversations(state).map((c) => c.peerId)).toEqual([BOB]);
    const list = channelList(state);
    expect(list.map((c) => [c.channel.name, c.online, c.unread])).toEqual([
      ["all hands", 0, 0],
      ["team", 1, 1],
    ]);
    expect(nameOf(state, channelKey(TEAM))).toBe("# team");
  });

  // A new member found updates the channel in place.
  it("takes channel changes", () => {
    const next = applyEvent(state, {
      type: "channel_changed",
      channel: { ...team, members: [BOB, CAROL, ALICE] },
    });
    expect(next.channels.map((c) => c.members.length)).toEqual([3, 0]);
  });

  // A channel this node left keeps its messages, listed with the
  // conversations under a plain label.
  it("keeps a left channel's messages listed", () => {
    const left = { ...state, channels: [] };
    expect(nameOf(left, channelKey(TEAM))).toBe("# left channel");
    expect(conversations(left).map((c) => c.peerId)).toEqual([channelKey(TEAM), BOB]);
  });
});

describe("names and labels", () => {
  const state: State = { ...emptyState, me, peers: [peer(BOB, "Bob", true)] };

  // Known peers by name, unknown ones by short id, this node as "me".
  it("names peers", () => {
    expect([nameOf(state, BOB), nameOf(state, CAROL), nameOf(state, ALICE)]).toEqual([
      "Bob",
      "…lCarol03",
      "me",
    ]);
  });

  // Our own messages are "You"; others by their sender's name.
  it("names senders", () => {
    expect(senderName(state, message("m", 0))).toBe("Bob");
    expect(senderName(state, message("m", 0, { direction: "outgoing" }))).toBe("You");
  });

  // A screen reader hears sender, length, position and state.
  it("labels a message for screen readers", () => {
    const at = Date.now();
    const label = messageLabel(state, message("m", at), 2_000, at);
    expect(label).toMatch(/^Voice message from Bob, 0:05, at 0:02, .+, Received$/);
  });

  // Every delivery state has its own words.
  it("labels states", () => {
    expect(stateLabel("receiving")).toBe("Receiving…");
    expect(stateLabel("heard")).toBe("Heard");
  });

  // The shell's {kind, message} errors, JS errors and bare strings all read well.
  it("describes errors", () => {
    expect(describeError({ kind: "unavailable", message: "node stopped" })).toBe(
      "node stopped (unavailable)",
    );
    expect(describeError(new Error("boom"))).toBe("boom");
    expect(describeError("no window")).toBe("no window");
  });
});
