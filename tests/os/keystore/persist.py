#!/usr/bin/env python3
"""os.keystore_persist: the keystore's keys kept through the store (services/keystore README
"Persistence"), provisioning (`keel device provision`), and the secrets never on the console or
unsealed on the disk image. Boots (scripts/qemu_run.py, each with --disk, --device-key, virtio-rng (--rng)):

  A1  a fresh disk and device key: keys created at this start; their public keys logged;
  A2  the same disk and key (a reboot): keys loaded, the same public keys;
  B   another disk and key (a second device): other keys;
  P   an image and key made by `keel device provision --json`: keys loaded at the first boot, and
      they are the ones provisioning printed; provisioning's refusals (existing files without
      --force, a bad manifest with file:line, a manifest without the keystore's partition);
  C   the crash image (the keystore's test hook faults it after 5 requests): restarted, it reads
      its records again and the client's answers go on with the same keys.

After each boot keystore_scan (scan.cc) opens the image's sealed records with the device key file,
checks that the public keys are the logged ones, and scans the image and the console log for any
8-byte window of the private keys, the device key and the keys derived from it.

  persist.py --cpu CPU --keel KEEL --scan-tool SCAN --manifest TOML --log PREFIX
             --image ELF --crash-image ELF [--no-keys-manifest TOML]
"""
import argparse
import json
import os
import re
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
QEMU_RUN = os.path.join(HERE, "..", "..", "..", "scripts", "qemu_run.py")
DISK_BYTES = 1 << 20
KEY_RE = r"^\[keystore\] (tunnel|identity) public key ([0-9a-f]{64})$"


class Fail(Exception):
    pass


def check(ok, what):
    if not ok:
        raise Fail(what)
    print(f"persist: ok: {what}", flush=True)


def keys_in(log):
    with open(log, errors="replace") as f:
        text = f.read()
    found = re.findall(KEY_RE, text, re.MULTILINE)
    return text, [(found[i][1], found[i + 1][1]) for i in range(0, len(found) - 1, 2)
                  if found[i][0] == "tunnel" and found[i + 1][0] == "identity"]


def boot(a, image, disk, key, log, expects, timeout=120):
    cmd = [sys.executable, QEMU_RUN, "--cpu", a.cpu, "--timeout", str(timeout), "--rng", "--quiet",
           "--disk", disk, "--device-key", key, "--log", log,
           "--reject", "fatal", "--reject", "FAIL", "--reject", "fault: VM fault at 0xfa11 "]
    for e in expects + [r"\[client\] PASS"]:
        cmd += ["--expect", e]
    cmd.append(image)
    print("persist: " + " ".join(cmd), flush=True)
    rc = subprocess.call(cmd)
    if rc != 0:
        raise Fail(f"boot {os.path.basename(log)} failed (qemu_run.py exit {rc}); see {log}")
    text, keys = keys_in(log)
    if not keys:
        raise Fail(f"{log}: the keystore logged no public keys")
    return text, keys


def scan(a, disk, key, logs):
    out = subprocess.run([a.scan_tool, "--disk", disk, "--device-key", key, *sum((["--scan", l] for l in logs), [])],
                         capture_output=True, text=True)
    print(out.stdout + out.stderr, end="", flush=True)
    if out.returncode != 0:
        raise Fail(f"keystore_scan: exit {out.returncode} on {disk}")
    m = re.search(r"^keys tunnel ([0-9a-f]{64}) identity ([0-9a-f]{64})$", out.stdout, re.MULTILINE)
    return (m.group(1), m.group(2))


def fresh(tmp, name):
    disk, key = os.path.join(tmp, name + ".img"), os.path.join(tmp, name + ".key")
    with open(disk, "wb") as f:
        f.truncate(DISK_BYTES)
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    return disk, key


def keel(a, *args):
    return subprocess.run([a.keel, *args], capture_output=True, text=True)


