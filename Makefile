# Keel top-level entry points. Every target installs what is missing first (scripts/setup.sh).
#   make run    boot the demo system (systems/demo) in QEMU on this console; ends with its verdict
#   make test   build everything (host + aarch64 + fuzz) and run every test
#   make bench  run every benchmark; prints `BENCH <name> <value> <unit>` lines
SHELL := /bin/bash
JOBS ?= $(shell nproc)

.PHONY: all setup build build-host build-host-release build-aarch64 build-fuzz test run bench clean

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

build: build-host build-aarch64 build-fuzz

test: build
	@bash scripts/test.sh

run: build-aarch64
	@bash scripts/run.sh

bench: build-aarch64 build-host-release
	@bash scripts/bench.sh

clean:
	@rm -rf build
