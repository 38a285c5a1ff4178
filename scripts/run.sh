#!/usr/bin/env bash
# `make run`: boots the current main image in QEMU with its console on this terminal.
# Non-interactive shells (CI, pipes) get a judged run with a timeout instead.
set -euo pipefail
cd "$(dirname "$0")/.."
image=${KEEL_RUN_IMAGE:-build/aarch64/images/keel-run.elf}
if [[ -t 0 && -t 1 ]]; then
  echo "Booting $image (quit QEMU with Ctrl-A x)"
  exec python3 scripts/qemu_run.py --interactive "$image"
fi
exec python3 scripts/qemu_run.py --timeout "${KEEL_RUN_TIMEOUT:-120}" "$image"
