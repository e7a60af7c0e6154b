import { describe, expect, it } from "vitest";

import { idleRecorder, step, type Input, type RecorderState } from "./recorder";

function run(inputs: Input[]): [RecorderState, (string | null)[]] {
  let state = idleRecorder;
  const effects: (string | null)[] = [];
  for (const input of inputs) {
    const [next, effect] = step(state, input);
    state = next;
    effects.push(effect);
  }
  return [state, effects];
}

const started: Input = { type: "shell", update: { type: "started" } };

describe("recorder", () => {
  // Hold, speak, release: start then send.
  it("sends on release", () => {
    const [state, effects] = run([{ type: "press" }, started, { type: "release" }]);
    expect(state.phase).toBe("idle");
    expect(effects).toEqual(["start", null, "send"]);
  });

  // Dragging away or Esc while holding cancels instead of sending.
  it("cancels on leave and on Esc", () => {
    expect(run([{ type: "press" }, started, { type: "leave" }])[1]).toEqual(["start", null, "cancel"]);
    expect(run([{ type: "press" }, started, { type: "escape" }])[1]).toEqual(["start", null, "cancel"]);
  });

  // Locked: releasing does nothing; Send sends.
  it("keeps recording when locked", () => {
    const [state, effects] = run([
      { type: "press" },
      started,
      { type: "lock" },
      { type: "release" },
      { type: "send" },
    ]);
    expect(effects).toEqual(["start", null, null, null, "send"]);
    expect(state.phase).toBe("idle");
  });

  // A second press while recording (key repeat) starts nothing new.
  it("ignores repeated presses", () => {
    expect(run([{ type: "press" }, { type: "press" }])[1]).toEqual(["start", null]);
  });

  // A recording the hotkey started shows, levels and timer included, and ends with the shell.
  it("follows hotkey recordings", () => {
    const [during] = run([started, { type: "shell", update: { type: "level", level: 0.5, elapsed_ms: 1500 } }]);
    expect([during.phase, during.level, during.elapsedMs]).toEqual(["hotkey", 0.5, 1500]);
    const [after] = run([started, { type: "shell", update: { type: "ended" } }]);
    expect(after.phase).toBe("idle");
  });

  // A device failure is kept to show, and the recording state stays until the shell ends it.
  it("keeps a device failure", () => {
    const [state] = run([
      { type: "press" },
      started,
      { type: "shell", update: { type: "failed", message: "microphone unplugged" } },
    ]);
    expect([state.phase, state.problem]).toEqual(["holding", "microphone unplugged"]);
  });
});
