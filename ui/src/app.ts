// The window's controller: holds everything shown, calls the shell's typed
// commands, listens to its events and channels, and tells the view when to
// draw. No DOM here, so Vitest drives it with the bindings mocked.

import { Channel } from "@tauri-apps/api/core";

import { ok, type Settings } from "./api";
import {
  commands,
  events,
  type HotkeyStatus,
  type Devices,
  type NodeEvent,
  type PlaybackUpdate,
  type RecorderUpdate,
} from "./bindings";
import {
  applyEvent,
  channelKey,
  conversation,
  describeError,
  emptyState,
  newestAt,
  type State,
} from "./model";
import {
  idlePlayer,
  nextSpeed,
  onUpdate,
  positionOf,
  started,
  type PlayerState,
} from "./player";
import { idleRecorder, step, type Input, type RecorderState } from "./recorder";

/** How long a notice that is not an error stays, in ms. */
const NOTICE_MS = 4000;

/** Waveform bars drawn per message. */
export const WAVEFORM_BARS = 48;

export interface Ui {
  state: State;
  /** The conversation open: a peer id, or "#" and a channel id. */
  selected: string | null;
  player: PlayerState;
  recorder: RecorderState;
  settings: Settings | null;
  devices: Devices;
  hotkey: HotkeyStatus | null;
  /** Waveform peaks per message id, once loaded. */
  waveforms: Record<string, number[]>;
  /** A line for the status bar: last error or notice. */
  notice: { text: string; error: boolean } | null;
  /** True while the first-start name prompt is needed. */
  needsName: boolean;
}

export class App {
  ui: Ui = {
    state: emptyState,
    selected: null,
    player: idlePlayer,
    recorder: idleRecorder,
    settings: null,
    devices: { inputs: [], outputs: [] },
    hotkey: null,
    waveforms: {},
    notice: null,
    needsName: false,
  };

  private listeners: Array<() => void> = [];
  /** Bumped by every play: updates from an older playback are stale. */
  private playback = 0;
  /** The message length each loaded waveform was drawn for. */
  private waveformLengths = new Map<string, number>();
  /** Events that arrived while a load was under way, replayed after it. */
  private pending: NodeEvent[] | null = null;

