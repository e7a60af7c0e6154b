// The DOM: draws the App's state and turns clicks, keys and pointer moves
// into App calls. Text from the network is written with textContent,
// never as HTML. Message rows are kept per id and updated in place, so a
// position update twenty times a second does not steal focus.

import { BITRATES, commands } from "./bindings";
import type { App, Ui } from "./app";
import {
  channelOf,
  conversation,
  conversations,
  formatDuration,
  formatTime,
  messageLabel,
  nameOf,
  senderName,
  shortId,
  sortPeers,
  stateLabel,
  type Message,
} from "./model";
import { positionOf, speedLabel } from "./player";
import { isRecording } from "./recorder";
import { ChannelsView } from "./channels";
import { byId, el } from "./dom";

export { byId };

function button(className: string, text: string, label: string, onClick: () => void): HTMLButtonElement {
  const b = el("button", className, text);
  b.type = "button";
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

/** One row of a message list, built once and updated in place. */
interface Row {
  item: HTMLLIElement;
  bubble: HTMLElement;
  play: HTMLButtonElement;
  bars: HTMLElement;
  seek: HTMLInputElement;
  time: HTMLElement;
  speed: HTMLButtonElement;
  meta: HTMLElement;
  barCount: number;
}

export class View {
  private rows = new Map<string, Row>();
  private readonly channels: ChannelsView;

  constructor(private readonly app: App) {
    this.channels = new ChannelsView(app);
  }

  /** Wires the static controls; call once. */
  bind(): void {
    const app = this.app;
    byId("send-file").addEventListener("click", () => void app.sendFile());
    byId("open-settings").addEventListener("click", () => this.openSettings());
    this.bindRecorder();
    this.bindSettings();
    this.channels.bind();
    this.bindWelcome();
    // Messages that arrived while the window was hidden count as read once
    // it is seen.
    document.addEventListener("visibilitychange", () => app.seen());
  }

  render(): void {
    const ui = this.app.ui;
    this.renderMe(ui);
    this.renderConversations(ui);
    this.channels.render(ui);
    this.renderPeople(ui);
    this.renderChat(ui);
    this.renderRecorder(ui);
    this.renderNotice(ui);
    this.renderWelcome(ui);
  }

  private renderMe(ui: Ui): void {
    const me = ui.state.me;
    byId("me-name").textContent = me?.display_name ?? "…";
    const safety = byId("me-safety");
    safety.textContent = me?.safety_number ?? "";
    safety.setAttribute("aria-label", `Your safety number ${me?.safety_number ?? ""}`);
  }

  private renderConversations(ui: Ui): void {
    const items = conversations(ui.state).map((c) => {
      const unread = c.unread > 0 ? `, ${c.unread} unread` : "";
      const b = button("entry", "", `${c.name}${unread}`, () => this.app.select(c.peerId));
      b.setAttribute("aria-current", String(ui.selected === c.peerId));
      b.dataset.peer = c.peerId;
      b.append(
        dot(c.online),
        el("span", "name", c.name),
        el("time", "when", formatTime(c.lastAt, Date.now())),
      );
      if (c.unread > 0) {
        b.append(el("span", "badge", String(c.unread)));
      }
      const li = el("li");
      li.append(b);
      return li;
    });
    fill("conversations", "conversations-empty", items);
  }

  private renderPeople(ui: Ui): void {
    const items = sortPeers(ui.state.peers).map((p) => {
      const name = p.display_name || shortId(p.peer_id);
      const status = p.online ? "online" : "offline";
      const b = button(
        "entry person",
        "",
        `${name}, ${status}, safety number ${p.safety_number}`,
        () => this.app.select(p.peer_id),
      );
      b.dataset.peer = p.peer_id;
      b.title = p.peer_id;
      const text = el("span", "person-text");
      text.append(el("span", "name", name), el("code", "safety", p.safety_number));
      b.append(dot(p.online), text);
      const li = el("li");
      li.append(b);
      return li;
    });
    fill("people", "people-empty", items);
  }

  private renderChat(ui: Ui): void {
    const peer = ui.state.peers.find((p) => p.peer_id === ui.selected);
    const open = ui.selected !== null;
    byId("chat-title").textContent = open
      ? (peer?.display_name ?? nameOf(ui.state, ui.selected ?? ""))
      : "Choose someone to talk to";
    byId("chat-safety").textContent = peer
      ? `Safety number ${peer.safety_number}`
      : channelLine(ui);
    byId("send-file").hidden = !open;
    byId("composer").hidden = !open;

    const messages = open ? conversation(ui.state, ui.selected ?? "") : [];
    const list = byId("messages");
    const rows = messages.map((m) => this.row(m, ui).item);
    if (!sameChildren(list, rows)) {
      const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
      list.replaceChildren(...rows);
      if (atBottom) {
        list.scrollTop = list.scrollHeight;
      }
    }
    byId("messages-empty").hidden = !open || messages.length > 0;
  }

  private row(message: Message, ui: Ui): Row {
    let row = this.rows.get(message.id);
    if (!row) {
      row = this.buildRow(message);
      this.rows.set(message.id, row);
    }
    this.updateRow(row, message, ui);
    return row;
  }

  private buildRow(message: Message): Row {
    const app = this.app;
    const item = el("li", `message ${message.direction}`);
    item.dataset.id = message.id;
    const bubble = el("div", "bubble");
    bubble.setAttribute("role", "group");

    const play = button("play", "▶", "Play", () => void app.togglePlay(message.id));
    const wave = el("div", "wave");
    const bars = el("div", "bars");
    bars.setAttribute("aria-hidden", "true");
    const seek = el("input", "seek");
    seek.type = "range";
    seek.min = "0";
    seek.step = "100";
    seek.setAttribute("aria-label", "Position");
    seek.addEventListener("change", () => void app.seek(message.id, Number(seek.value)));
    wave.append(bars, seek);

    const time = el("span", "time");
    const speed = button("speed", "1×", "Playback speed", () => void app.cycleSpeed());
    const save = button("export", "⤓", "Export this message", () => void app.exportMessage(message.id));
    const meta = el("div", "meta");
    bubble.append(play, wave, time, speed, save, meta);
    item.append(bubble);
    return { item, bubble, play, bars, seek, time, speed, meta, barCount: 0 };
  }

  private updateRow(row: Row, message: Message, ui: Ui): void {
    const now = Date.now();
    const playing = ui.player.id === message.id && ui.player.playing;
    const position = positionOf(ui.player, message.id);
    const ready = message.state !== "receiving";

    row.bubble.setAttribute("aria-label", messageLabel(ui.state, message, position, now));
    row.play.textContent = playing ? "❚❚" : "▶";
    row.play.setAttribute("aria-label", playing ? "Pause" : "Play");
    row.play.disabled = !ready;
    row.seek.disabled = !ready;
    row.seek.max = String(Math.max(message.duration_ms, 1));
    if (document.activeElement !== row.seek) {
      row.seek.value = String(position);
    }
    row.seek.setAttribute("aria-valuetext", `${formatDuration(position)} of ${formatDuration(message.duration_ms)}`);
    const shown = playing || position > 0 ? `${formatDuration(position)} / ` : "";
    row.time.textContent = `${shown}${formatDuration(message.duration_ms)}`;
    row.speed.textContent = speedLabel(ui.player.speed);
    row.speed.setAttribute("aria-label", `Playback speed ${speedLabel(ui.player.speed)}`);
    this.drawBars(row, ui.waveforms[message.id], position / Math.max(message.duration_ms, 1));

    row.meta.replaceChildren(
      el("span", "who", senderName(ui.state, message)),
      el("time", "when", formatTime(message.created_at_ms, now)),
      el("span", `state ${message.state}`, stateLabel(message.state)),
    );
    row.item.classList.toggle("playing", playing);
  }

  private drawBars(row: Row, peaks: number[] | undefined, done: number): void {
    const values = peaks ?? [];
    if (row.barCount !== values.length) {
      row.bars.replaceChildren(
        ...values.map((p) => {
          const bar = el("span", "bar");
          bar.style.height = `${Math.max(8, Math.round(p * 100))}%`;
          return bar;
        }),
      );
      row.barCount = values.length;
    }
    const cut = Math.round(done * values.length);
    row.bars.childNodes.forEach((bar, i) => {
      (bar as HTMLElement).classList.toggle("done", i < cut);
    });
  }

  private renderRecorder(ui: Ui): void {
    const r = ui.recorder;
    const recording = isRecording(r);
    byId("recording").hidden = !recording;
    byId("record").hidden = recording && r.phase !== "holding" && r.phase !== "starting";
    byId("record").textContent = recording ? "Recording… release to send" : "Hold to record";
    byId("record").setAttribute("aria-pressed", String(recording));
    byId("rec-time").textContent = formatDuration(r.elapsedMs);
    const percent = Math.round(r.level * 100);
    byId("rec-level").style.width = `${percent}%`;
    byId("rec-meter").setAttribute("aria-valuenow", String(percent));
    const locked = r.phase === "locked" || r.phase === "hotkey";
    byId("rec-lock").hidden = r.phase !== "holding";
    byId("rec-send").hidden = r.phase !== "locked";
    byId("rec-cancel").hidden = !locked;
    byId("rec-hint").textContent = hint(r.phase);
  }

  private renderNotice(ui: Ui): void {
    const box = byId("notice");
    box.hidden = ui.notice === null;
    box.textContent = ui.notice?.text ?? "";
    box.classList.toggle("error", ui.notice?.error ?? false);
    box.setAttribute("role", ui.notice?.error ? "alert" : "status");
  }

  private renderWelcome(ui: Ui): void {
    const dialog = byId<HTMLDialogElement>("welcome");
    if (ui.needsName && !dialog.open) {
      dialog.showModal();
    }
    if (!ui.needsName && dialog.open) {
      dialog.close();
    }
  }

  private bindRecorder(): void {
    const app = this.app;
    const record = byId("record");
    record.addEventListener("pointerdown", (e) => {
      record.setPointerCapture?.(e.pointerId);
      void app.record({ type: "press" });
    });
    record.addEventListener("pointerup", () => void app.record({ type: "release" }));
    record.addEventListener("pointercancel", () => void app.record({ type: "leave" }));
    // Dragging well off the button cancels, as in the phone apps.
    record.addEventListener("pointermove", (e) => {
      if (record.hasPointerCapture?.(e.pointerId) && !inside(record, e, 60)) {
        record.releasePointerCapture(e.pointerId);
        void app.record({ type: "leave" });
      }
    });
    record.addEventListener("keydown", (e) => {
      if ((e.key === " " || e.key === "Enter") && !e.repeat) {
        e.preventDefault();
        void app.record({ type: "press" });
      }
    });
    record.addEventListener("keyup", (e) => {
      if (e.key === " " || e.key === "Enter") {
        e.preventDefault();
        void app.record({ type: "release" });
      }
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && isRecording(app.ui.recorder)) {
        e.preventDefault();
        void app.record({ type: "escape" });
      }
    });
    byId("rec-lock").addEventListener("pointerdown", (e) => {
      // Reaching the lock while holding locks, without ending the hold.
      e.preventDefault();
      void app.record({ type: "lock" });
    });
    byId("rec-lock").addEventListener("click", () => void app.record({ type: "lock" }));
    byId("rec-send").addEventListener("click", () => void app.record({ type: "send" }));
    byId("rec-cancel").addEventListener("click", () => void app.record({ type: "escape" }));
  }

  private bindWelcome(): void {
    const form = byId<HTMLFormElement>("welcome-form");
    const dialog = byId<HTMLDialogElement>("welcome");
    // The name is needed: Esc must not dismiss the prompt.
    dialog.addEventListener("cancel", (e) => e.preventDefault());
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const name = byId<HTMLInputElement>("welcome-name").value.trim();
      const settings = this.app.ui.settings;
      if (name === "" || settings === null) {
        return;
      }
      void this.app.saveSettings({ ...settings, display_name: name }).then((saved) => {
        const error = byId("welcome-error");
        error.hidden = saved;
        error.textContent = saved ? "" : (this.app.ui.notice?.text ?? "");
      });
    });
  }

  private openSettings(): void {
    const s = this.app.ui.settings;
    if (s === null) {
      return;
    }
    const ui = this.app.ui;
    byId<HTMLInputElement>("set-name").value = s.display_name ?? "";
    options("set-input", ui.devices.inputs, s.input_device);
    options("set-output", ui.devices.outputs, s.output_device);
    byId<HTMLInputElement>("set-hotkey").value = s.hotkey;
    byId("hotkey-status").textContent = hotkeyText(ui);
    const bitrate = byId<HTMLSelectElement>("set-bitrate");
    bitrate.replaceChildren(
      ...BITRATES.map((b) => {
        const o = el("option", "", `${b / 1000} kbit/s`);
        o.value = String(b);
        return o;
      }),
    );
    bitrate.value = String(s.bitrate);
    byId<HTMLInputElement>("set-sounds").checked = s.sounds;
    byId<HTMLInputElement>("set-notifications").checked = s.notifications;
    byId<HTMLInputElement>("set-autoplay").checked = s.auto_play;
    byId<HTMLInputElement>("set-mute").checked = s.mute_incoming;
    byId<HTMLInputElement>("set-autostart").checked = s.start_with_system;
    byId<HTMLSelectElement>("set-log").value = s.log_level;
    void commands.logDir().then((dir) => {
      byId("log-dir").textContent = `Log files: ${dir}`;
    });
    byId<HTMLDialogElement>("settings").showModal();
  }

  private bindSettings(): void {
    const dialog = byId<HTMLDialogElement>("settings");
    byId("settings-cancel").addEventListener("click", () => dialog.close());
    byId<HTMLFormElement>("settings-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const s = this.app.ui.settings;
      if (s === null) {
        return;
      }
      const value = (id: string) => byId<HTMLInputElement>(id).value;
      const checked = (id: string) => byId<HTMLInputElement>(id).checked;
      const device = (id: string) => value(id) || null;
      const next = {
        ...s,
        display_name: value("set-name").trim() || null,
        input_device: device("set-input"),
        output_device: device("set-output"),
        hotkey: value("set-hotkey").trim(),
        bitrate: Number(value("set-bitrate")),
        sounds: checked("set-sounds"),
        notifications: checked("set-notifications"),
        auto_play: checked("set-autoplay"),
        mute_incoming: checked("set-mute"),
        start_with_system: checked("set-autostart"),
        log_level: value("set-log") as typeof s.log_level,
      };
      void this.app.saveSettings(next).then((saved) => {
        if (saved) {
          dialog.close();
        }
      });
    });
  }
}

