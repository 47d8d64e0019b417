# vidpipe — the front door. `make help` lists the targets.
SHELL := /bin/bash
CARGO ?= cargo
OUT ?= vidpipe-out
SAMPLE ?= samples/talk.mp4
APT_PACKAGES := ffmpeg espeak-ng bc

.PHONY: help setup system-packages rust build demo test lint fmt bench clean-out

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

system-packages: ## Install ffmpeg, espeak-ng and bc from Debian's packages (as root or with sudo)
	@missing=(); for p in ffmpeg espeak-ng bc; do command -v $$p >/dev/null || missing+=($$p); done; \
	if [ $${#missing[@]} -gt 0 ]; then \
	  sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $(APT_PACKAGES); \
	fi

rust: ## Install a Rust toolchain with rustup if there is none
	@command -v $(CARGO) >/dev/null || { curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal; }

setup: system-packages rust build ## Everything needed to run vidpipe: packages, toolchain, release build

build: ## Release build of the vidpipe command
	$(CARGO) build --release -p vidpipe-cli

demo: setup ## Make a narrated sample talk and process it (outputs in ./vidpipe-out)
	scripts/make-sample.sh $(SAMPLE) 20 >/dev/null
	target/release/vidpipe process $(SAMPLE) --out $(OUT)

test: system-packages ## Run every test (unit, stage, and end-to-end on real media)
	$(CARGO) test --workspace

lint: ## rustfmt and clippy, warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

bench: system-packages build ## Benchmarks: the one-decode transcode against plain ffmpeg
	scripts/bench-transcode.sh target/release/vidpipe

clean-out: ## Remove the demo output folder
	rm -rf $(OUT)