  /** Calls `listener` after every change. */
  subscribe(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) {
      listener();
    }
  }

  private set(patch: Partial<Ui>): void {
    this.ui = { ...this.ui, ...patch };
    this.changed();
    if (patch.notice && !patch.notice.error) {
      this.fadeNotice(patch.notice);
    }
  }

  /** Good news goes away by itself after a few seconds; errors stay. */
  private fadeNotice(notice: Ui["notice"]): void {
    setTimeout(() => {
      if (this.ui.notice === notice) {
        this.set({ notice: null });
      }
    }, NOTICE_MS);
  }

  /** Shows good news in the status line for a few seconds. */
  notify(text: string): void {
    this.set({ notice: { text, error: false } });
  }

  /** Shows a failure in the status line. */
  fail(error: unknown): void {
    this.set({ notice: { text: describeError(error), error: true } });
  }

  /** Listens to the shell, then loads everything. */
  async start(): Promise<void> {
    // Listen before loading so no event falls between the load and the listen.
    await events.nodeEvent.listen((e) => this.onNodeEvent(e.payload));
    await events.resync.listen(() => void this.load());
    await events.notice.listen((e) =>
      this.set({ notice: { text: e.payload.text, error: e.payload.error } }),
    );
    await events.settingsChanged.listen(() => void this.loadSettings());
    await commands.watchRecorder(new Channel<RecorderUpdate>((u) => this.onRecorder(u)));
    await this.loadSettings();
    await this.load();
  }

  async loadSettings(): Promise<void> {
    const [settings, devices, hotkey] = await Promise.all([
      commands.getSettings(),
      commands.devices(),
      commands.hotkeyStatus(),
    ]);
    this.set({ settings, devices, hotkey, needsName: settings.display_name === null });
  }

  /** Reloads the node's lists. */
  async load(): Promise<void> {
    this.pending = [];
    try {
      const [me, peers, messages, channels, marks] = await Promise.all([
        ok(commands.whoami()),
        ok(commands.peers()),
        ok(commands.inbox()),
        ok(commands.channels()),
        commands.readMarks(),
      ]);
      this.ui = { ...this.ui, state: { me, peers, messages, channels, marks } };
    } catch (error) {
      this.fail(error);
    }
    // Replaying may repeat a change the snapshot already holds; upserts
    // make that harmless.
    const replay = this.pending;
    this.pending = null;
    this.ui = { ...this.ui, state: replay.reduce(applyEvent, this.ui.state) };
    this.markSelectedRead();
    this.changed();
  }

  onNodeEvent(event: NodeEvent): void {
    if (event.type === "problem") {
      this.fail({ kind: event.kind, message: event.message });
      return;
    }
    if (this.pending !== null) {
      this.pending.push(event);
      return;
    }
    this.ui = { ...this.ui, state: applyEvent(this.ui.state, event) };
    this.markSelectedRead();
    this.changed();

    if (event.type === "message" && this.ui.selected !== null) {
      const open = conversation(this.ui.state, this.ui.selected);
      if (open.some((m) => m.id === event.message.id)) {
        void this.loadWaveform(event.message.id);
      }
    }
  }

  /** Opens the conversation with `peerId`. */
  select(peerId: string): void {
    this.set({ selected: peerId });
    void commands.setActiveConversation([peerId]);
    this.markSelectedRead();
    for (const message of conversation(this.ui.state, peerId)) {
      void this.loadWaveform(message.id);
    }
  }

  /** The window became visible or hidden. */
  seen(): void {
    this.markSelectedRead();
    this.changed();
  }

  /** Moves the open conversation's read mark to its newest message. */
  private markSelectedRead(): void {
    const peerId = this.ui.selected;
    if (peerId === null || document.hidden) {
      return;
    }
    const newest = newestAt(conversation(this.ui.state, peerId));
    if (newest > (this.ui.state.marks[peerId] ?? 0)) {
      const marks = { ...this.ui.state.marks, [peerId]: newest };
      this.ui = { ...this.ui, state: { ...this.ui.state, marks } };
      commands.markRead(peerId, newest).catch((e: unknown) => this.fail(e));
    }
  }

  async loadWaveform(id: string): Promise<void> {
    const message = this.ui.state.messages.find((m) => m.id === id);
    // A message of one's own is listed while it is still being spoken;
    // its outline is drawn again whenever it has grown.
    const drawn = this.waveformLengths.get(id);
    if (!message || message.state === "receiving" || drawn === message.duration_ms) {
      return;
    }
    this.waveformLengths.set(id, message.duration_ms);
    try {
      const { peaks } = await ok(commands.waveform(id, WAVEFORM_BARS));
      this.set({ waveforms: { ...this.ui.waveforms, [id]: peaks } });
    } catch (error) {
      this.fail(error);
    }
  }

  /** Plays `id` from where it was left, or pauses it if it plays. */
  async togglePlay(id: string): Promise<void> {
    const { player } = this.ui;
    if (player.id === id && player.playing) {
      await commands.stopPlayback();
      return;
    }
    await this.playFrom(id, positionOf(player, id));
  }

  /** Moves message `id` to `ms`; keeps playing if it was playing. */
  async seek(id: string, ms: number): Promise<void> {
    const { player } = this.ui;
    if (player.id === id && player.playing) {
      await this.playFrom(id, ms);
      return;
    }
    this.set({ player: { ...player, positions: { ...player.positions, [id]: ms } } });
  }

  /** Cycles 1x → 1.5x → 2x; a playing message goes on at the new speed. */
  async cycleSpeed(): Promise<void> {
    const { player } = this.ui;
    this.set({ player: { ...player, speed: nextSpeed(player.speed) } });
    if (player.id !== null && player.playing) {
      await this.playFrom(player.id, positionOf(player, player.id));
    }
  }

  private async playFrom(id: string, fromMs: number): Promise<void> {
    const token = ++this.playback;
    const channel = new Channel<PlaybackUpdate>((u) => {
      // The playback this one replaced still reports that it stopped.
      if (token === this.playback) {
        this.set({ player: onUpdate(this.ui.player, id, u) });
      }
    });
    this.set({ player: started(this.ui.player, id, fromMs) });
    try {
      await ok(commands.play(id, fromMs, this.ui.player.speed, channel));
    } catch (error) {
      this.set({ player: { ...this.ui.player, playing: false } });
      this.fail(error);
    }
  }

  /** Feeds the record button's state machine and carries out its effect. */
  async record(input: Input): Promise<void> {
    const [next, effect] = step(this.ui.recorder, input);
    this.set({ recorder: next });
    try {
      if (effect === "start") {
        // Live from the first block: who hears it is fixed at the press.
        const to = this.ui.selected === null ? [] : [this.ui.selected];
        await ok(commands.startRecording(to));
      } else if (effect === "send") {
        const id = await ok(commands.finishRecording(true));
        if (id !== null) {
          this.set({ notice: { text: "Voice message sent", error: false } });
        }
      } else if (effect === "cancel") {
        await ok(commands.finishRecording(false));
        this.set({ notice: { text: "Recording cancelled", error: false } });
      }
    } catch (error) {
      if (effect === "start") {
        this.set({ recorder: step(this.ui.recorder, { type: "start_failed" })[0] });
      }
      this.fail(error);
    }
  }

  private onRecorder(update: RecorderUpdate): void {
    this.set({ recorder: step(this.ui.recorder, { type: "shell", update })[0] });
    if (update.type === "failed") {
      this.fail({ kind: "device", message: update.message });
    }
  }

  /** Sends an audio file chosen in the system dialog to the open conversation. */
  async sendFile(): Promise<void> {
    if (this.ui.selected === null) {
      return;
    }
    try {
      const id = await ok(commands.sendFile([this.ui.selected]));
      if (id !== null) {
        this.set({ notice: { text: "Audio file sent", error: false } });
      }
    } catch (error) {
      this.fail(error);
    }
  }

  /** Exports message `id` where the system dialog says. */
  async exportMessage(id: string): Promise<void> {
    try {
      const path = await ok(commands.exportMessage(id));
      if (path !== null) {
        this.set({ notice: { text: `Saved to ${path}`, error: false } });
      }
    } catch (error) {
      this.fail(error);
    }
  }

  /** Re-reads the channel list (members change as peers come and go). */
  async loadChannels(): Promise<void> {
    try {
      const channels = await ok(commands.channels());
      this.set({ state: { ...this.ui.state, channels } });
    } catch (error) {
      this.fail(error);
    }
  }

  /** Makes a channel and opens it; false (with the error shown) if refused. */
  async createChannel(name: string): Promise<boolean> {
    return this.enterChannel(() => commands.createChannel(name), "Channel created: invite others");
  }

  /** Joins a channel from its invite code and opens it. */
  async joinChannel(invite: string): Promise<boolean> {
    return this.enterChannel(() => commands.joinChannel(invite), "Joined the channel");
  }

  private async enterChannel(
    call: () => ReturnType<typeof commands.joinChannel>,
    done: string,
  ): Promise<boolean> {
    try {
      const channel = await ok(call());
      await this.loadChannels();
      this.select(channelKey(channel.id));
      this.set({ notice: { text: done, error: false } });
      return true;
    } catch (error) {
      this.fail(error);
      return false;
    }
  }

  /** Leaves the open channel; its messages stay listed under it. */
  async leaveChannel(id: string): Promise<void> {
    try {
      await ok(commands.leaveChannel(id));
      await this.loadChannels();
      this.set({ selected: null, notice: { text: "Left the channel", error: false } });
    } catch (error) {
      this.fail(error);
    }
  }

  /** Mutes or unmutes a channel's live messages. */
  async muteChannel(id: string, muted: boolean): Promise<void> {
    try {
      await ok(commands.muteChannel(id, muted));
      await this.loadChannels();
    } catch (error) {
      this.fail(error);
    }
  }

  /** The invite code as a QR code (SVG text), or null if it cannot be drawn. */
  async inviteQr(invite: string): Promise<string | null> {
    try {
      return await ok(commands.inviteQr(invite));
    } catch (error) {
      this.fail(error);
      return null;
    }
  }

  /** Saves settings; returns false (with the error shown) if refused. */
  async saveSettings(settings: Settings): Promise<boolean> {
    try {
      const saved = await ok(commands.saveSettings(settings));
      const [hotkey, me] = await Promise.all([commands.hotkeyStatus(), ok(commands.whoami())]);
      this.set({
        settings: saved,
        hotkey,
        needsName: saved.display_name === null,
        state: { ...this.ui.state, me },
      });
      return true;
    } catch (error) {
      this.fail(error);
      return false;
    }
  }
}
