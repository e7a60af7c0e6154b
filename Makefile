# Hark's two commands:
#   make run    install what is missing, build, start Hark
#   make test   the same set-up and build, then every check
# Both start with scripts/setup.sh, which is quiet when nothing is missing.
# The front end is built first: tauri-build (src-tauri) refuses to compile
# without ui/dist.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
NPM ?= npm
# Extra arguments for the desktop app, e.g. make run ARGS="--data-dir /tmp/h".
ARGS ?=

# $(call step,what): a visible header before each step.
step = @printf '\n==> %s\n' '$(1)'

# The front end, then every cargo package (so the app and the `hark`
# command are both there). Used by `build` and, mid-way, by `test`.
define compile
$(call step,front end: vite build)
@cd ui && $(NPM) run --silent build -- --logLevel warn
$(call step,cargo build)
@$(CARGO) build --workspace
endef

.PHONY: help setup build run test deb

help:
	@echo 'make run    install what is missing, build, and start Hark'
	@echo 'make test   install, build, and run every check'
	@echo 'make build  install and build only'
	@echo 'make deb    build the Debian package (release build, several minutes)'

setup:
	@scripts/setup.sh

build: setup
	$(compile)

run: build
	@if [[ -n "$${DISPLAY:-}" || -n "$${WAYLAND_DISPLAY:-}" ]]; then \
	  exec target/debug/hark-desktop $(ARGS); \
	fi; \
	echo; \
	echo 'Hark is built, but there is no display (DISPLAY and WAYLAND_DISPLAY are unset),'; \
	echo 'so the desktop window cannot open. Start a headless node instead:'; \
	echo '  target/debug/hark node'; \
	echo 'and see what else the command line does with:'; \
	echo '  target/debug/hark --help'

# Cheapest checks first, so a formatting slip fails in seconds, not minutes.
test: setup
	$(call step,cargo fmt --check)
	@$(CARGO) fmt --all -- --check
	$(call step,front end: tsc --noEmit)
	@cd ui && $(NPM) run --silent check
	$(call step,front end: vitest)
	@cd ui && $(NPM) run --silent test
	$(compile)
	$(call step,cargo clippy)
	@$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(call step,cargo test)
	@$(CARGO) test --workspace
	$(call step,desktop smoke test)
	@scripts/desktop-smoke.sh
	$(call step,desktop under WebDriver: two nodes; a message received and played; recordings sent)
	@scripts/webdriver-test.sh
	@printf '\nall checks passed\n'

# The Debian package: a release build by the Tauri bundler (its CLI comes
# with the front end's npm packages), then a look inside the .deb.
deb: setup
	$(call step,front end: vite build)
	@cd ui && $(NPM) run --silent build -- --logLevel warn
	$(call step,tauri build --bundles deb)
	@cd src-tauri && ../ui/node_modules/.bin/tauri build --bundles deb
	$(call step,inspect the .deb)
	@scripts/desktop-deb-check.sh
