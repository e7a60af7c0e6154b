// The channel parts of the window: the sidebar list, the open channel's
// actions (invite with a QR code, mute, leave), and the dialogs to make or
// join one. Channel names come from the network: written as text only.
// The QR code is SVG drawn by the shell from the invite code alone.

import type { App, Ui } from "./app";
import { byId, el } from "./dom";
import { channelList, channelOf } from "./model";

export class ChannelsView {
  constructor(private readonly app: App) {}

  bind(): void {
    byId("new-channel").addEventListener("click", () => this.openForm("create"));
    byId("join-channel").addEventListener("click", () => this.openForm("join"));
    byId("channel-cancel").addEventListener("click", () =>
      byId<HTMLDialogElement>("channel-dialog").close(),
    );
    byId<HTMLFormElement>("channel-form").addEventListener("submit", (e) => {
      e.preventDefault();
      void this.submit();
    });
    byId("channel-invite").addEventListener("click", () => void this.openInvite());
    byId("channel-mute").addEventListener("click", () => {
      const channel = channelOf(this.app.ui.state, this.app.ui.selected ?? "");
      if (channel) {
        void this.app.muteChannel(channel.id, !channel.muted);
      }
    });
    byId("channel-leave").addEventListener("click", () => {
      const channel = channelOf(this.app.ui.state, this.app.ui.selected ?? "");
      if (channel) {
        void this.app.leaveChannel(channel.id);
      }
    });
    byId("invite-copy").addEventListener("click", () => void this.copyInvite());
    byId("invite-close").addEventListener("click", () =>
      byId<HTMLDialogElement>("invite-dialog").close(),
    );
  }

  render(ui: Ui): void {
    const items = channelList(ui.state).map((c) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "entry channel";
      b.dataset.peer = c.key;
      const unread = c.unread > 0 ? `, ${c.unread} unread` : "";
      const muted = c.channel.muted ? ", muted" : "";
      b.setAttribute("aria-label", `Channel ${c.channel.name}, ${c.online} online${muted}${unread}`);
      b.setAttribute("aria-current", String(ui.selected === c.key));
      b.addEventListener("click", () => this.app.select(c.key));
      b.append(
        el("span", "hash", "#"),
        el("span", "name", c.channel.name),
        el("span", "members", c.channel.muted ? "muted" : `${c.online} online`),
      );
      if (c.unread > 0) {
        b.append(el("span", "badge", String(c.unread)));
      }
      li.append(b);
      return li;
    });
    byId("channels").replaceChildren(...items);
    byId("channels-empty").hidden = items.length > 0;

    const open = channelOf(ui.state, ui.selected ?? "");
    byId("channel-actions").hidden = open === undefined;
    if (open) {
      const mute = byId("channel-mute");
      mute.textContent = open.muted ? "Unmute" : "Mute";
      mute.setAttribute("aria-pressed", String(open.muted));
    }
  }

  private openForm(mode: "create" | "join"): void {
    const create = mode === "create";
    byId("channel-dialog-title").textContent = create ? "New channel" : "Join a channel";
    byId("channel-submit").textContent = create ? "Create" : "Join";
    byId("channel-name-label").hidden = !create;
    byId("channel-code-label").hidden = create;
    byId<HTMLInputElement>("channel-name").value = "";
    byId<HTMLTextAreaElement>("channel-code").value = "";
    byId("channel-form").dataset.mode = mode;
    byId<HTMLDialogElement>("channel-dialog").showModal();
  }

  private async submit(): Promise<void> {
    const create = byId("channel-form").dataset.mode === "create";
    const value = create
      ? byId<HTMLInputElement>("channel-name").value.trim()
      : byId<HTMLTextAreaElement>("channel-code").value.trim();
    if (value === "") {
      return;
    }
    const done = create ? await this.app.createChannel(value) : await this.app.joinChannel(value);
    if (done) {
      byId<HTMLDialogElement>("channel-dialog").close();
      if (create) {
        await this.openInvite();
      }
    }
  }

  private async openInvite(): Promise<void> {
    const channel = channelOf(this.app.ui.state, this.app.ui.selected ?? "");
    if (!channel) {
      return;
    }
    byId("invite-title").textContent = `Invite to # ${channel.name}`;
    byId<HTMLTextAreaElement>("invite-code").value = channel.invite;
    const svg = await this.app.inviteQr(channel.invite);
    const box = byId("invite-qr");
    // SVG made by the shell's QR encoder from the invite code, no network text.
    box.innerHTML = svg ?? "";
    box.hidden = svg === null;
    byId<HTMLDialogElement>("invite-dialog").showModal();
  }

  private async copyInvite(): Promise<void> {
    const code = byId<HTMLTextAreaElement>("invite-code");
    code.select();
    try {
      await navigator.clipboard.writeText(code.value);
      this.app.notify("Invite code copied");
    } catch {
      this.app.notify("Select the code and copy it (Ctrl+C)");
    }
  }
}
