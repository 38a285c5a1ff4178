#!/usr/bin/env python3
"""Runs scripts/qemu_run.py with a fresh 32-byte device key file (--device-key), made in a
temporary directory for this run and removed afterwards; every argument is passed through.

  run_with_key.py QEMU_RUN_ARGS... IMAGE
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
QEMU_RUN = os.path.join(HERE, "..", "..", "..", "scripts", "qemu_run.py")


def main():
    with tempfile.TemporaryDirectory(prefix="keel-devkey-") as tmp:
        key = os.path.join(tmp, "device.key")
        with open(key, "wb") as f:
            f.write(os.urandom(32))
        return subprocess.call([sys.executable, QEMU_RUN, "--device-key", key, *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
