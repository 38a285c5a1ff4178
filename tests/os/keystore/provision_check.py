#!/usr/bin/env python3
"""Keystore.Provision (host tree, no QEMU): `keel device provision` on a copy of
tests/manifest/valid/storage.toml, checked with keystore_scan (the image's sealed records open
with the key file and give the public keys it printed; no secret in the image or the output) and
its refusals: an encrypted keystore partition, a keystore without rw on it, a --disk-size too small
or not a multiple of 4 KiB.

  provision_check.py --keel KEEL --scan-tool SCAN --manifest storage.toml
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    for opt in ("--keel", "--scan-tool", "--manifest"):
        ap.add_argument(opt, required=True)
    a = ap.parse_args()
    with open(a.manifest) as f:
        base = f.read()
    failures = []

    def check(ok, what):
        print(("ok: " if ok else "FAIL: ") + what, flush=True)
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory(prefix="keel-provision-") as tmp:
        def provision(text, *extra, name="m"):
            path = os.path.join(tmp, name + ".toml")
            with open(path, "w") as f:
                f.write(text)
            disk, key = os.path.join(tmp, name + ".img"), os.path.join(tmp, name + ".key")
            r = subprocess.run([a.keel, "device", "provision", "--manifest", path, "--disk", disk,
                                "--device-key", key, *extra], capture_output=True, text=True)
            return r, disk, key

        plain = base.replace('name = "keys"\nsize = "64KiB"\nencrypted = true', 'name = "keys"\nsize = "64KiB"\nencrypted = false')
        check(plain != base, "the manifest's keys partition made plain")
        r, disk, key = provision(plain, "--json", name="ok")
        check(r.returncode == 0, f"provision --json (exit {r.returncode}: {r.stderr.strip()})")
        doc = json.loads(r.stdout)
        check(os.path.getsize(disk) == doc["disk_bytes"] and doc["disk_bytes"] % (1 << 20) == 0, "image size")
        check(len(doc["tunnel_public_key"]) == 44 and doc["tunnel_public_key"].endswith("="), "base64 public keys")
        out = os.path.join(tmp, "stdout.txt")
        with open(out, "w") as f:
            f.write(r.stdout + r.stderr)
        s = subprocess.run([a.scan_tool, "--disk", disk, "--device-key", key, "--scan", out], capture_output=True, text=True)
        print(s.stdout + s.stderr, end="")
        m = re.search(r"^keys tunnel ([0-9a-f]{64}) identity ([0-9a-f]{64})$", s.stdout, re.MULTILINE)
        check(s.returncode == 0 and m is not None, "keystore_scan: the records open, no secret in the image or the output")
        check(m is not None and (m.group(1), m.group(2)) == (doc["tunnel_public_key_hex"], doc["identity_public_key_hex"]),
              "the sealed keys are the printed ones")
        r2, _, _ = provision(plain, "--force", name="ok")
        check(r2.returncode == 0 and "tunnel public key (X25519):" in r2.stdout, "--force overwrites; text output")

        r, disk, key = provision(base, name="enc")
        check(r.returncode == 1 and re.search(r"enc\.toml:\d+: the keystore's partition 'keys' is encrypted", r.stderr)
              and not os.path.exists(disk) and not os.path.exists(key), "an encrypted keystore partition refused")
        r, disk, key = provision(plain.replace('partitions = { keys = "rw" }', 'partitions = { keys = "r" }'), name="ro")
        check(r.returncode == 1 and "may not read and write its partition 'keys'" in r.stderr, "a read-only grant refused")
        r, _, _ = provision(plain, "--disk-size", "64KiB", name="small")
        check(r.returncode == 1 and "smaller than the manifest's partitions" in r.stderr, "--disk-size too small refused")
        r, _, _ = provision(plain, "--disk-size", "5000", name="odd")
        check(r.returncode == 1 and "multiple of 4 KiB" in r.stderr, "--disk-size not a multiple of 4 KiB refused")
        r = subprocess.run([a.keel, "device", "provision", "--help"], capture_output=True, text=True)
        check(r.returncode == 0 and "Example:" in r.stdout, "--help with an example")
    print("provision_check: " + ("PASS" if not failures else f"FAIL ({len(failures)})"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
