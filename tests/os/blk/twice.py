#!/usr/bin/env python3
"""Boots one Keel image twice in a row (scripts/qemu_run.py each time) and judges both runs.

  twice.py [--disk-size SIZE] [--expect1 RE]... [--expect2 RE]... [--differ RE]
           --log PREFIX -- QEMU_RUN_ARGS... IMAGE

--disk-size makes one fresh zeroed image in a temporary directory, given to both runs with
--disk (a reboot: the second run sees what the first wrote; parallel runs of this script never
share an image), removed afterwards. --expect1 / --expect2 are passed to the first / second run
only. --differ RE: group 1 of RE's first match must be found in both runs' consoles and differ
(two boots draw different random bytes). Logs: PREFIX.1.log and PREFIX.2.log.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
QEMU_RUN = os.path.join(HERE, "..", "..", "..", "scripts", "qemu_run.py")
sys.path.insert(0, os.path.dirname(QEMU_RUN))
from qemu_run import parse_size  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--disk-size", default=None)
    ap.add_argument("--expect1", action="append", default=[])
    ap.add_argument("--expect2", action="append", default=[])
    ap.add_argument("--differ", default=None)
    ap.add_argument("--log", required=True)
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    try:
        size = parse_size(args.disk_size) if args.disk_size else 0
    except ValueError as e:
        ap.error(str(e))
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    if not rest:
        ap.error("no qemu_run.py arguments / image after --")
    with tempfile.TemporaryDirectory(prefix="keel-twice-") as tmp:
        disk = []
        if args.disk_size:
            path = os.path.join(tmp, "disk.img")
            with open(path, "wb") as f:
                f.truncate(size)
            disk = ["--disk", path]
        found = []
        for run, expects in ((1, args.expect1), (2, args.expect2)):
            log = f"{args.log}.{run}.log"
            cmd = [sys.executable, QEMU_RUN, "--log", log, *disk]
            for e in expects:
                cmd += ["--expect", e]
            cmd += rest
            print(f"twice: run {run}: {' '.join(cmd)}", flush=True)
            rc = subprocess.call(cmd)
            if rc != 0:
                print(f"twice: FAIL: run {run} failed (qemu_run.py exit {rc})")
                return 1
            if args.differ:
                with open(log, errors="replace") as f:
                    m = re.search(args.differ, f.read(), re.MULTILINE)
                if not m:
                    print(f"twice: FAIL: run {run}: /{args.differ}/ not found")
                    return 1
                found.append(m.group(1))
        if args.differ and found[0] == found[1]:
            print(f"twice: FAIL: both runs gave {found[0]!r} for /{args.differ}/")
            return 1
    print("twice: PASS" + (f" ({found[0]} != {found[1]})" if args.differ else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
