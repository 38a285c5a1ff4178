#!/usr/bin/env bash
# `make run-demo`: boots the demo system (systems/demo, build/aarch64/images/demo.elf) in QEMU with its
# console on this terminal. The demo ends by itself: its monitor component checks every component
# and halts the machine with the verdict (exit 0 = "demo: PASS"). It runs under -icount so that
# budgets and timer deadlines are in deterministic virtual time, not at the mercy of a loaded host
# (4 s of demo time take ~15-40 s here). Non-interactive shells (CI, pipes) get a judged run with a
# timeout. KEEL_RUN_IMAGE boots another image (e.g. build/aarch64/images/keel-run.elf, the kernel
# test suite); KEEL_RUN_ARGS replaces the extra qemu_run.py arguments (default --icount).
set -euo pipefail
cd "$(dirname "$0")/.."
image=${KEEL_RUN_IMAGE:-build/aarch64/images/demo.elf}
read -r -a extra <<<"${KEEL_RUN_ARGS---icount}"
if [[ -t 0 && -t 1 ]]; then
  echo "Booting $image (quit QEMU with Ctrl-A x)"
  exec python3 scripts/qemu_run.py --interactive "${extra[@]}" "$image"
fi
exec python3 scripts/qemu_run.py --timeout "${KEEL_RUN_TIMEOUT:-180}" "${extra[@]}" "$image"
