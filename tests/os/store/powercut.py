#!/usr/bin/env python3
"""Power cuts during record writes: QEMU killed (SIGKILL from the host) at random moments.

  powercut.py [--cpu CPU] [--runs N] [--seed S] --log PREFIX IMAGE   (IMAGE: os-store-writer.elf)

One fresh disk image for all runs. In each run the writer (tests/os/store app.cc, role "writer")
reads record 0 of the encrypted partition `records` and prints "found N" (it checks the record is
whole itself: a FAIL line otherwise), then writes N+1, N+2, ... printing "wrote K" after each write
returned (the store flushed it). Once the first "wrote" line is seen the host waits a random
0-250 ms and kills QEMU with SIGKILL, then reads the rest of the console. The next run's "found"
must be the last acknowledged K or K+1 (the write in flight at the cut) — never older, never
corrupt. Prints one summary line; the whole console of a failed run is in PREFIX.<run>.log.
"""
import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "scripts"))
from qemu_run import DEVICE_KEY_ADDR  # noqa: E402


def qemu(cpu, image, disk, key):
    return ["qemu-system-aarch64", "-M", "virt,gic-version=2,virtualization=off,secure=off", "-cpu", cpu,
            "-m", "512", "-smp", "1", "-nographic", "-monitor", "none", "-no-reboot",
            "-semihosting-config", "enable=on,target=native", "-kernel", image, "-nic", "none",
            "-global", "virtio-mmio.force-legacy=false",
            "-drive", f"if=none,format=raw,file={disk.replace(',', ',,')},id=disk0",
            "-device", "virtio-blk-device,drive=disk0,bus=virtio-mmio-bus.8",
            # The disk and the rng service's device where qemu_run.py --disk and --rng put them
            # (virtio8, virtio16), and the keystore's device key (qemu_run.py --device-key's loader).
            "-object", "rng-random,filename=/dev/urandom,id=rng0",
            "-device", "virtio-rng-device,rng=rng0,bus=virtio-mmio-bus.16",
            "-device", f"loader,file={key.replace(',', ',,')},addr={DEVICE_KEY_ADDR:#x},force-raw=on",
            "-serial", "stdio"]


def one_run(args, disk, delay):
    """Boots, kills after the first acknowledged write + delay; returns (found, last acked, text)."""
    proc = subprocess.Popen(qemu(args.cpu, args.image, disk, args.device_key), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    chunks, lock = [], threading.Lock()

    def reader():
        while True:
            b = os.read(proc.stdout.fileno(), 4096)
            if not b:
                return
            with lock:
                chunks.append(b)

    t = threading.Thread(target=reader, daemon=True)
    t.start()

    def text():
        with lock:
            return b"".join(chunks).decode(errors="replace")

    deadline = time.monotonic() + 60
    while "[app] wrote " not in text():
        if time.monotonic() > deadline or proc.poll() is not None or "FAIL" in text():
            proc.kill()
            proc.wait()
            t.join(5)
            return None, None, text()
        time.sleep(0.005)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    t.join(5)
    out = text()
    m = re.search(r"\[app\] found (none|\d+)", out)
    found = None if m is None else (-1 if m.group(1) == "none" else int(m.group(1)))
    acked = [int(x) for x in re.findall(r"\[app\] wrote (\d+)", out)]
    return found, (max(acked) if acked else None), out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image")
    ap.add_argument("--cpu", default="cortex-a72")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    t0 = time.monotonic()
    last = -1  # the last acknowledged sequence number (-1: none yet)
    landed = {"acked": 0, "in flight": 0}
    writes = 0
    with tempfile.TemporaryDirectory(prefix="keel-powercut-") as tmp:
        disk = os.path.join(tmp, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(16 << 20)
        args.device_key = os.path.join(tmp, "device.key")
        with open(args.device_key, "wb") as f:
            f.write(os.urandom(32))
        for run in range(1, args.runs + 1):
            delay = rng.uniform(0, 0.25)
            found, acked, out = one_run(args, disk, delay)

            def fail(why):
                with open(f"{args.log}.{run}.log", "w") as f:
                    f.write(out)
                print(f"powercut: FAIL: run {run} (seed {seed}, delay {delay * 1000:.0f} ms): {why}; "
                      f"console in {args.log}.{run}.log")
                return 1

            if "FAIL" in out or "fatal" in out:
                return fail("the guest reported a failure")
            if found is None or acked is None:
                return fail("no 'found' or no acknowledged write")
            if run > 1:
                if found == last:
                    landed["acked"] += 1
                elif found == last + 1:
                    landed["in flight"] += 1
                else:
                    return fail(f"found {found} after the last acknowledged {last}: "
                                f"{'older' if found < last else 'newer than the write in flight'}")
            elif found != -1:
                return fail(f"a fresh disk had record {found}")
            writes += acked - max(found, 0)
            last = acked
    print(f"powercut: PASS: {args.runs} runs killed with SIGKILL at random moments (seed {seed}), {writes} record "
          f"writes acknowledged; after each cut the record was the last acknowledged one {landed['acked']} times, "
          f"the one in flight {landed['in flight']} times, never older or corrupt ({time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
