// The record button's state machine, as the voice-note apps behave: hold
// to record, release to send, drag away or Esc to cancel, lock for long
// notes (then a Send button ends it). Pure: inputs in, state and the one
// effect to carry out (start, send, cancel) out.

import type { RecorderUpdate } from "./bindings";

export type Phase =
  /** Nothing recording. */
  | "idle"
  /** Waiting for the shell to confirm the start. */
  | "starting"
  /** Recording while the button (or key) is held. */
  | "holding"
  /** Recording with the lock on: releasing does not send. */
  | "locked"
  /** Recording started by the global hotkey. */
  | "hotkey";

export interface RecorderState {
  phase: Phase;
  elapsedMs: number;
  /** Input level 0..1 for the meter. */
  level: number;
  /** The last device failure, kept until the next recording. */
  problem: string | null;
}

export type Input =
  | { type: "press" }
  | { type: "release" }
  | { type: "leave" }
  | { type: "lock" }
  | { type: "escape" }
  | { type: "send" }
  | { type: "start_failed" }
  | { type: "shell"; update: RecorderUpdate };

export type Effect = "start" | "send" | "cancel" | null;

export const idleRecorder: RecorderState = { phase: "idle", elapsedMs: 0, level: 0, problem: null };

/** Whether the recorder is taking sound now. */
export function isRecording(state: RecorderState): boolean {
  return state.phase !== "idle";
}

/** The next state and the effect of one input. */
export function step(state: RecorderState, input: Input): [RecorderState, Effect] {
  const { phase } = state;
  switch (input.type) {
    case "press":
      return phase === "idle"
        ? [{ ...idleRecorder, phase: "starting" }, "start"]
        : [state, null];
    case "release":
      return phase === "holding" || phase === "starting" ? [idleRecorder, "send"] : [state, null];
    case "leave":
      return phase === "holding" || phase === "starting" ? [idleRecorder, "cancel"] : [state, null];
    case "lock":
      return phase === "holding" ? [{ ...state, phase: "locked" }, null] : [state, null];
    case "send":
      return phase === "locked" ? [idleRecorder, "send"] : [state, null];
    case "escape":
      return isRecording(state) ? [idleRecorder, "cancel"] : [state, null];
    case "start_failed":
      return [idleRecorder, null];
    case "shell":
      return [fromShell(state, input.update), null];
    default:
      return [state, null];
  }
}

function fromShell(state: RecorderState, update: RecorderUpdate): RecorderState {
  switch (update.type) {
    case "started":
      // The hotkey started it when the window did not ask.
      if (state.phase === "idle") {
        return { ...idleRecorder, phase: "hotkey" };
      }
      return state.phase === "starting" ? { ...state, phase: "holding" } : state;
    case "level":
      return isRecording(state)
        ? { ...state, level: update.level, elapsedMs: update.elapsed_ms }
        : state;
    case "ended":
      return { ...idleRecorder, problem: state.problem };
    case "failed":
      return { ...state, problem: update.message };
    default:
      return state;
  }
}
