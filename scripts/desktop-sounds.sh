#!/usr/bin/env bash
# Makes the start and stop cues in assets/ with sox: two short sine chirps,
# rising for "recording started", falling for "stopped", with soft edges so
# they do not click. 48 kHz mono 16-bit WAV, as the app plays them directly.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p assets
make_cue() {
  local out=$1 from=$2 to=$3
  sox -n -r 48000 -c 1 -b 16 "assets/$out" \
    synth 0.12 sine "$from-$to" fade h 0.01 0.12 0.04 gain -6
}
make_cue start.wav 660 990
make_cue stop.wav 990 660
echo "made assets/start.wav and assets/stop.wav"
