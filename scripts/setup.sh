#!/usr/bin/env bash
# Installs what building and testing Hark needs, and only what is missing:
# Debian packages, the rustfmt and clippy components, and ui/node_modules.
# Quiet when everything is already there. Called by `make run` / `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: webkit2gtk (brings GTK, soup, JavaScriptCore), ALSA, cmake for
# libopus, the usual toolchain. Run time: appindicator, the ALSA pulse
# plugin, PulseAudio. Tests: Xvfb, ImageMagick, xdotool, WebKitWebDriver,
# trayer, espeak-ng, sox, opus-tools, iproute2, zbar-tools (reads the
# invite QR code back), dunst (a notification server for the test's
# session bus), python3 (the WebDriver
# test's runner needs only its standard library).
PACKAGES=(
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev
  libxdo-dev libssl-dev pkg-config build-essential cmake
  libasound2-dev libasound2-plugins libopus-dev
  xvfb xauth webkit2gtk-driver imagemagick xdotool dbus-x11
  pulseaudio pulseaudio-utils espeak-ng sox opus-tools trayer iproute2 faketime zbar-tools
  dunst strace
  python3
)

# vite 8 needs one of these Node versions.
NODE_MIN_MAJOR=20
NODE_MIN_MINOR=19

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

need_command() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is missing. $2"
}

check_tools() {
  need_command cargo "Install Rust from https://rustup.rs"
  need_command node "Install Node.js 20.19 or newer (https://nodejs.org)"
  need_command npm "Install npm (it comes with Node.js)"

  local version major minor
  version=$(node --version)
  IFS=. read -r major minor _ <<<"${version#v}"
  if ((major < NODE_MIN_MAJOR || (major == NODE_MIN_MAJOR && minor < NODE_MIN_MINOR))); then
    die "Node.js $version is too old: vite needs $NODE_MIN_MAJOR.$NODE_MIN_MINOR or newer"
  fi
}

missing_packages() {
  local pkg status
  for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || printf '%s\n' "$pkg"
  done
}

install_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    say "not a Debian system: install the equivalents of these yourself: ${PACKAGES[*]}"
    return
  fi

  local missing
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]} == 0)) && return

  if ((EUID != 0)); then
    die "missing Debian packages: ${missing[*]}
  install them as root with:
  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
  fi

  say "installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_rust_components() {
  # A minimal rustup profile has neither; `make test` runs both.
  local component
  for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
      need_command rustup "cargo $component is missing and rustup is not there to add it"
      say "adding the $component component"
      rustup component add "$component"
    fi
  done
}

install_tauri_driver() {
  # The WebDriver test drives the real window through tauri-driver, which
  # starts Debian's WebKitWebDriver. A few minutes to build, once.
  command -v tauri-driver >/dev/null 2>&1 && return
  say "installing tauri-driver (cargo install, a few minutes)"
  cargo install tauri-driver --locked --quiet
}

install_node_modules() {
  # npm writes node_modules/.package-lock.json on every install: older than
  # package-lock.json means the lock file changed since.
  local stamp=ui/node_modules/.package-lock.json
  if [[ -f $stamp && ! ui/package-lock.json -nt $stamp ]]; then
    return
  fi
  say "installing the front end's npm packages (npm ci)"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
}

check_tools
install_packages
install_rust_components
install_tauri_driver
install_node_modules
