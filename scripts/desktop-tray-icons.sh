#!/usr/bin/env bash
# Draws the tray's three states from icons/128x128.png with ImageMagick:
# idle (the mark alone), recording (a red dot), receiving (a green dot),
# each 64 px RGBA. Committed; run again only when the mark changes.
set -euo pipefail
cd "$(dirname "$0")/.."

base=icons/128x128.png
badge() {
  local out=$1 colour=$2
  convert "$base" -resize 64x64 \
    -fill "$colour" -stroke white -strokewidth 4 -draw "circle 48,48 48,32" \
    "PNG32:icons/$out"
}
convert "$base" -resize 64x64 "PNG32:icons/tray-idle.png"
badge tray-recording.png '#e02424'
badge tray-receiving.png '#1f9d55'
echo "tray icons written to icons/"
