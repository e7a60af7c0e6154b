import { describe, expect, it } from "vitest";

import {
  applyEvent,
  counterpart,
  describeError,
  emptyState,
  formatDuration,
  formatTime,
  nameOf,
  shortId,
  sortMessages,
  sortPeers,
  stateLabel,
  type MessageSummary,
  type PeerInfo,
  type State,
} from "./model";

const ALICE = "12D3KooWAliceAliceAliceAliceAliceAliceAlice01";
const BOB = "12D3KooWBobBobBobBobBobBobBobBobBobBobBobBob02";
const CAROL = "12D3KooWCarolCarolCarolCarolCarolCarolCarol03";

function peer(peer_id: string, display_name: string, online: boolean): PeerInfo {
  return { peer_id, display_name, online, safety_number: "12345 67890", last_seen_ms: 0 };
}

function message(id: string, created_at_ms: number, extra: Partial<MessageSummary> = {}): MessageSummary {
  return {
    id,
    direction: "incoming",
    from: BOB,
    from_name: "Bob",
    to: [ALICE],
    created_at_ms,
    duration_ms: 1000,
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

describe("sortPeers", () => {
  // Online peers come first, then alphabetical by name.
  it("puts online peers first, then by name", () => {
    const sorted = sortPeers([
      peer(CAROL, "Carol", false),
      peer(BOB, "Bob", true),
      peer(ALICE, "Alice", false),
    ]);
    expect(sorted.map((p) => p.display_name)).toEqual(["Bob", "Alice", "Carol"]);
  });
});

describe("sortMessages", () => {
  // Newest first; two messages made in the same millisecond order by id.
  it("puts the newest first and breaks ties by id", () => {
    const sorted = sortMessages([message("b", 10), message("c", 30), message("a", 10)]);
    expect(sorted.map((m) => m.id)).toEqual(["c", "a", "b"]);
  });
});

describe("applyEvent", () => {
  // A peer coming online for the first time is added.
  it("adds a new peer", () => {
    const next = applyEvent(emptyState, { type: "peer_online", peer: peer(BOB, "Bob", true) });
    expect(next.peers).toEqual([peer(BOB, "Bob", true)]);
  });

  // A known peer coming online again is replaced, not duplicated.
  it("replaces a known peer", () => {
    const state = { ...emptyState, peers: [peer(BOB, "Bob", false)] };
    const next = applyEvent(state, { type: "peer_online", peer: peer(BOB, "Robert", true) });
    expect(next.peers).toEqual([peer(BOB, "Robert", true)]);
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

  // An event kind from a newer node leaves the state as it was.
  it("ignores unknown events", () => {
    const unknown = { type: "typing", peer_id: BOB } as unknown as Parameters<typeof applyEvent>[1];
    expect(applyEvent(emptyState, unknown)).toBe(emptyState);
  });
});

describe("names", () => {
  const state: State = { me, peers: [peer(BOB, "Bob", true)], messages: [] };

  // Known peers by name, unknown ones by short id, this node as "me".
  it("names peers", () => {
    expect([nameOf(state, BOB), nameOf(state, CAROL), nameOf(state, ALICE)]).toEqual([
      "Bob",
      "…lCarol03",
      "me",
    ]);
  });

  // Outgoing lines list the recipients other than this node.
  it("describes outgoing messages by recipient", () => {
    const out = message("m", 0, { direction: "outgoing", from: ALICE, to: [BOB, CAROL, ALICE] });
    expect(counterpart(state, out)).toBe("To Bob, …lCarol03");
  });

  // Incoming lines use the sender's name from the message.
  it("describes incoming messages by sender", () => {
    expect(counterpart(state, message("m", 0))).toBe("From Bob");
  });
});

describe("labels and errors", () => {
  // Every delivery state has its own words.
  it("labels states", () => {
    expect(stateLabel("receiving")).toBe("Receiving…");
    expect(stateLabel("delivered")).toBe("Delivered");
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
