#!/usr/bin/env python3
"""The store end to end on one disk image, three boots (scripts/qemu_run.py each time):

  tamper.py [--cpu CPU] --log PREFIX IMAGE        (IMAGE: build/aarch64/images/os-store.elf)

boot 1 (app phase 1): isolation, blocks and a record written, the store's and the driver's crashes
        survived. The host then keeps a copy of the encrypted partition `secret`'s block 3 (v1).
boot 2 (phase 2): the record and blocks read back after the reboot; block 3 rewritten twice.
        The host scans the image: the app's plaintext marker must be in the plain partition (the
        scan works) and nowhere else (the encrypted partition's plaintext never reaches the disk).
        Then it tampers with `secret`: a bit flipped in block 0, blocks 1 and 2 swapped, block 3's
        v1 ciphertext put back (a replay of an old copy).
boot 3 (phase 3): the store refuses blocks 0-3 (KEEL_CORRUPT, a log line naming the partition
        and block each), block 4 and the record still read.
One device key file for the three boots (the keystore derives the partitions' keys from it).
The physical blocks come from the store's own log line ("partition 'secret': encrypted, 64 blocks
at disk block N") and the encrypted layout (services/store README: logical n at
start + (n / 42) * 43 + 1 + n % 42). Logs: PREFIX.1.log .. PREFIX.3.log.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
QEMU_RUN = os.path.join(HERE, "..", "..", "..", "scripts", "qemu_run.py")
BLOCK = 4096
MARKER = b"KEEL-STORE-PLAINTEXT-MARKER-"

COMMON_REJECT = ["fatal", "FAIL"]
BOOT = {
    1: [r"\[app\] phase 1$",
        r"\[store\] ready: 4096 blocks, 6 of 6 partitions served \(4 encrypted\), 2 clients, keys: keystore, nonces: rng",
        r"\[store\] DENIED component 'app' write of partition 'ronly' \(granted: r\)",
        r"\[store\] DENIED component 'app' read of partition 'wonly' \(granted: w\)",
        r"\[store\] DENIED component 'app' read\+write of partition 'other' \(granted: -\)",
        r"\[store\] DENIED component 'intruder' read of partition 'plain' \(granted: -\)",
        r"\[intruder\] every request denied",
        r"\[app\] isolation: r, w, rw, not granted, unknown and out-of-range requests answered as granted",
        r"\[app\] 40 blocks across a metadata group written and read back byte-exact",
        r"\[virtio_blk\] test hook: fault after 150 requests",
        r"root: virtio_blk fault: VM fault at 0xdead0000",
        r"\[store\] disk: the driver restarted",
        r"\[store\] test hook: fault after 60 requests",
        r"root: store fault: VM fault at 0xdead0000",
        r"\[store\] ready: .*\(restarted\)",
        r"\[app\] 200 requests across 1 store restart\(s\): every answer right",
        r"\[app\] PASS"],
    2: [r"\[app\] phase 2$",
        r"\[app\] after the reboot: the record and blocks 0-4 read back byte-exact",
        r"\[app\] PASS"],
    3: [r"\[app\] phase 3$",
        r"\[store\] partition 'secret' block 0: read by app refused: authentication failed",
        r"\[store\] partition 'secret' block 1: read by app refused: authentication failed",
        r"\[store\] partition 'secret' block 2: read by app refused: authentication failed",
        r"\[store\] partition 'secret' block 3: read by app refused: authentication failed",
        r"\[app\] tampering: 4 altered blocks refused \(corrupt\), nothing handed out; block 4 and the record intact",
        r"\[app\] PASS"],
}




def boot(args, disk, n):
    log = f"{args.log}.{n}.log"
    cmd = [sys.executable, QEMU_RUN, "--cpu", args.cpu, "--timeout", "90", "--log", log, "--disk", disk,
           "--device-key", args.device_key, "--rng"]
    for e in BOOT[n]:
        cmd += ["--expect", e]
    for r in COMMON_REJECT:
        cmd += ["--reject", r]
    cmd.append(args.image)
    print(f"tamper: boot {n}: {' '.join(cmd)}", flush=True)
    if subprocess.call(cmd) != 0:
        raise RuntimeError(f"boot {n} failed")
    with open(log, errors="replace") as f:
        return f.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image")
    ap.add_argument("--cpu", default="cortex-a72")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="keel-store-") as tmp:
        disk = os.path.join(tmp, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(16 << 20)
        args.device_key = os.path.join(tmp, "device.key")  # one device key for the three boots
        with open(args.device_key, "wb") as f:
            f.write(os.urandom(32))
        try:
            out = boot(args, disk, 1)
            parts = {m.group(1): (m.group(2) == "encrypted", int(m.group(3)), int(m.group(4)))
                     for m in re.finditer(r"partition '(\w+)': (plain|encrypted), (\d+) blocks at disk block (\d+)", out)}
            _, _, secret_start = parts["secret"]
            _, plain_blocks, plain_start = parts["plain"]

            def phys(n):
                return secret_start + (n // 42) * 43 + 1 + n % 42

            def read_block(f, b):
                f.seek(b * BLOCK)
                return f.read(BLOCK)

            def write_block(f, b, data):
                f.seek(b * BLOCK)
                f.write(data)

            with open(disk, "rb") as f:
                v1 = read_block(f, phys(3))
            boot(args, disk, 2)
            with open(disk, "rb") as f:
                image = f.read()
            plain = (plain_start * BLOCK, (plain_start + plain_blocks) * BLOCK)
            hits = [m.start() for m in re.finditer(re.escape(MARKER), image)]
            inside = [h for h in hits if plain[0] <= h < plain[1]]
            outside = [h for h in hits if not plain[0] <= h < plain[1]]
            if not inside:
                raise RuntimeError("the marker is not in the plain partition: the scan would prove nothing")
            if outside:
                raise RuntimeError(f"plaintext of the encrypted partition on the disk at byte {outside[0]}")
            print(f"tamper: scan: the marker {len(inside)} times in 'plain', never elsewhere in the "
                  f"{len(image) >> 20} MiB image", flush=True)
            with open(disk, "r+b") as f:
                b0 = bytearray(read_block(f, phys(0)))
                b0[100] ^= 0x08
                write_block(f, phys(0), bytes(b0))
                b1, b2 = read_block(f, phys(1)), read_block(f, phys(2))
                write_block(f, phys(1), b2)
                write_block(f, phys(2), b1)
                if read_block(f, phys(3)) == v1:
                    raise RuntimeError("block 3 did not change in boot 2: the replay would prove nothing")
                write_block(f, phys(3), v1)
            print("tamper: 'secret': bit 3 of byte 100 of block 0 flipped, blocks 1 and 2 swapped, "
                  "block 3's first version put back", flush=True)
            boot(args, disk, 3)
        except (RuntimeError, KeyError) as e:
            print(f"tamper: FAIL: {e}")
            return 1
    print("tamper: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
