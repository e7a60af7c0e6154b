import { describe, expect, it } from "vitest";

import { idlePlayer, nextSpeed, onUpdate, positionOf, speedLabel, started } from "./player";

describe("player", () => {
  // Speeds cycle 1x → 1.5x → 2x → 1x.
  it("cycles speeds", () => {
    expect([nextSpeed(1), nextSpeed(1.5), nextSpeed(2)]).toEqual([1.5, 2, 1]);
    expect(speedLabel(1.5)).toBe("1.5×");
  });

  // Position updates move the playing message; the end rewinds it and stops.
  it("follows position and end", () => {
    let p = started(idlePlayer, "a", 0);
    p = onUpdate(p, "a", { type: "position", position_ms: 1200, duration_ms: 3000 });
    expect([p.playing, positionOf(p, "a")]).toEqual([true, 1200]);
    p = onUpdate(p, "a", { type: "ended" });
    expect([p.playing, positionOf(p, "a")]).toEqual([false, 0]);
  });

  // A pause keeps the position so play resumes there.
  it("keeps the position on stop", () => {
    const p = onUpdate(started(idlePlayer, "a", 0), "a", { type: "stopped", position_ms: 800 });
    expect([p.playing, positionOf(p, "a")]).toEqual([false, 800]);
  });

  // Late updates from a replaced message do not stop the new one.
  it("ignores the old message's stop after switching", () => {
    let p = started(idlePlayer, "a", 0);
    p = started(p, "b", 0);
    p = onUpdate(p, "a", { type: "stopped", position_ms: 500 });
    expect([p.id, p.playing, positionOf(p, "a")]).toEqual(["b", true, 500]);
  });
});
