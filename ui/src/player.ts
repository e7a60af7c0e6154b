// The player's state as the window sees it: which message plays, where,
// how fast. Pure: the shell's PlaybackUpdate messages come in, a new
// state goes out.

import type { PlaybackUpdate } from "./bindings";

/** The speeds offered, as Signal and WhatsApp offer them. */
export const SPEEDS = [1, 1.5, 2] as const;
export type Speed = (typeof SPEEDS)[number];

export interface PlayerState {
  /** The message playing or paused last, if any. */
  id: string | null;
  playing: boolean;
  speed: Speed;
  /** Where each message was left, in ms, so play resumes there. */
  positions: Record<string, number>;
}

export const idlePlayer: PlayerState = { id: null, playing: false, speed: 1, positions: {} };

/** The next speed in the 1x → 1.5x → 2x → 1x cycle. */
export function nextSpeed(speed: Speed): Speed {
  const index = SPEEDS.indexOf(speed);
  return SPEEDS[(index + 1) % SPEEDS.length] ?? 1;
}

/** How a speed is written on its button. */
export function speedLabel(speed: Speed): string {
  return `${speed}×`;
}

/** The position to show for message `id`. */
export function positionOf(player: PlayerState, id: string): number {
  return player.positions[id] ?? 0;
}

/** The state once message `id` starts playing from `fromMs`. */
export function started(player: PlayerState, id: string, fromMs: number): PlayerState {
  return {
    ...player,
    id,
    playing: true,
    positions: { ...player.positions, [id]: fromMs },
  };
}

/** The state after an update about message `id` from the shell. */
export function onUpdate(player: PlayerState, id: string, update: PlaybackUpdate): PlayerState {
  // Updates from a message that has been replaced must not move the new one.
  const current = player.id === id;
  switch (update.type) {
    case "position":
      return at(player, id, update.position_ms, current && player.playing);
    case "stopped":
      return at(player, id, update.position_ms, false);
    case "ended":
      // Back to the start, as voice-note players do after the end.
      return at(player, id, 0, false);
    case "failed":
      return at(player, id, positionOf(player, id), false);
    default:
      return player;
  }
}

function at(player: PlayerState, id: string, ms: number, playing: boolean): PlayerState {
  const current = player.id === id;
  return {
    ...player,
    playing: current ? playing : player.playing,
    positions: { ...player.positions, [id]: ms },
  };
}
