#!/usr/bin/env python3
"""Raw virtio-blk driver throughput under QEMU, with dd on the host over the same image as the
reference, in the same run.

  blk_bench.py [--cpu cortex-a72] [--mib 32] IMAGE   (IMAGE: build/aarch64/images/os-blk-bench.elf)

Makes a fresh 64 MiB raw image in a temporary directory and boots IMAGE on it (scripts/qemu_run.py
--disk, no -icount: the guest's generic timer follows the host's clock). The guest (tests/os/blk
store.cc, mode "bench") writes then reads 32 MiB sequentially in 4 KiB requests (32 in flight) and
in 64 KiB requests (16 in flight), a write run ending with a flush, 5 runs each, and prints the
medians as BENCH lines. Then dd on the host moves the same 32 MiB of the same file with the same
request sizes through the page cache, as QEMU's default cache mode (writeback) does: reads warm,
writes ending with fdatasync (conv=fdatasync), 5 runs each, medians. Prints every BENCH line and
the ratios guest / dd.
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image")
    ap.add_argument("--cpu", default="cortex-a72")
    ap.add_argument("--mib", type=int, default=32, help="MiB per run (the image's config says 32)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="keel-blk-bench-") as tmp:
        disk = os.path.join(tmp, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(64 << 20)
        out = subprocess.run([sys.executable, QEMU_RUN, "--cpu", args.cpu, "--timeout", "300", "--disk", disk,
                              "--expect", r"\[store\] PASS", args.image], capture_output=True, text=True)
        if out.returncode != 0:
            sys.stdout.write(out.stdout)
            print("blk_bench: the guest run failed", file=sys.stderr)
            return 1
        guest = {}
        for m in re.finditer(r"BENCH (\S+) ([0-9.]+) MiB/s(.*)", out.stdout):
            guest[m.group(1)] = float(m.group(2))
            print(f"BENCH {m.group(1)} {m.group(2)} MiB/s{m.group(3)}")
        host = {}
        n64, n4 = args.mib * 16, args.mib * 256
        cases = {
            "blk.host_dd_read_4k.mib_per_s": ["if=" + disk, "of=/dev/null", "bs=4k", f"count={n4}"],
            "blk.host_dd_write_4k.mib_per_s": ["if=/dev/zero", "of=" + disk, "bs=4k", f"count={n4}",
                                               "conv=notrunc,fdatasync"],
            "blk.host_dd_read.mib_per_s": ["if=" + disk, "of=/dev/null", "bs=64k", f"count={n64}"],
            "blk.host_dd_write.mib_per_s": ["if=/dev/zero", "of=" + disk, "bs=64k", f"count={n64}",
                                            "conv=notrunc,fdatasync"],
        }
        for name, dd_args in cases.items():
            secs = statistics.median(dd(dd_args) for _ in range(5))
            host[name] = args.mib / secs
            print(f"BENCH {name} {host[name]:.1f} MiB/s (dd on the host, same image, median of 5)")
        for g, h in (("blk.raw_read_4k.mib_per_s", "blk.host_dd_read_4k.mib_per_s"),
                     ("blk.raw_write_4k.mib_per_s", "blk.host_dd_write_4k.mib_per_s"),
                     ("blk.raw_read.mib_per_s", "blk.host_dd_read.mib_per_s"),
                     ("blk.raw_write.mib_per_s", "blk.host_dd_write.mib_per_s")):
            if g in guest and host.get(h):
                print(f"BENCH {g.replace('.mib_per_s', '.vs_dd')} {guest[g] / host[h]:.3f} ratio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