/** What the settings screen says about the hotkey. */
export function hotkeyText(ui: Ui): string {
  const status = ui.hotkey;
  if (status === null) {
    return "The hotkey is not set up yet.";
  }
  if (status.portal) {
    return `Hold ${status.shortcut} anywhere to record (a global shortcut of your desktop, which may let you change it); release to send to the open conversation.`;
  }
  if (status.wayland) {
    const why = status.problem ?? "the desktop has not answered yet";
    return (
      `Wayland session with no desktop portal for global shortcuts (${why}): ` +
      "the hotkey only works while a Hark window has focus; use the window's button."
    );
  }
  if (!status.registered) {
    return `The hotkey does not work: ${status.problem ?? "unknown reason"}`;
  }
  return `Hold ${status.shortcut} anywhere to record; release to send to the open conversation.`;
}

function hint(phase: string): string {
  switch (phase) {
    case "locked":
      return "Locked: press Send when done, or Esc to cancel";
    case "hotkey":
      return "Recording from the hotkey: release it to send";
    default:
      return "Release to send · drag away or Esc to cancel";
  }
}

/** Under an open channel's name: who is in it, as far as this node knows. */
function channelLine(ui: Ui): string {
  const channel = channelOf(ui.state, ui.selected ?? "");
  if (!channel) {
    return "";
  }
  const online = channel.members.filter((m) =>
    ui.state.peers.some((p) => p.peer_id === m && p.online),
  ).length;
  const known = channel.members.length;
  return `${known} other member${known === 1 ? "" : "s"} known, ${online} online`;
}

