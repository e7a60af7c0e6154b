#!/usr/bin/env bash
# The real desktop window under WebDriver (tests/webdriver/desktop_test.py):
# a private Xvfb display, a private PulseAudio whose null sink is the
# microphone and speakers (scripts/pulse-test-env.sh), a headless
# `hark node` called Alice, and tauri-driver starting hark-desktop as Bea.
# Screenshots and logs go to test-output/webdriver/. Stops only the
# processes it started, by PID.
#
# HARK_AUDIO=null (or no pulseaudio) uses the app's test devices instead:
# the speech file is read as the microphone, playback is paced silence.
set -euo pipefail
cd "$(dirname "$0")/.."

APP=${APP:-$PWD/target/debug/hark-desktop}
HARK=${HARK:-$PWD/target/debug/hark}
OUT=$PWD/test-output/webdriver
SPEECH=$PWD/tests/fixtures/audio/speech-48k-mono-s16.wav
PORT=4444

pids=()
pulse_pid=""
bus_pid=""
work=""

say() { printf 'webdriver-test: %s\n' "$*"; }
fail() { say "FAIL: $*" >&2; exit 1; }

stop_pid() {
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  [[ -n $pulse_pid ]] && scripts/pulse-test-env.sh stop "$pulse_pid" || true
  [[ -n $bus_pid ]] && stop_pid "$bus_pid"
  if [[ -n $work ]]; then
    # The app's own log file, kept with the screenshots.
    cat "$work"/bea/logs/hark-desktop.* >"$OUT/bea.log" 2>/dev/null || true
    rm -rf "$work"
  fi
  return 0
}
trap cleanup EXIT

free_display() {
  local n
  for n in $(seq 141 180); do
    if [[ ! -e /tmp/.X$n-lock && ! -e /tmp/.X11-unix/X$n ]]; then
      echo "$n"
      return
    fi
  done
  fail "no free X display number between :141 and :180"
}

wait_for() {
  # wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds.
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "$what not ready after $seconds s"
    sleep 0.2
  done
}

FAKE_PORTAL=${FAKE_PORTAL:-$PWD/target/debug/examples/fake_portal}
for tool in "$APP" "$HARK"; do
  [[ -x $tool ]] || fail "$tool is missing: build first (make build)"
done
[[ -x $FAKE_PORTAL ]] || fail "$FAKE_PORTAL is missing: cargo build -p hark-desktop --example fake_portal"
export FAKE_PORTAL
command -v tauri-driver >/dev/null || fail "tauri-driver is missing (scripts/setup.sh installs it)"
command -v WebKitWebDriver >/dev/null || fail "WebKitWebDriver is missing (Debian: webkit2gtk-driver)"
mkdir -p "$OUT"
rm -f "$OUT"/*.png "$OUT"/*.wav
work=$(mktemp -d)

display=$(free_display)
Xvfb ":$display" -screen 0 1280x800x24 -nolisten tcp >"$OUT/xvfb.log" 2>&1 &
pids+=($!)
wait_for 5 "Xvfb :$display" test -e "/tmp/.X11-unix/X$display"
export DISPLAY=":$display"
# The app runs as in a Wayland session (GTK still draws through X11): its
# hotkey first finds no desktop portal and keeps the X11 grab, then the
# test starts a stand-in portal (examples/fake_portal.rs) and the hotkey
# moves to it.
export WAYLAND_DISPLAY=hark-test-no-such-display GDK_BACKEND=x11

# A private session bus (no services started on demand, so no real
# xdg-desktop-portal answers), a real notification server (dunst) on it,
# and dbus-monitor writing down every notification asked for.
eval "$(dbus-launch --sh-syntax --config-file="$PWD/scripts/test-bus.conf")"
bus_pid=$DBUS_SESSION_BUS_PID
dunst >"$OUT/dunst.log" 2>&1 &
pids+=($!)
export NOTIFICATIONS=$OUT/notifications.log
dbus-monitor --session "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" \
  >"$NOTIFICATIONS" 2>&1 &
pids+=($!)

if [[ ${HARK_AUDIO:-} != null ]] && command -v pulseaudio >/dev/null; then
  eval "$(scripts/pulse-test-env.sh start "$work/pulse")"
  pulse_pid=$PULSE_PID
  export AUDIO=pulse
else
  export HARK_AUDIO=null HARK_TEST_INPUT=$SPEECH AUDIO=null
fi
say "audio: $AUDIO"

export ALICE_DIR=$work/alice BEA_DIR=$work/bea ALICE_LIVE=$work/alice-live
mkdir -p "$ALICE_LIVE"
"$HARK" node --data-dir "$ALICE_DIR" --listen /ip4/127.0.0.1/tcp/0 --no-mdns --name Alice \
  --live-out "$ALICE_LIVE" >"$OUT/alice.log" 2>&1 &
pids+=($!)
wait_for 30 "Alice's node" test -S "$ALICE_DIR/control.sock"
ALICE_ADDR=$("$HARK" whoami --data-dir "$ALICE_DIR" | sed -n 's/^listening: *//p' | head -1)
[[ -n $ALICE_ADDR ]] || fail "Alice's node has no listen address"
export ALICE_ADDR

tauri-driver --port "$PORT" >"$OUT/tauri-driver.log" 2>&1 &
pids+=($!)
wait_for 20 "tauri-driver" bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT"

export APP HARK OUT SPEECH DRIVER=http://127.0.0.1:$PORT
started=$SECONDS
python3 tests/webdriver/desktop_test.py 2>&1 | tee "$OUT/test.log"
say "passed in $((SECONDS - started)) s; screenshots in $OUT"
