// The view and controller together in happy-dom, with the shell's
// bindings mocked: what the window shows for a given state, and what the
// record button and the first-start prompt ask of the shell.

import { readFileSync } from "node:fs";
import { beforeEach, describe, expect, it, vi } from "vitest";

const commands = vi.hoisted(() => ({
  startRecording: vi.fn(async () => ({ status: "ok", data: null })),
  finishRecording: vi.fn(async () => ({ status: "ok", data: "m2" })),
  setActiveConversation: vi.fn(async () => undefined),
  markRead: vi.fn(async () => ({ status: "ok", data: {} })),
  waveform: vi.fn(async () => ({ status: "ok", data: { peaks: [0.2, 0.9, 0.4] } })),
  saveSettings: vi.fn(async (s: unknown) => ({ status: "ok", data: s })),
  hotkeyStatus: vi.fn(async () => null),
  logDir: vi.fn(async () => "/tmp/logs"),
  whoami: vi.fn(async () => ({ status: "ok", data: ME_INFO })),
  createChannel: vi.fn(async (name: string) => ({ status: "ok", data: { ...TEAM_INFO, name } })),
  channels: vi.fn(async () => ({ status: "ok", data: [TEAM_INFO] })),
  inviteQr: vi.fn(async () => ({ status: "ok", data: '<svg id="qr-svg"></svg>' })),
}));
const ME_INFO = vi.hoisted(() => ({
  peer_id: "12D3KooWAliceAliceAliceAliceAliceAliceAlice01",
  display_name: "Alice",
  safety_number: "1",
  listen_addrs: [] as string[],
  data_dir: "/d",
  carrying: 0,
  carrying_bytes: 0,
}));
const TEAM_INFO = vi.hoisted(() => ({
  id: "00112233445566778899aabbccddeeff",
  name: "team",
  invite: "hark-channel:ABC",
  muted: false,
  members: [],
}));
vi.mock("./bindings", () => ({ commands, events: {}, BITRATES: [16000, 24000] }));
vi.mock("@tauri-apps/api/core", () => ({ Channel: class {} }));

import { App } from "./app";
import type { HotkeyStatus } from "./bindings";
import { hotkeyText, View } from "./view";

const BOB = "12D3KooWBobBobBobBobBobBobBobBobBobBobBobBob02";
const ME = ME_INFO.peer_id;

function page(): void {
  // Vitest runs in ui/, where index.html is.
  const html = readFileSync("index.html", "utf8");
  document.body.innerHTML = html.slice(html.indexOf("<body>") + 6, html.indexOf("</body>"));
}

function app(): [App, View] {
  const a = new App();
  const v = new View(a);
  v.bind();
  a.subscribe(() => v.render());
  a.ui = {
    ...a.ui,
    settings: {
      display_name: "Alice",
      input_device: null,
      output_device: null,
      hotkey: "Ctrl+Shift+Space",
      bitrate: 24000,
      start_with_system: false,
      sounds: true,
      notifications: true,
      mute_incoming: false,
      auto_play: true,
      log_level: "warn",
    },
    state: {
      me: ME_INFO,
      peers: [
        { peer_id: BOB, display_name: "Bob", safety_number: "22222 33333", online: true, last_seen_ms: 0 },
      ],
      messages: [
        {
          id: "m1",
          direction: "incoming",
          from: BOB,
          from_name: "Bob",
          to: [ME],
          to_names: ["Alice"],
          channel: null,
          channel_id: null,
          created_at_ms: Date.now(),
          duration_ms: 7000,
          state: "received",
        },
      ],
      channels: [],
      marks: {},
    },
  };
  v.render();
  return [a, v];
}

beforeEach(() => {
  page();
  vi.clearAllMocks();
});