def provisioning(a, tmp):
    disk, key = os.path.join(tmp, "p.img"), os.path.join(tmp, "p.key")
    out = keel(a, "device", "provision", "--manifest", a.manifest, "--disk", disk, "--device-key", key, "--json")
    check(out.returncode == 0, f"keel device provision --json (exit {out.returncode}: {out.stderr.strip()})")
    doc = json.loads(out.stdout)
    check(stat.S_IMODE(os.stat(key).st_mode) == 0o600 and os.path.getsize(key) == 32,
          "the device key file: 32 bytes, mode 0600")
    again = keel(a, "device", "provision", "--manifest", a.manifest, "--disk", disk, "--device-key", key)
    check(again.returncode == 1 and "already exists" in again.stderr and "--force" in again.stderr,
          "existing output files refused without --force")
    bad = os.path.join(tmp, "bad.toml")
    with open(bad, "w") as f:
        f.write("[system]\nname = \"x\"\nplatform = \"qemu-virt\"\nmemory = 12\nbogus = 1\n")
    out_bad = keel(a, "device", "provision", "--manifest", bad, "--disk", os.path.join(tmp, "x.img"),
                   "--device-key", os.path.join(tmp, "x.key"))
    check(out_bad.returncode == 1 and re.search(re.escape(bad) + r":\d+:\d+: error", out_bad.stderr),
          "a bad manifest refused with file:line:column")
    if a.no_keys_manifest:
        out_nk = keel(a, "device", "provision", "--manifest", a.no_keys_manifest, "--disk", os.path.join(tmp, "y.img"),
                      "--device-key", os.path.join(tmp, "y.key"))
        check(out_nk.returncode == 1 and re.search(r":\d+: the keystore's partition 'keys' is not in the manifest",
                                                    out_nk.stderr), "a manifest without the keystore's partition refused")
    check(not os.path.exists(os.path.join(tmp, "x.key")) and not os.path.exists(os.path.join(tmp, "y.img")),
          "nothing written when refused")
    return disk, key, doc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for opt in ("--cpu", "--keel", "--scan-tool", "--manifest", "--log", "--image", "--crash-image"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--no-keys-manifest", default=None)
    a = ap.parse_args()
    for tool in (a.keel, a.scan_tool):
        if not os.access(tool, os.X_OK):
            print(f"persist: FAIL: {tool} is not built (cmake --build build/host --target keel keystore_scan)")
            return 1
    os.makedirs(os.path.dirname(a.log), exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="keel-keystore-persist-") as tmp:
            disk_a, key_a = fresh(tmp, "a")
            _, k1 = boot(a, a.image, disk_a, key_a, a.log + ".a1.log", [r"\[keystore\] ready: .*keys created at this start \(partition 'keys'\)"])
            _, k2 = boot(a, a.image, disk_a, key_a, a.log + ".a2.log", [r"\[keystore\] ready: .*keys loaded \(partition 'keys'\)"])
            check(k1[0] == k2[0], "a reboot: the same public keys (" + k1[0][0][:16] + "...)")
            check(scan(a, disk_a, key_a, [a.log + ".a1.log", a.log + ".a2.log"]) == k1[0],
                  "device A: the image's sealed keys are the logged ones; no secret in the image or the logs")
            # The scanner's own check: the device key file holds a secret, so scanning it must fail.
            control = subprocess.run([a.scan_tool, "--disk", disk_a, "--device-key", key_a, "--scan", key_a],
                                     capture_output=True, text=True)
            check(control.returncode == 1 and "of the device key found in" in control.stdout,
                  "control: keystore_scan finds a secret where there is one (the key file itself)")
            disk_b, key_b = fresh(tmp, "b")
            _, kb = boot(a, a.image, disk_b, key_b, a.log + ".b.log", [r"keys created at this start"])
            check(kb[0][0] != k1[0][0] and kb[0][1] != k1[0][1], "a second device has other keys")
            scan(a, disk_b, key_b, [a.log + ".b.log"])
            disk_p, key_p, doc = provisioning(a, tmp)
            _, kp = boot(a, a.image, disk_p, key_p, a.log + ".p.log", [r"\[keystore\] ready: .*keys loaded"])
            check(kp[0] == (doc["tunnel_public_key_hex"], doc["identity_public_key_hex"]),
                  "the provisioned device boots with the keys keel device provision printed")
            scan(a, disk_p, key_p, [a.log + ".p.log"])
            disk_c, key_c = fresh(tmp, "c")
            text, kc = boot(a, a.crash_image, disk_c, key_c, a.log + ".c.log",
                            [r"\[keystore\] test hook: fault after 5 requests", r"keys created at this start",
                             r"\[keystore\] ready: .*keys loaded \(partition 'keys'\)"])
            check(len(kc) >= 2 and all(k == kc[0] for k in kc),
                  "the keystore's crash survived: restarted, its records read again, the same keys")
            scan(a, disk_c, key_c, [a.log + ".c.log"])
    except Fail as e:
        print(f"persist: FAIL: {e}")
        return 1
    print("persist: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
