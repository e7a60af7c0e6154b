#!/usr/bin/env bash
# Draws Hark's icons into icons/ with ImageMagick: a rounded blue square
# holding a white speech bubble with a blue voice wave (five rounded bars).
# The PNGs are committed, so this only runs again when the mark changes.
# Tauri wants 8-bit RGBA PNGs, hence the PNG32: prefix on every output.
set -euo pipefail
cd "$(dirname "$0")/.."

out=icons
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
master="$tmp/master.png"

# Bars of the wave: x from 292 in steps of 96, 56 wide, centred on y=472.
wave=()
x=292
for height in 120 240 320 200 100; do
  top=$((472 - height / 2))
  wave+=(-draw "roundrectangle $x,$top $((x + 56)),$((top + height)) 28,28")
  x=$((x + 96))
done

# Master at 1024 px; every size is scaled down from it so edges stay smooth.
convert -size 1024x1024 gradient:'#4f8ff0-#2456c0' \
  \( -size 1024x1024 xc:none -fill white -draw "roundrectangle 48,48 975,975 210,210" \) \
  -alpha set -compose dst-in -composite -compose over \
  -fill white \
  -draw "roundrectangle 176,232 848,712 170,170" \
  -draw "polygon 300,660 276,860 470,700" \
  -fill '#2f6fdb' "${wave[@]}" \
  "PNG32:$master"

mkdir -p "$out"
convert "$master" -resize 32x32 "PNG32:$out/32x32.png"
convert "$master" -resize 128x128 "PNG32:$out/128x128.png"
convert "$master" -resize 256x256 "PNG32:$out/128x128@2x.png"
convert "$master" -resize 512x512 "PNG32:$out/icon.png"
echo "icons written to $out/"