function options(id: string, names: string[], chosen: string | null): void {
  const select = byId<HTMLSelectElement>(id);
  const system = el("option", "", "System default");
  system.value = "";
  const list = chosen !== null && !names.includes(chosen) ? [...names, chosen] : names;
  select.replaceChildren(
    system,
    ...list.map((name) => {
      const o = el("option", "", name);
      o.value = name;
      return o;
    }),
  );
  select.value = chosen ?? "";
}

function dot(online: boolean): HTMLElement {
  const status = online ? "online" : "offline";
  const d = el("span", `dot ${status}`);
  d.setAttribute("aria-hidden", "true");
  return d;
}

function fill(listId: string, emptyId: string, items: HTMLElement[]): void {
  const list = byId(listId);
  // Keep focus on the entry the user is on across redraws.
  const focused = (document.activeElement as HTMLElement | null)?.dataset?.peer;
  list.replaceChildren(...items);
  byId(emptyId).hidden = items.length > 0;
  if (focused) {
    list.querySelector<HTMLElement>(`[data-peer="${CSS.escape(focused)}"]`)?.focus();
  }
}

function sameChildren(list: HTMLElement, rows: HTMLElement[]): boolean {
  return list.children.length === rows.length && rows.every((r, i) => list.children[i] === r);
}

function inside(element: HTMLElement, e: PointerEvent, margin: number): boolean {
  const r = element.getBoundingClientRect();
  return (
    e.clientX >= r.left - margin &&
    e.clientX <= r.right + margin &&
    e.clientY >= r.top - margin &&
    e.clientY <= r.bottom + margin
  );
}
