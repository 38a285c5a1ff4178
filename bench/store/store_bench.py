#!/usr/bin/env python3
"""The store service's throughput under QEMU, with dd on the host over the same image as the
reference, in the same run (as bench/blk/blk_bench.py).

  store_bench.py [--cpu cortex-a72] [--rounds 3] IMAGE   (IMAGE: build/aarch64/images/os-store-bench.elf)

Boots IMAGE on a fresh 64 MiB raw image: the client (tests/os/store app.cc, role "bench") moves
8 MiB through libkeel's keel_store_write / keel_store_read in 64 KiB calls (16 blocks: the most
one store request moves; the store serves one at a time, each one synchronous device request
through the virtio-blk driver), a write run ending with keel_store_flush, 3 runs each, on the plain
partition and on the encrypted one (XChaCha20-Poly1305 per block, a metadata write and a flush per
8 blocks), and prints the medians. Then dd on the host moves 8 MiB of the same file in 64 KiB
requests (reads warm; writes ending with fdatasync). --rounds boots; the BENCH lines are the
medians over them, with the guest / dd ratio.
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
MIB = 8


def dd(args):
    t = time.monotonic()
    subprocess.run(["dd", *args, "status=none"], check=True)
    return time.monotonic() - t


def one_round(args, disk):
    out = subprocess.run([sys.executable, QEMU_RUN, "--cpu", args.cpu, "--timeout", "300", "--disk", disk,
                          "--device-key", args.device_key, "--rng",
                          "--expect", r"\[app\] PASS", "--reject", "FAIL", "--reject", "fatal", args.image],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.stdout.write(out.stdout)
        raise RuntimeError("the guest run failed")
    guest = {m.group(1): float(m.group(2)) for m in re.finditer(r"BENCH (\S+) ([0-9.]+) MiB/s", out.stdout)}
    n = MIB * 16
    host = {
        "store.host_dd_write.mib_per_s": MIB / statistics.median(
            dd(["if=/dev/zero", "of=" + disk, "bs=64k", f"count={n}", "conv=notrunc,fdatasync"]) for _ in range(3)),
        "store.host_dd_read.mib_per_s": MIB / statistics.median(
            dd(["if=" + disk, "of=/dev/null", "bs=64k", f"count={n}"]) for _ in range(3)),
    }
    return guest, host


PAIRS = (("store.write.mib_per_s", "store.host_dd_write.mib_per_s"),
         ("store.read.mib_per_s", "store.host_dd_read.mib_per_s"),
         ("store.write_encrypted.mib_per_s", "store.host_dd_write.mib_per_s"),
         ("store.read_encrypted.mib_per_s", "store.host_dd_read.mib_per_s"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image")
    ap.add_argument("--cpu", default="cortex-a72")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="keel-store-bench-") as tmp:
        disk = os.path.join(tmp, "disk.img")
        args.device_key = os.path.join(tmp, "device.key")
        with open(args.device_key, "wb") as f:
            f.write(os.urandom(32))
        try:
            for _ in range(args.rounds):
                with open(disk, "wb") as f:  # a fresh disk each boot: the store erases its partitions
                    f.truncate(64 << 20)
                rounds.append(one_round(args, disk))
        except RuntimeError as e:
            print(f"store_bench: {e}", file=sys.stderr)
            return 1
    printed = set()
    for g, h in PAIRS:
        gv = [r[0][g] for r in rounds if g in r[0]]
        hv = [r[1][h] for r in rounds]
        if not gv:
            print(f"store_bench: the guest printed no {g}", file=sys.stderr)
            return 1
        print(f"BENCH {g} {statistics.median(gv):.1f} MiB/s (median of {len(gv)} boots, each a median of 3 runs; "
              f"rounds {min(gv):.1f}..{max(gv):.1f})")
        if h not in printed:
            printed.add(h)
            print(f"BENCH {h} {statistics.median(hv):.1f} MiB/s (dd on the host, same image; "
                  f"rounds {min(hv):.1f}..{max(hv):.1f})")
        ratios = [r[0][g] / r[1][h] for r in rounds if g in r[0]]
        print(f"BENCH {g.replace('.mib_per_s', '.vs_dd')} {statistics.median(ratios):.4f} ratio (median of the rounds' ratios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
