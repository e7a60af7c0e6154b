#!/usr/bin/env bash
# Desktop smoke test: starts target/debug/hark-desktop on a private Xvfb
# display with a fresh data dir, waits for its "Hark" window, takes a
# screenshot (test-output/desktop.png) and checks it is not blank.
# Stops only the processes it started, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

APP=${APP:-target/debug/hark-desktop}
OUT=test-output
WAIT_SECONDS=30
# The page has text, a coloured header and borders: far more colours than
# an empty or single-colour window.
MIN_COLOURS=16

xvfb_pid=""
app_pid=""
data_dir=""

say() { printf 'desktop-smoke: %s\n' "$*"; }
fail() { say "FAIL: $*" >&2; exit 1; }

alive() {
  # A child that exited stays a zombie until waited for, and kill -0 still
  # succeeds on it: read its state instead.
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  [[ ${stat##*) } != Z* ]]
}

stop() {
  # Sends $2 (default TERM), waits up to 10 s, then kills; returns the exit
  # status the process ended with.
  local pid=$1 sig=${2:-TERM} i status=0
  kill "-$sig" "$pid" 2>/dev/null || true
  for i in $(seq 100); do
    alive "$pid" || break
    sleep 0.1
  done
  alive "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || status=$?
  return "$status"
}

cleanup() {
  [[ -n $app_pid ]] && { stop "$app_pid" KILL || true; }
  [[ -n $xvfb_pid ]] && { stop "$xvfb_pid" || true; }
  [[ -n $data_dir ]] && rm -rf "$data_dir"
  return 0
}
trap cleanup EXIT

free_display() {
  # Xvfb leaves a lock file per display; the first number without one is free.
  local n
  for n in $(seq 97 140); do
    if [[ ! -e /tmp/.X$n-lock && ! -e /tmp/.X11-unix/X$n ]]; then
      echo "$n"
      return
    fi
  done
  fail "no free X display number between :97 and :140"
}

start_xvfb() {
  local n=$1 i
  Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >"$OUT/xvfb.log" 2>&1 &
  xvfb_pid=$!
  for i in $(seq 50); do
    [[ -e /tmp/.X11-unix/X$n ]] && return
    alive "$xvfb_pid" || fail "Xvfb :$n did not start (see $OUT/xvfb.log)"
    sleep 0.1
  done
  fail "Xvfb :$n did not open its socket within 5 s"
}

wait_for_window() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  while ((SECONDS < deadline)); do
    alive "$app_pid" || fail "hark-desktop exited early (see $OUT/desktop.log)"
    if xdotool search --onlyvisible --name '^Hark$' >/dev/null 2>&1; then
      return
    fi
    sleep 0.5
  done
  fail "no visible window named Hark after $WAIT_SECONDS s (see $OUT/desktop.log)"
}

[[ -x $APP ]] || fail "$APP is missing: build it first (make build)"
mkdir -p "$OUT"
rm -f "$OUT/desktop.png"
data_dir=$(mktemp -d)

display=$(free_display)
start_xvfb "$display"
export DISPLAY=":$display"
unset WAYLAND_DISPLAY

started=$SECONDS
"$APP" --data-dir "$data_dir" >"$OUT/desktop.log" 2>&1 &
app_pid=$!
wait_for_window
say "window up after $((SECONDS - started)) s"

# The window maps before the page has loaded and asked the node; give the
# web view a moment to render real content.
sleep 3
import -window root "$OUT/desktop.png"
colours=$(identify -format %k "$OUT/desktop.png")
((colours > MIN_COLOURS)) || fail "screenshot has only $colours colours: the window looks blank"
say "screenshot $OUT/desktop.png has $colours colours"

# A second launch on the same data dir hands over to the first (which
# shows its window) and exits at once with success, without a panic.
second_status=0
timeout 20 "$APP" --data-dir "$data_dir" >"$OUT/desktop-second.log" 2>&1 || second_status=$?
((second_status == 0)) ||
  fail "a second hark-desktop on the same data dir exited with $second_status (see $OUT/desktop-second.log)"
grep -q 'already running' "$OUT/desktop-second.log" ||
  fail "the second hark-desktop did not say Hark is already running (see $OUT/desktop-second.log)"
! grep -q 'panicked' "$OUT/desktop-second.log" || fail "the second hark-desktop panicked"
alive "$app_pid" || fail "the first hark-desktop died when the second started"
say "a second launch on the same data dir hands over to the first"

# SIGTERM must go through the app's exit path, which shuts the node down and
# removes its control socket.
status=0
stop "$app_pid" TERM || status=$?
app_pid=""
((status == 0)) || fail "hark-desktop exited with $status after SIGTERM (see $OUT/desktop.log)"
[[ -z $(find "$data_dir" -type s) ]] || fail "a socket was left behind: the node was not shut down"
say "ok: SIGTERM shut the node down cleanly"
