#!/usr/bin/env bash
# Inspects the .deb made by `make deb` (Tauri's bundler) without installing
# it: package fields and dependencies (dpkg-deb -I), the binary, the
# desktop entry and the icons (dpkg-deb -c), and the desktop entry's Exec
# and Icon lines. Prints what it checked; exits non-zero on the first miss.
set -euo pipefail
cd "$(dirname "$0")/.."

deb=${1:-$(ls -t target/release/bundle/deb/*.deb 2>/dev/null | head -1)}
[[ -n $deb && -f $deb ]] || { echo "desktop-deb-check: no .deb (run make deb)" >&2; exit 1; }

say() { printf 'desktop-deb-check: %s\n' "$*"; }
fail() { say "FAIL: $*" >&2; exit 1; }

info=$(dpkg-deb -I "$deb")
# Paths as dpkg-deb lists them, without a leading "./" (bundlers differ).
contents=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./||')

field() { sed -n "s/^ $1: //p" <<<"$info"; }
[[ $(field Package) == hark ]] || fail "package name is '$(field Package)', not hark"
depends=$(field Depends)
for dep in libwebkit2gtk-4.1-0 libgtk-3-0 libayatana-appindicator3-1 libasound2; do
  grep -q "$dep" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
say "package $(field Package) $(field Version), $(field Installed-Size) KiB installed"

for path in usr/bin/hark-desktop usr/share/applications/Hark.desktop; do
  grep -qx "$path" <<<"$contents" || fail "$path is not in the package"
done
icons=$(grep -c '^usr/share/icons/hicolor/.*/apps/hark-desktop.png$' <<<"$contents" || true)
((icons >= 2)) || fail "only $icons icon sizes in the package"
say "binary, desktop entry and $icons icon sizes present"

entry=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards '*usr/share/applications/Hark.desktop')
grep -qx 'Exec=hark-desktop' <<<"$entry" || fail "desktop entry Exec is not hark-desktop: $entry"
grep -qx 'Icon=hark-desktop' <<<"$entry" || fail "desktop entry Icon is not hark-desktop"
grep -q '^Categories=' <<<"$entry" || fail "desktop entry has no Categories"
say "ok: $deb"
