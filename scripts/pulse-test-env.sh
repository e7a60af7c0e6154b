#!/bin/bash
# A private PulseAudio for tests that need a sound card where there is none.
#
#   scripts/pulse-test-env.sh start DIR   starts a user-mode PulseAudio whose
#       runtime and state live in DIR (created, mode 700; use a fresh temp
#       dir). Its only sink is a 48 kHz stereo null sink, "hark_test_sink",
#       which is the default sink; its monitor is the default source. On
#       success it prints, one per line, shell lines to eval:
#           export XDG_RUNTIME_DIR=...  export PULSE_SERVER=...
#           export PULSE_COOKIE=...     export PULSE_SINK=...
#           export PULSE_SOURCE=...
#           PULSE_PID=...
#   scripts/pulse-test-env.sh stop PID    stops that server, by that pid only.
#
# cpal's ALSA backend reaches the server through the `pulse` ALSA plugin
# (libasound2-plugins): with these variables exported, what is played into
# the sink (paplay) is what the default ALSA input captures, and what the
# default ALSA output plays can be recorded from the sink's monitor (parec).
# Run as root PulseAudio warns that it is not meant to, and works.
set -euo pipefail

readonly SINK=hark_test_sink

die() { echo "pulse-test-env: $*" >&2; exit 1; }

start() {
    local dir=${1:?usage: pulse-test-env.sh start DIR}
    command -v pulseaudio >/dev/null || die "pulseaudio is not installed (Debian: pulseaudio pulseaudio-utils)"
    mkdir -p -m 700 "$dir"
    dir=$(cd "$dir" && pwd)

    # Everything PulseAudio and its clients read or write stays in DIR:
    # without HOME and PULSE_COOKIE they would create ~/.config/pulse/cookie.
    export HOME=$dir
    export XDG_RUNTIME_DIR=$dir
    export PULSE_RUNTIME_PATH=$dir/pulse
    export PULSE_STATE_PATH=$dir/state
    export PULSE_COOKIE=$dir/cookie
    export PULSE_SERVER=unix:$dir/pulse/native
    unset PULSE_SINK PULSE_SOURCE

    # -n: no default.pa, so no hardware probing, D-Bus or X11 modules.
    # The loopback keeps a 20 ms stream of silence (digital zeros) playing
    # into the sink: an idle null sink renders in 2 s blocks, and a client
    # arriving then waits up to 2 s before its audio moves (or, for the
    # monitor, before any is captured).
    # auth-anonymous: the socket is in a private (700) folder already.
    pulseaudio -D -n --exit-idle-time=-1 --use-pid-file=yes \
        --realtime=no --high-priority=yes \
        --log-target=file:"$dir/pulse.log" \
        --load="module-native-protocol-unix auth-anonymous=1 socket=$dir/pulse/native" \
        --load="module-null-sink sink_name=$SINK rate=48000 channels=2" \
        --load="module-null-source source_name=hark_test_silence rate=48000 channels=2" \
        --load="module-loopback source=hark_test_silence sink=$SINK latency_msec=20 source_dont_move=true sink_dont_move=true" \
        || die "pulseaudio did not start; see $dir/pulse.log"

    local up=
    for _ in $(seq 50); do
        if pactl info >/dev/null 2>&1; then up=1; break; fi
        sleep 0.1
    done
    [ -n "$up" ] || die "pulseaudio did not answer within 5 s; see $dir/pulse.log"
    pactl set-default-sink "$SINK"
    pactl set-default-source "$SINK.monitor"

    # The sink rendered its first 2 s block before the loopback connected;
    # a suspend and resume drops it, so clients start within milliseconds.
    pactl suspend-sink "$SINK" 1
    pactl suspend-sink "$SINK" 0
    local latency=
    for _ in $(seq 20); do
        latency=$(pactl list sinks | sed -n 's/^\s*Latency: \([0-9]*\) usec.*/\1/p' | head -1)
        [ -n "$latency" ] && [ "$latency" -lt 100000 ] && break
        sleep 0.1
    done
    [ -n "$latency" ] && [ "$latency" -lt 100000 ] \
        || die "sink latency stays at ${latency:-?} us; see $dir/pulse.log"

    local pid
    pid=$(cat "$dir/pulse/pid")
    printf 'export XDG_RUNTIME_DIR=%q\n' "$dir"
    printf 'export PULSE_SERVER=%q\n' "$PULSE_SERVER"
    printf 'export PULSE_COOKIE=%q\n' "$PULSE_COOKIE"
    printf 'export PULSE_SINK=%q\n' "$SINK"
    printf 'export PULSE_SOURCE=%q\n' "$SINK.monitor"
    printf 'PULSE_PID=%s\n' "$pid"
}

stop() {
    local pid=${1:?usage: pulse-test-env.sh stop PID}
    [[ $pid =~ ^[0-9]+$ ]] || die "not a pid: $pid"
    # Only ever that pid, and only if it still is a pulseaudio (pids get reused).
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = pulseaudio ] || return 0
    kill "$pid"
    for _ in $(seq 50); do
        [ -e "/proc/$pid" ] || return 0
        sleep 0.1
    done
    die "pulseaudio $pid still running 5 s after SIGTERM"
}

case "${1:-}" in
    start) start "${2:-}" ;;
    stop) stop "${2:-}" ;;
    *) die "usage: pulse-test-env.sh start DIR | stop PID" ;;
esac
