"""The real desktop window under WebDriver, beside a headless `hark node`:

1. first start asks for a name; the other node appears under People nearby;
2. a message sent with `hark send` appears in the window with an unread
   count, its waveform loads, and it plays (position moves, then ends);
3. a recording made by holding the window's button is heard live at the
   other node while the button is still held (its control socket lists
   the message as arriving; its --live-out player writes what it played),
   and arrives whole and is exported there;
4. a live message from the other node plays through the window's speakers
   as it is spoken, without a click;
5. Esc while holding the button cancels: the other node, which was
   hearing it, drops it, and neither side lists it;
6. a channel made in the window shows an invite code and a QR code that
   reads back (zbarimg) as the same code; the other node joins with it,
   shows up as a member, talks live into the channel (heard through the
   window's speakers); a recording in the channel reaches the other node
   as a channel message; mute and leave work;
7. the global hotkey records one message however the key repeats;
8. each message from Alice raised a desktop notification (a real one, on a
   private session bus with dunst), none of Bea's own did;
9. the app runs as in a Wayland session: with no desktop portal the X11
   grab serves the hotkey (7) and settings says so; once a GlobalShortcuts
   portal is on the bus (a stand-in, examples/fake_portal.rs), a hotkey
   saved in settings is bound through it and its press and release send
   one message.

Screenshots go to $OUT. Configured by environment variables set by
scripts/webdriver-test.sh."""

import array
import contextlib
import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
import time
import wave

from webdriver import Session

ENV = os.environ
OUT = ENV["OUT"]
HARK = ENV["HARK"]
ALICE_DIR = ENV["ALICE_DIR"]
ALICE_LIVE = ENV["ALICE_LIVE"]
SPEECH = ENV["SPEECH"]
ESCAPE = "\ue00c"


def say(text):
    print(f"webdriver: {text}", flush=True)


def control(request):
    """One request to Alice's node over its control socket."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(os.path.join(ALICE_DIR, "control.sock"))
        s.sendall(json.dumps(request).encode() + b"\n")
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    answer = json.loads(reply)
    if "error" in answer:
        raise RuntimeError(f"{request['cmd']}: {answer['error']}")
    return answer["ok"]


def record_output():
    """Starts recording what Hark plays (the null sink's monitor), in pulse mode."""
    if ENV.get("AUDIO") != "pulse":
        return None
    path = os.path.join(OUT, "played.wav")
    command = ["parec", "--latency-msec=20", "-d", "hark_test_sink.monitor"]
    command += ["--file-format=wav", "--format=s16le", "--channels=1", "--rate=48000", path]
    return subprocess.Popen(command), path


def stop_recording_output(monitor):
    """Stops the recording and returns its RMS (0..1)."""
    process, path = monitor
    process.terminate()
    process.wait()
    return rms_of(path)


def rms_of(path):
    with wave.open(path) as w:
        frames = w.readframes(w.getnframes())
    samples = array.array("h", frames)
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768


@contextlib.contextmanager
def speaking():
    """Speech played, while in the block, into the null sink whose monitor
    is Hark's microphone (pulse mode; with null audio the app reads the
    speech file itself)."""
    player = subprocess.Popen(["paplay", SPEECH]) if ENV.get("AUDIO") == "pulse" else None
    try:
        yield
    finally:
        if player is not None:
            player.kill()
            player.wait()


class Arriving:
    """Polls Alice's inbox in the background and keeps the ids of messages
    from Bea seen while still arriving (live, being spoken)."""

    def __init__(self):
        self.ids = set()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self):
        while not self.done.is_set():
            for m in control({"cmd": "inbox"}):
                if m["from_name"] == "Bea" and m["state"] == "receiving":
                    self.ids.add(m["id"])
            time.sleep(0.2)

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.ids


def notified():
    """Who the app sent desktop notifications about, in order: the names
    in their "NAME on Hark" titles, as dbus-monitor saw the Notify calls
    reach the notification server (dunst) on the test's session bus."""
    with open(ENV["NOTIFICATIONS"], encoding="utf-8", errors="replace") as log:
        return re.findall(r'^\s*string "(.*) on Hark"$', log.read(), re.MULTILINE)


def shot(session, name):
    path = os.path.join(OUT, f"{name}.png")
    session.screenshot(path)
    say(f"screenshot {path}")


