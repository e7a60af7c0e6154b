#!/usr/bin/env bash
# Desktop footprint: start-up time to a usable window and idle memory (PSS
# of the app and every process it started: the WebKit web and network
# processes) for Hark's desktop app and for a bare Tauri window
# (benches/bare-window), both release builds, each on a fresh Xvfb.
#
#   scripts/desktop-footprint.sh HARK_BIN BARE_BIN [RUNS]
#
# "Usable" means the page has drawn: the window's screenshot shows more
# than a handful of colours. Prints a Markdown table. Stops only the
# processes it started, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

HARK_BIN=${1:?usage: desktop-footprint.sh HARK_BIN BARE_BIN [RUNS]}
BARE_BIN=${2:?usage: desktop-footprint.sh HARK_BIN BARE_BIN [RUNS]}
RUNS=${3:-5}
IDLE_SECONDS=10
MIN_COLOURS=16

xvfb_pid=""
app_pid=""
work=$(mktemp -d)

cleanup() {
  [[ -n $app_pid ]] && kill "$app_pid" 2>/dev/null && wait "$app_pid" 2>/dev/null
  [[ -n $xvfb_pid ]] && kill "$xvfb_pid" 2>/dev/null && wait "$xvfb_pid" 2>/dev/null
  rm -rf "$work"
  return 0
}
trap cleanup EXIT

free_display() {
  local n
  for n in $(seq 181 220); do
    [[ ! -e /tmp/.X$n-lock && ! -e /tmp/.X11-unix/X$n ]] && { echo "$n"; return; }
  done
  echo "no free display" >&2
  exit 1
}

descendants() {
  # The pid and all its descendants, from /proc (no pgrep by name).
  local pid=$1 child
  echo "$pid"
  for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
    descendants "$child"
  done
}

pss_kib() {
  local total=0 pid kib
  for pid in $(descendants "$1"); do
    kib=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
    total=$((total + ${kib:-0}))
  done
  echo "$total"
}

now_ms() { date +%s%3N; }

# measure NAME TITLE COMMAND...: prints "start_ms pss_kib"
measure() {
  local title=$1 started window colours start_ms
  shift
  local n
  n=$(free_display)
  Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
  xvfb_pid=$!
  while [[ ! -e /tmp/.X11-unix/X$n ]]; do sleep 0.05; done
  export DISPLAY=":$n"

  started=$(now_ms)
  "$@" >"$work/app.log" 2>&1 &
  app_pid=$!
  window=""
  until [[ -n $window ]]; do
    window=$(xdotool search --onlyvisible --name "^$title\$" 2>/dev/null | head -1 || true)
    sleep 0.02
  done
  colours=0
  until ((colours > MIN_COLOURS)); do
    colours=$(import -window "$window" png:- 2>/dev/null | identify -format %k - 2>/dev/null || echo 0)
  done
  start_ms=$(($(now_ms) - started))

  sleep "$IDLE_SECONDS"
  echo "$start_ms $(pss_kib "$app_pid")"

  kill "$app_pid"
  wait "$app_pid" 2>/dev/null || true
  app_pid=""
  kill "$xvfb_pid"
  wait "$xvfb_pid" 2>/dev/null || true
  xvfb_pid=""
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

report() {
  local name=$1 title=$2
  shift 2
  local i line starts=() pss=()
  for i in $(seq "$RUNS"); do
    line=$(measure "$title" "$@")
    starts+=("${line% *}")
    pss+=("${line#* }")
  done
  printf '| %s | %s ms | %s MiB |\n' "$name" \
    "$(printf '%s\n' "${starts[@]}" | median)" \
    "$(( $(printf '%s\n' "${pss[@]}" | median) / 1024 ))"
}

echo "| app | start-up to a drawn window (median of $RUNS) | idle PSS, all processes (median) |"
echo "|---|---|---|"
report "bare Tauri window" Bare "$BARE_BIN"
# A named data dir so the first-start prompt is not what is measured.
mkdir -p "$work/hark"
printf '{"display_name": "Footprint"}\n' >"$work/hark/desktop.json"
report "Hark (node running, idle)" Hark env HARK_AUDIO=null "$HARK_BIN" --data-dir "$work/hark" --no-mdns