describe("view", () => {
  // An unread message shows as a badge and in the entry's spoken label.
  it("shows unread conversations", () => {
    app();
    const entry = document.querySelector("#conversations .entry");
    expect(entry?.querySelector(".badge")?.textContent).toBe("1");
    expect(entry?.getAttribute("aria-label")).toBe("Bob, 1 unread");
    expect(document.querySelector("#people .entry")?.getAttribute("aria-label")).toBe(
      "Bob, online, safety number 22222 33333",
    );
  });

  // Opening a conversation lists its message with a spoken label, loads its
  // waveform, tells the shell where push-to-talk goes, and clears the badge.
  it("opens a conversation", async () => {
    const [a] = app();
    a.select(BOB);
    await vi.waitFor(() => expect(document.querySelectorAll("#messages .bar").length).toBe(3));
    const bubble = document.querySelector("#messages .bubble");
    expect(bubble?.getAttribute("aria-label")).toMatch(/^Voice message from Bob, 0:07, /);
    expect(commands.setActiveConversation).toHaveBeenCalledWith([BOB]);
    expect(commands.markRead).toHaveBeenCalled();
    expect(document.querySelector("#conversations .badge")).toBeNull();
  });

  // Space on the record button starts a live message to the open conversation; releasing it sends.
  it("records with the keyboard", async () => {
    const [a] = app();
    a.select(BOB);
    const record = document.getElementById("record");
    record?.dispatchEvent(new KeyboardEvent("keydown", { key: " ", bubbles: true }));
    await vi.waitFor(() => expect(commands.startRecording).toHaveBeenCalledWith([BOB]));
    record?.dispatchEvent(new KeyboardEvent("keyup", { key: " ", bubbles: true }));
    await vi.waitFor(() => expect(commands.finishRecording).toHaveBeenCalledWith(true));
  });

  // Esc while recording cancels: the shell is asked to cancel the live message.
  it("cancels with Esc", async () => {
    const [a] = app();
    a.select(BOB);
    await a.record({ type: "press" });
    document.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    await vi.waitFor(() => expect(commands.finishRecording).toHaveBeenCalledWith(false));
  });

  // Making a channel opens it, lists it, and shows its invite code with a QR code.
  it("creates a channel and shows its invite", async () => {
    const [a] = app();
    document.getElementById("new-channel")?.click();
    const dialog = document.getElementById("channel-dialog") as HTMLDialogElement;
    expect(dialog.open).toBe(true);
    (document.getElementById("channel-name") as HTMLInputElement).value = "team";
    document.getElementById("channel-form")?.dispatchEvent(new Event("submit", { cancelable: true }));

    await vi.waitFor(() => expect(commands.createChannel).toHaveBeenCalledWith("team"));
    await vi.waitFor(() => expect(document.getElementById("qr-svg")).not.toBeNull());
    expect(a.ui.selected).toBe(`#${TEAM_INFO.id}`);
    expect(commands.setActiveConversation).toHaveBeenCalledWith([`#${TEAM_INFO.id}`]);
    expect(document.querySelector("#channels .entry")?.getAttribute("aria-label")).toBe(
      "Channel team, 0 online",
    );
    expect((document.getElementById("invite-code") as HTMLTextAreaElement).value).toBe(
      TEAM_INFO.invite,
    );
    expect(document.getElementById("chat-title")?.textContent).toBe("# team");
    expect(document.getElementById("channel-actions")?.hidden).toBe(false);
  });

  // The first-start prompt saves the chosen name.
  it("asks for a name on first start", async () => {
    const [a] = app();
    a.ui = { ...a.ui, needsName: true, settings: { ...a.ui.settings!, display_name: null } };
    const input = document.getElementById("welcome-name") as HTMLInputElement;
    input.value = "  Ann ";
    document.getElementById("welcome-form")?.dispatchEvent(new Event("submit", { cancelable: true }));
    await vi.waitFor(() =>
      expect(commands.saveSettings).toHaveBeenCalledWith(expect.objectContaining({ display_name: "Ann" })),
    );
  });
});

describe("hotkey status", () => {
  const status: HotkeyStatus = {
    shortcut: "Ctrl+Shift+Space",
    registered: true,
    problem: null,
    wayland: false,
    portal: false,
  };

  // X11 grab, desktop portal, and Wayland without a portal each say what works.
  it("says how the hotkey works", () => {
    const [a] = app();
    const text = (hotkey: HotkeyStatus) => hotkeyText({ ...a.ui, hotkey });
    expect(text(status)).toMatch(/^Hold Ctrl\+Shift\+Space anywhere/);
    expect(text({ ...status, wayland: true, portal: true })).toMatch(/global shortcut of your desktop/);
    const noPortal = text({ ...status, wayland: true, problem: "no desktop portal (gone)" });
    expect(noPortal).toMatch(/no desktop portal.*only works while a Hark window has focus/);
    expect(text({ ...status, registered: false, problem: "taken" })).toMatch(/does not work: taken/);
  });
});