def first_start(session):
    name = session.wait_for("#welcome-name", what="the first-start name prompt")
    shot(session, "first-start")
    name.type("Bea")
    session.wait_for("#welcome-form button[type=submit]").click()
    session.wait_until(
        lambda: session.texts("#me-name") == ["Bea"], what="the name Bea in the header"
    )
    say("first start: named Bea")


def alice_appears(session):
    session.wait_until(
        lambda: any("Alice" in t for t in session.texts("#people .entry")),
        timeout=60,
        what="Alice under People nearby",
    )
    say("Alice is listed under People nearby")


def alice_knows_bea():
    """Waits until Alice's node has Bea's new name: Bea may list Alice
    before Alice has Bea's renamed profile, and `--to Bea` needs it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = subprocess.run(
            [HARK, "peers", "--json", "--data-dir", ALICE_DIR],
            capture_output=True,
            text=True,
        )
        if listed.returncode == 0 and any(
            p["display_name"] == "Bea" for p in json.loads(listed.stdout)
        ):
            return
        time.sleep(0.2)
    raise AssertionError("Alice never learnt the name Bea")


def receive_and_play(session):
    alice_knows_bea()
    subprocess.run(
        [HARK, "send", "--data-dir", ALICE_DIR, "--to", "Bea", SPEECH],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    badge = session.wait_for("#conversations .badge", timeout=60, what="an unread count")
    assert badge.text() == "1", f"unread count {badge.text()!r}"
    shot(session, "unread")
    session.wait_for("#conversations .entry").click()

    row = session.wait_for("#messages .message.incoming", what="the received message")
    session.wait_until(
        lambda: len(session.find_all("#messages .message.incoming .bar")) > 0,
        what="the waveform",
    )
    label = session.wait_for("#messages .message.incoming .bubble").attribute("aria-label")
    assert label.startswith("Voice message from Alice, 0:1"), label
    assert not session.find_all("#conversations .badge"), "still unread after opening"

    monitor = record_output()
    session.wait_for("#messages .message.incoming .play").click()
    session.wait_until(
        lambda: "/" in session.wait_for("#messages .message.incoming .time").text(),
        what="the playback position",
    )
    time.sleep(1.5)
    shot(session, "playing")
    if monitor is not None:
        heard = stop_recording_output(monitor)
        assert heard > 0.02, f"the speakers (null sink) got RMS {heard:.4f}: silence"
        say(f"playback reached the speakers: RMS {heard:.3f}")
    position = session.script(
        "return document.querySelector('#messages .message.incoming .seek').value"
    )
    assert int(float(position)) > 0, f"position {position}"
    # The 2x speed: the rest of the ~11 s message ends well within 10 s.
    session.wait_for("#messages .message.incoming .speed").click()
    session.wait_for("#messages .message.incoming .speed").click()
    session.wait_until(
        lambda: session.wait_for("#messages .message.incoming .play").attribute("aria-label")
        == "Play",
        timeout=15,
        what="the end of playback",
    )
    sent = session.wait_until(
        lambda: [m for m in control({"cmd": "inbox"}) if m["state"] == "heard"],
        timeout=30,
        what="Alice's message marked heard",
    )
    assert len(sent) == 1 and sent[0]["direction"] == "outgoing", sent
    say(f"received message listed ({label}), played to its end, heard at Alice")
    session.wait_until(lambda: notified() == ["Alice"], what="a notification of Alice's message")
    say("a desktop notification told of it")
    return row


def record_and_send(session):
    before = len(control({"cmd": "inbox"}))
    record = session.wait_for("#record")
    with speaking():
        arriving = Arriving()
        session.hold(record, 4.0)
        heard_live = arriving.stop()
    mine = session.wait_for("#messages .message.outgoing", timeout=30, what="the recorded message")
    session.wait_until(
        lambda: "Delivered" in mine.text() or "Heard" in mine.text(),
        timeout=60,
        what="the recording delivered",
    )
    shot(session, "conversation")

    inbox = session.wait_until(
        lambda: (lambda items: items if len(items) > before else None)(control({"cmd": "inbox"})),
        timeout=60,
        what="the recording at Alice",
    )
    newest = max(inbox, key=lambda m: m["created_at_ms"])
    assert newest["direction"] == "incoming" and newest["from_name"] == "Bea", newest
    assert 3000 <= newest["duration_ms"] <= 6000, newest
    out = os.path.join(OUT, "recorded-at-alice.wav")
    control({"cmd": "export", "id": newest["id"], "path": out})
    level = rms_of(out)
    # Speech (pulse: played into the microphone; null: read from the file)
    # and not the silence of a dead input.
    assert level > 0.02, f"the recording at Alice is silent (RMS {level:.4f})"
    say(f"recording of {newest['duration_ms']} ms, RMS {level:.3f}, arrived at Alice: {out}")

    # Live: Alice listed it as arriving while the button was held, and her
    # player played it as it came.
    assert newest["id"] in heard_live, f"not heard live at Alice: {heard_live}"
    played = os.path.join(ALICE_LIVE, f"{newest['id']}.wav")
    session.wait_until(lambda: os.path.exists(played), what="Alice's live playout")
    time.sleep(0.3)
    played_level = rms_of(played)
    assert played_level > 0.02, f"Alice's live playout is silent (RMS {played_level:.4f})"
    say(f"heard live at Alice while the button was held (playout RMS {played_level:.3f})")


def live_to_window(session):
    """Alice talks live to Bea: the window's speakers play it as it comes,
    with nobody clicking play."""
    incoming = len(session.find_all("#messages .message.incoming"))
    monitor = record_output()
    subprocess.run(
        [HARK, "send", "--live", "--data-dir", ALICE_DIR, "--to", "Bea", SPEECH],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    session.wait_until(
        lambda: len(session.find_all("#messages .message.incoming")) > incoming,
        what="Alice's live message in the window",
    )
    if monitor is None:
        say("live message from Alice listed (null audio: not heard)")
        return
    heard = stop_recording_output(monitor)
    assert heard > 0.02, f"the live message did not reach the speakers (RMS {heard:.4f})"
    say(f"live message from Alice played as it came: RMS {heard:.3f}")


def cancel_with_escape(session):
    """Hold the button, speak, press Esc while holding: Alice was hearing
    it, then it is gone at both ends."""
    before = len(control({"cmd": "inbox"}))
    outgoing = len(session.find_all("#messages .message.outgoing"))
    with speaking():
        arriving = Arriving()
        session.hold_then_key(session.wait_for("#record"), 2.0, ESCAPE)
        heard_live = arriving.stop()
    assert heard_live, "Alice never heard the recording that was cancelled"
    session.wait_until(
        lambda: len(control({"cmd": "inbox"})) == before,
        what="Alice to drop the cancelled message",
    )
    time.sleep(1.0)
    assert len(session.find_all("#messages .message.outgoing")) == outgoing, "Bea kept it"
    assert len(control({"cmd": "inbox"})) == before, "it came back at Alice"
    say(f"Esc cancelled a live recording Alice was hearing ({len(heard_live)} id); gone at both")


def channel(session):
    session.wait_for("#new-channel").click()
    session.wait_for("#channel-name").type("team")
    session.wait_for("#channel-submit").click()
    session.wait_until(lambda: session.find_all("#invite-qr svg"), what="the invite's QR code")
    invite = session.script("return document.getElementById('invite-code').value")
    assert invite.startswith("hark-channel:"), invite
    time.sleep(0.3)
    shot(session, "channel-invite")
    scanned = subprocess.run(
        ["zbarimg", "--raw", "-q", os.path.join(OUT, "channel-invite.png")],
        capture_output=True,
        text=True,
    )
    assert scanned.stdout.strip() == invite, f"the QR code reads {scanned.stdout!r}"
    say("channel made; its QR code reads back as the invite code")
    session.wait_for("#invite-close").click()

    subprocess.run(
        [HARK, "channel", "join", "--data-dir", ALICE_DIR, invite],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    session.wait_until(
        lambda: "1 other member known, 1 online" in session.wait_for("#chat-safety").text(),
        timeout=60,
        what="Alice listed as a member of the channel",
    )

    monitor = record_output()
    subprocess.run(
        [HARK, "send", "--live", "--data-dir", ALICE_DIR, "--to", "#team", SPEECH],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    session.wait_until(
        lambda: session.find_all("#messages .message.incoming"),
        what="Alice's live message in the channel",
    )
    if monitor is not None:
        heard = stop_recording_output(monitor)
        assert heard > 0.02, f"the channel message did not reach the speakers (RMS {heard:.4f})"
        say(f"Alice talked live into the channel: the window played it (RMS {heard:.3f})")

    before = len(control({"cmd": "inbox"}))
    with speaking():
        session.hold(session.wait_for("#record"), 3.0)
    inbox = session.wait_until(
        lambda: complete_inbox(before),
        timeout=60,
        what="Bea's channel recording complete at Alice",
    )
    newest = max(inbox, key=lambda m: m["created_at_ms"])
    assert newest["channel"] == "team" and newest["from_name"] == "Bea", newest
    assert newest["duration_ms"] >= 2500, newest
    seconds = newest["duration_ms"] // 1000
    length = f"{seconds // 60}:{seconds % 60:02d}"
    mine = session.wait_for("#messages .message.outgoing")
    session.wait_until(
        lambda: length in mine.text() and session.find_all("#messages .message.outgoing .bar"),
        what=f"Bea's channel recording listed whole ({length}), with its waveform",
    )
    shot(session, "channel")

    session.wait_for("#channel-mute").click()
    session.wait_until(
        lambda: session.wait_for("#channel-mute").attribute("aria-pressed") == "true",
        what="the channel muted",
    )
    at_bea = bea_channels()
    assert [c["muted"] for c in at_bea] == [True], f"Bea's node: {at_bea}"
    session.wait_for("#channel-leave").click()
    session.wait_until(lambda: not session.find_all("#channels .entry"), what="the channel left")
    assert bea_channels() == [], "Bea's node is still in the channel"
    say("a recording in the channel reached Alice as a channel message; muted; left")

    # Back to the conversation with Alice for what follows (the channel
    # left stays listed, with its messages, as a conversation of its own).
    assert session.texts("#conversations .entry .name")[0] == "# left channel"
    session.wait_for('#conversations .entry:not([data-peer^="#"])').click()


def complete_inbox(before):
    """Alice's inbox once it has grown past `before` and nothing in it is
    still arriving (a live message is listed from its first frame)."""
    items = control({"cmd": "inbox"})
    done = len(items) > before and all(m["state"] != "receiving" for m in items)
    return items if done else None


def fake_portal(method):
    """Calls the stand-in portal's test interface; returns its reply text."""
    reply = subprocess.run(
        [
            "dbus-send", "--session", "--print-reply",
            "--dest=org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop",
            f"org.hark.FakePortal.{method}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return reply.stdout


def close_settings_with(session, css):
    """Clicks Cancel or Save at the foot of the settings dialog and waits
    until the dialog has closed. The button is scrolled to the middle of the
    dialog first: once, a click on it landed on another control of the
    scrolled dialog (the log-level select took the focus) and the dialog
    stayed open, so the next click on Settings hit the modal backdrop."""
    button = session.wait_for(css)
    session.script("document.querySelector(arguments[0]).scrollIntoView({block: 'center'})", css)
    button.click()
    session.wait_until(
        lambda: session.script("return !document.getElementById('settings').open"),
        timeout=15,
        what=f"the settings dialog to close after {css}",
    )


def hotkey_hint(session):
    session.wait_for("#open-settings").click()
    hint = session.wait_for("#hotkey-status").text()
    close_settings_with(session, "#settings-cancel")
    return hint


def portal_hotkey(session):
    """Wayland: no desktop portal at start, so the X11 grab served the
    hotkey step and settings said why. Now a GlobalShortcuts portal appears
    (a stand-in on the test's bus); a new hotkey saved in settings is bound
    through it, and its press and release record and send a message."""
    assert "no desktop portal" in hotkey_hint(session), "settings did not say the portal is missing"
    portal = subprocess.Popen([ENV["FAKE_PORTAL"]], stdout=subprocess.PIPE, text=True)
    try:
        assert portal.stdout.readline().strip() == "ready", "the stand-in portal did not start"
        session.wait_for("#open-settings").click()
        session.script("document.getElementById('set-hotkey').value = ''")
        session.wait_for("#set-hotkey").type("Ctrl+Alt+Space")
        close_settings_with(session, "#settings-form button[type=submit]")
        session.wait_until(
            lambda: "push-to-talk=CTRL+ALT+space" in fake_portal("Bound"),
            what="the hotkey bound through the portal",
        )
        session.wait_until(
            lambda: "global shortcut of your desktop" in hotkey_hint(session),
            what="settings to say the portal has the hotkey",
        )
        before = len(control({"cmd": "inbox"}))
        with speaking():
            fake_portal("Press")
            time.sleep(2.5)
            fake_portal("Release")
        inbox = session.wait_until(
            lambda: complete_inbox(before), timeout=60, what="the portal hotkey's recording at Alice"
        )
        newest = max(inbox, key=lambda m: m["created_at_ms"])
        assert len(inbox) == before + 1, f"{len(inbox) - before} messages from one portal hold"
        assert newest["from_name"].startswith("Bea") and newest["duration_ms"] >= 2000, newest
    finally:
        portal.kill()
        portal.wait()
    session.wait_until(
        lambda: "desktop portal stopped" in hotkey_hint(session),
        what="settings to say the portal went away",
    )
    say(f"portal hotkey (Wayland): bound as Ctrl+Alt+Space, one hold sent {newest['duration_ms']} ms; "
        "the portal's end noticed")


def bea_channels():
    """The channels Bea's node (inside the app) is in, from its control socket."""
    listed = subprocess.run(
        [HARK, "channel", "list", "--json", "--data-dir", ENV["BEA_DIR"]],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(listed.stdout)


def hotkey(session):
    """Push-to-talk from the global hotkey (an X11 key grab, driven with
    xdotool): press, hold, release; the recording goes to the open
    conversation. Key repeat while held must not end or restart it."""
    before = len(control({"cmd": "inbox"}))
    with speaking():
        subprocess.run(["xdotool", "keydown", "ctrl+shift+space"], check=True)
        time.sleep(1.0)
        session.wait_for("#recording", what="the recording bar (hotkey)")
        shot(session, "recording")
        # What X sends for a held key: more presses (and releases) in a row.
        subprocess.run(["xdotool", "key", "--repeat", "5", "--delay", "50", "ctrl+shift+space"])
        subprocess.run(["xdotool", "keydown", "ctrl+shift+space"], check=True)
        time.sleep(1.5)
        subprocess.run(["xdotool", "keyup", "ctrl+shift+space"], check=True)
    inbox = session.wait_until(
        lambda: complete_inbox(before),
        timeout=60,
        what="the hotkey recording complete at Alice",
    )
    assert len(inbox) == before + 1, f"{len(inbox) - before} messages from one hotkey hold"
    newest = max(inbox, key=lambda m: m["created_at_ms"])
    assert newest["from_name"] == "Bea" and newest["duration_ms"] >= 2500, newest
    say(f"hotkey hold sent one message of {newest['duration_ms']} ms to Alice")


def settings(session):
    """Settings open; a new name saved there reaches Alice at once, and
    Bea never went offline for it."""
    session.wait_for("#open-settings").click()
    session.wait_for("#settings-form")
    hint = session.wait_for("#hotkey-status").text()
    assert hint, "no hotkey status in settings"
    shot(session, "settings")
    session.script("document.getElementById('set-name').value = ''")
    session.wait_for("#set-name").type("Bea Brown")
    close_settings_with(session, "#settings-form button[type=submit]")
    session.wait_until(
        lambda: session.texts("#me-name") == ["Bea Brown"], what="the new name in the header"
    )

    def bea_at_alice():
        return [p for p in control({"cmd": "peers"}) if p["display_name"].startswith("Bea")]

    session.wait_until(
        lambda: [(p["display_name"], p["online"]) for p in bea_at_alice()] == [("Bea Brown", True)],
        timeout=20,
        what="Alice to see the new name",
    )
    alice_log = open(os.path.join(OUT, "alice.log"), encoding="utf-8", errors="replace").read()
    assert "peer left" not in alice_log, "the rename dropped Bea's connection"
    say(f"settings open (hotkey: {hint}); renamed to Bea Brown, seen by Alice at once")


def main():
    capabilities = {
        "browserName": "wry",
        "tauri:options": {
            "application": ENV["APP"],
            "args": ["--data-dir", ENV["BEA_DIR"], "--no-mdns", "--peer", ENV["ALICE_ADDR"]],
        },
    }
    session = Session(ENV.get("DRIVER", "http://127.0.0.1:4444"), capabilities)
    try:
        first_start(session)
        alice_appears(session)
        receive_and_play(session)
        record_and_send(session)
        live_to_window(session)
        cancel_with_escape(session)
        channel(session)
        hotkey(session)
        settings(session)
        portal_hotkey(session)
        # One per message from Alice (one sent, two live: to Bea and into
        # the channel), none for Bea's own four.
        assert notified() == ["Alice"] * 3, f"notifications: {notified()}"
        say("three notifications, one per message from Alice, none of Bea's own")
    except Exception:
        shot(session, "failure")
        raise
    finally:
        session.close()
    say("all desktop checks passed")


if __name__ == "__main__":
    sys.exit(main())
