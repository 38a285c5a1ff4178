#!/usr/bin/env python3
"""Raw virtio-blk driver throughput under QEMU, with dd on the host over the same image as the
reference, in the same run.

  blk_bench.py [--cpu cortex-a72] [--mib 32] IMAGE   (IMAGE: build/aarch64/images/os-blk-bench.elf)

Makes a fresh 64 MiB raw image in a temporary directory and boots IMAGE on it (scripts/qemu_run.py
--disk, no -icount: the guest's generic timer follows the host's clock). The guest (tests/os/blk
store.cc, mode "bench") writes then reads 32 MiB sequentially in 4 KiB requests (32 in flight) and
in 64 KiB requests (16 in flight), a write run ending with a flush, 5 runs each, and prints the
medians. Then dd on the host moves the same 32 MiB of the same file with the same request sizes
through the page cache, as QEMU's default cache mode (writeback) does: reads warm, writes ending
with fdatasync (conv=fdatasync, as the guest's flush does), 5 runs each, medians. That is one
round; --rounds (3) of them, and the BENCH lines are the medians over the rounds, with the
ratios guest / dd (the median of each round's ratio: the host's load moves both).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
QEMU_RUN = os.path.join(HERE, "..", "..", "scripts", "qemu_run.py")


def dd(args):
    t = time.monotonic()
    subprocess.run(["dd", *args, "status=none"], check=True)
    return time.monotonic() - t


def one_round(args, disk):
    """One guest boot and the dd runs after it: ({guest figure: MiB/s}, {host figure: MiB/s})."""
    out = subprocess.run([sys.executable, QEMU_RUN, "--cpu", args.cpu, "--timeout", "300", "--disk", disk,
                          "--expect", r"\[store\] PASS", args.image], capture_output=True, text=True)
    if out.returncode != 0:
        sys.stdout.write(out.stdout)
        raise RuntimeError("the guest run failed")
    guest = {m.group(1): float(m.group(2)) for m in re.finditer(r"BENCH (\S+) ([0-9.]+) MiB/s", out.stdout)}
    n64, n4 = args.mib * 16, args.mib * 256
    cases = {
        "blk.host_dd_write_4k.mib_per_s": ["if=/dev/zero", "of=" + disk, "bs=4k", f"count={n4}", "conv=notrunc,fdatasync"],
        "blk.host_dd_read_4k.mib_per_s": ["if=" + disk, "of=/dev/null", "bs=4k", f"count={n4}"],
        "blk.host_dd_write.mib_per_s": ["if=/dev/zero", "of=" + disk, "bs=64k", f"count={n64}", "conv=notrunc,fdatasync"],
        "blk.host_dd_read.mib_per_s": ["if=" + disk, "of=/dev/null", "bs=64k", f"count={n64}"],
    }
    host = {name: args.mib / statistics.median(dd(a) for _ in range(5)) for name, a in cases.items()}
    return guest, host


PAIRS = (("blk.raw_write_4k.mib_per_s", "blk.host_dd_write_4k.mib_per_s"),
         ("blk.raw_read_4k.mib_per_s", "blk.host_dd_read_4k.mib_per_s"),
         ("blk.raw_write.mib_per_s", "blk.host_dd_write.mib_per_s"),
         ("blk.raw_read.mib_per_s", "blk.host_dd_read.mib_per_s"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image")
    ap.add_argument("--cpu", default="cortex-a72")
    ap.add_argument("--mib", type=int, default=32, help="MiB per run (the image's config says 32)")
    ap.add_argument("--rounds", type=int, default=3, help="guest boots, each followed by its dd runs")
    args = ap.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="keel-blk-bench-") as tmp:
        disk = os.path.join(tmp, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(64 << 20)
        try:
            for _ in range(args.rounds):
                rounds.append(one_round(args, disk))
        except RuntimeError as e:
            print(f"blk_bench: {e}", file=sys.stderr)
            return 1
    for g, h in PAIRS:
        gv = [r[0][g] for r in rounds if g in r[0]]
        hv = [r[1][h] for r in rounds]
        if not gv:
            print(f"blk_bench: the guest printed no {g}", file=sys.stderr)
            return 1
        spread = f"rounds {min(gv):.1f}..{max(gv):.1f}"
        print(f"BENCH {g} {statistics.median(gv):.1f} MiB/s (median of {len(gv)} boots, each a median of 5 runs; {spread})")
        print(f"BENCH {h} {statistics.median(hv):.1f} MiB/s (dd on the host, same image; rounds {min(hv):.1f}..{max(hv):.1f})")
        ratios = [r[0][g] / r[1][h] for r in rounds if g in r[0]]
        print(f"BENCH {g.replace('.mib_per_s', '.vs_dd')} {statistics.median(ratios):.3f} ratio (median of the rounds' ratios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
