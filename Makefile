# Keel top-level entry points. Every target installs what is missing first (scripts/setup.sh).
#   make run    a local Fleet (studio mode) and the demo device in QEMU, connected; follows the
#               device's console (Ctrl-C stops both; KEEL_RUN_SECONDS=N ends it, judged)
#   make test   build everything (host + aarch64 + fuzz) and run every test
#   make bench  run every benchmark; prints `BENCH <name> <value> <unit>` lines
SHELL := /bin/bash
JOBS ?= $(shell nproc)

.PHONY: all setup build build-host build-host-release build-aarch64 build-fuzz build-run-host test run run-demo bench clean

all: build

setup:
	@bash scripts/setup.sh

build-host: setup
	@cmake --preset host >/dev/null
	@cmake --build --preset host -j $(JOBS)

build-host-release: setup
	@cmake --preset host-release >/dev/null
	@cmake --build --preset host-release -j $(JOBS)

build-aarch64: setup
	@cmake --preset aarch64 >/dev/null
	@cmake --build --preset aarch64 -j $(JOBS)

build-fuzz: setup
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS) --target fuzz_all

# The three trees at once: host in the foreground, aarch64 and fuzz beside it at a lower priority
# (scripts/build.sh).
build: setup
	@JOBS=$(JOBS) bash scripts/build.sh

test: build
	@bash scripts/test.sh

# make run needs only Fleet, its web UI and the keel CLI from the host side (optimised build).
build-run-host: setup
	@cmake --preset host-release >/dev/null
	@cmake --build --preset host-release -j $(JOBS) --target keel-fleet keel fleet_web

run: build-aarch64 build-run-host
	@python3 scripts/run_device.py

# The demo system alone, judged by its monitor (what `make run` was before the device link).
run-demo: build-aarch64
	@bash scripts/run.sh

bench: build-aarch64 build-host-release build-fuzz
	@bash scripts/bench.sh

clean:
	@rm -rf build
