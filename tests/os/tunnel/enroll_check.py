#!/usr/bin/env python3
"""Tunnel.Enroll (host tree, no QEMU): `keel device enroll` on an image made by `keel device
provision` for tests/manifest/valid/storage.toml with a plain partition `link` added. The record
is read back with the store's record code and parsed by the device's parser (enrolment_read);
enrolling again replaces it; and every refusal is checked with its message and with the image left
unchanged: missing partition, encrypted partition, bad endpoint / key / addresses, no image, not an
image, an image made for another layout.

  enroll_check.py --keel KEEL --reader ENROLMENT_READ --manifest storage.toml
"""
import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile

KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
LINK = '[[partition]]\nname = "link"\nsize = "64KiB"\nencrypted = {enc}\n\n'


def main():
    ap = argparse.ArgumentParser()
    for opt in ("--keel", "--reader", "--manifest"):
        ap.add_argument(opt, required=True)
    a = ap.parse_args()
    with open(a.manifest) as f:
        base = f.read().replace('name = "keys"\nsize = "64KiB"\nencrypted = true',
                                'name = "keys"\nsize = "64KiB"\nencrypted = false')
    at = base.index("\n[[partition]]\n") + 1
    with_link = base[:at] + LINK.format(enc="false") + base[at:]
    enc_link = base[:at] + LINK.format(enc="true") + base[at:]
    failures = []

    def check(ok, what):
        print(("ok: " if ok else "FAIL: ") + what, flush=True)
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory(prefix="keel-enroll-") as tmp:
        def manifest(text, name):
            p = os.path.join(tmp, name + ".toml")
            with open(p, "w") as f:
                f.write(text)
            return p

        def provision(m, name):
            disk, key = os.path.join(tmp, name + ".img"), os.path.join(tmp, name + ".key")
            r = subprocess.run([a.keel, "device", "provision", "--manifest", m, "--disk", disk, "--device-key", key],
                               capture_output=True, text=True)
            check(r.returncode == 0, f"provision {name} (exit {r.returncode}: {r.stderr.strip()})")
            return disk

        def enroll(m, disk, endpoint="10.0.2.2:51820", key=KEY, address="10.64.0.2", *extra):
            return subprocess.run([a.keel, "device", "enroll", "--manifest", m, "--disk", disk, "--fleet-endpoint",
                                   endpoint, "--fleet-key", key, "--address", address, *extra],
                                  capture_output=True, text=True)

        def digest(p):
            with open(p, "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()

        m = manifest(with_link, "link")
        disk = provision(m, "link")
        r = enroll(m, disk)
        check(r.returncode == 0, f"enroll (exit {r.returncode}: {r.stderr.strip()})")
        blk = re.search(r"record 1 of partition 'link', block ([0-9]+)", r.stdout)
        check(blk is not None, "enroll names the record's block")
        start = str(int(blk.group(1)) - 2) if blk else "0"
        want = f"fleet_endpoint=10.0.2.2:51820\nfleet_key={KEY}\naddress=10.64.0.2\nfleet_address=10.64.0.1\n"
        rd = subprocess.run([a.reader, disk, start], capture_output=True, text=True)
        check(rd.returncode == 0 and rd.stdout == want, f"record 1 read back with the store's code and parsed: {rd.stdout!r}")
        r = enroll(m, disk, "192.168.7.1:4000", KEY, "10.64.0.9", "--fleet-address", "10.64.0.1")
        rd = subprocess.run([a.reader, disk, start], capture_output=True, text=True)
        check(r.returncode == 0 and "fleet_endpoint=192.168.7.1:4000\n" in rd.stdout and "address=10.64.0.9\n" in rd.stdout,
              "enrolling again replaces the record")
        before = digest(disk)

        def refused(res, pattern, what):
            ok = res.returncode == 1 and re.search(pattern, res.stderr) is not None and digest(disk) == before
            check(ok, f"refused: {what} ({res.stderr.strip()})")

        refused(enroll(m, disk, "10.0.2.2"), r"--fleet-endpoint '10\.0\.2\.2': expected IPv4:port", "endpoint without a port")
        refused(enroll(m, disk, "host:51820"), r"--fleet-endpoint 'host:51820': expected IPv4:port", "endpoint by name")
        refused(enroll(m, disk, "10.0.2.2:0"), r"expected IPv4:port", "port 0")
        refused(enroll(m, disk, key="abc"), r"--fleet-key 'abc': expected the base64 of 32 bytes", "short key")
        refused(enroll(m, disk, key=KEY[:-1] + "A"), r"--fleet-key .*expected the base64 of 32 bytes", "key without padding")
        refused(enroll(m, disk, address="10.64.0"), r"--address '10\.64\.0': expected an IPv4 address", "bad address")
        refused(enroll(m, disk, "10.0.2.2:1", KEY, "10.64.0.2", "--fleet-address", "300.1.1.1"),
                r"--fleet-address '300\.1\.1\.1': expected an IPv4 address", "bad fleet address")
        refused(enroll(m, disk, "10.0.2.2:1", KEY, "10.64.0.1"), r"--address and --fleet-address are the same", "same addresses")
        nolink = manifest(base, "nolink")
        refused(enroll(nolink, disk), r"no partition 'link' served by a component 'store'", "missing partition")
        enc = manifest(enc_link, "enc")
        refused(enroll(enc, disk), r"partition 'link' is encrypted", "encrypted partition")
        r = enroll(m, os.path.join(tmp, "none.img"))
        check(r.returncode == 1 and "cannot open" in r.stderr and "keel device provision" in r.stderr, "refused: no image")
        junk = os.path.join(tmp, "junk.img")
        with open(junk, "wb") as f:
            f.write(b"\0" * (1 << 20))
        r = enroll(m, junk)
        check(r.returncode == 1 and "not a device disk image" in r.stderr, f"refused: not an image ({r.stderr.strip()})")
        other = provision(manifest(base, "other"), "other")
        r = enroll(m, other)
        check(r.returncode == 1 and re.search(r"was not made for .*: its partition 'link' is missing", r.stderr) is not None,
              f"refused: an image for another layout ({r.stderr.strip()})")
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
