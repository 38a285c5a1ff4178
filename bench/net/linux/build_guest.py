#!/usr/bin/env python3
"""Builds the Linux reference guest (bench/net/README.md): Debian's arm64 kernel and an initramfs
with busybox, the virtio modules and the UDP echo server.

  build_guest.py --cache DIR --out DIR --udp-echo FILE

1. Fetches Debian's `linux-image-cloud-arm64` (the kernel package it depends on) and
   `busybox-static` for arm64 into --cache, once, with apt-get and a private apt state under
   --cache (scripts/debian_arm64.py: the machine's own dpkg gets no arm64 architecture and its
   package lists are not touched; the sources are the machine's). Later builds reuse the cached packages: delete --cache
   (or `make clean`) to refresh them.
2. Unpacks them with dpkg-deb -x; the kernel's vmlinuz becomes --cache/Image (gunzipped if needed,
   QEMU's -kernel takes the plain arm64 Image).
3. Writes --out/initramfs.cpio.gz (newc, deterministic): busybox, /init (bench/net/linux/init),
   the udhcpc script, --udp-echo as /bin/udp_echo, and virtio_mmio + virtio_net with everything
   they depend on (read from each module's .modinfo; decompressed if packed), in load order in
   /lib/modules/order. --out/Image links to the cached kernel.

When the packages cannot be obtained (no apt, no network), writes --out/UNAVAILABLE with the reason
and exits 0: the build goes on and the tests that need the guest skip with that reason. Any other
failure exits 1.
"""
import argparse
import fcntl
import gzip
import io
import lzma
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "scripts"))
import debian_arm64  # noqa: E402  (scripts/debian_arm64.py: the private arm64 apt state)

PACKAGES = ["linux-image-cloud-arm64", "busybox-static"]
ROOT_MODULES = ["virtio_mmio", "virtio_net"]


class Unavailable(Exception):
    pass


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def fetch(cache):
    """Returns the paths of the kernel image and busybox-static .debs, downloading them once."""
    debs = os.path.join(cache, "debs")
    os.makedirs(debs, exist_ok=True)

    def found():
        names = sorted(os.listdir(debs))
        kernel = [n for n in names if re.match(r"linux-image-[0-9].*-cloud-arm64(-unsigned)?_.*_arm64\.deb$", n)]
        busybox = [n for n in names if n.startswith("busybox-static_") and n.endswith("_arm64.deb")]
        if kernel and busybox:
            return os.path.join(debs, kernel[-1]), os.path.join(debs, busybox[-1])
        return None

    have = found()
    if have:
        return have
    try:
        debian_arm64.update(cache)
        # linux-image-cloud-arm64 is a metapackage: download the versioned kernel package it names.
        r = run(["apt-cache", *debian_arm64.apt_options(cache), "depends", "--no-recommends", "--no-suggests",
                 PACKAGES[0]])
        m = re.search(r"Depends: (linux-image-[0-9][^\s]*-cloud-arm64(?:-unsigned)?)", r.stdout)
        if r.returncode != 0 or not m:
            raise Unavailable(f"cannot resolve {PACKAGES[0]} for arm64: {r.stdout.strip()[:300]}")
        debian_arm64.download(cache, [m.group(1), PACKAGES[1]], debs)
    except debian_arm64.AptError as e:
        raise Unavailable(str(e)) from e
    have = found()
    if not have:
        raise Unavailable(f"apt-get download {m.group(1)} {PACKAGES[1]} (arm64) left no package in {debs}")
    return have


def unpack(cache, kernel_deb, busybox_deb):
    """Unpacks both packages into --cache/root (once per package version); returns (Image, root)."""
    root = os.path.join(cache, "root")
    stamp = os.path.join(cache, "root.stamp")
    want = os.path.basename(kernel_deb) + "\n" + os.path.basename(busybox_deb) + "\n"
    image = os.path.join(cache, "Image")
    if not (os.path.exists(stamp) and open(stamp).read() == want and os.path.exists(image)):
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
        for deb in (kernel_deb, busybox_deb):
            try:
                debian_arm64.unpack(deb, root)
            except debian_arm64.AptError as e:
                raise RuntimeError(str(e)) from e
        boot = os.path.join(root, "boot")
        vmlinuz = [n for n in os.listdir(boot) if n.startswith("vmlinuz-")]
        if len(vmlinuz) != 1:
            raise RuntimeError(f"expected one vmlinuz in {boot}, found {vmlinuz}")
        with open(os.path.join(boot, vmlinuz[0]), "rb") as f:
            data = f.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        # arm64 Image header: "ARM\x64" magic at offset 56.
        if data[56:60] != b"ARM\x64":
            raise RuntimeError(f"{vmlinuz[0]} is not an arm64 Image (gzip or plain)")
        with open(image + ".tmp", "wb") as f:
            f.write(data)
        os.replace(image + ".tmp", image)
        with open(stamp, "w") as f:
            f.write(want)
    return image, root


def module_index(root):
    """Maps module name (with '_') to its file for every module in the kernel package."""
    index = {}
    for dirpath, _, files in os.walk(os.path.join(root, "lib", "modules")):
        for n in files:
            m = re.match(r"(.+)\.ko(\.xz|\.zst|\.gz)?$", n)
            if m:
                index[m.group(1).replace("-", "_")] = os.path.join(dirpath, n)
    return index


def module_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".gz"):
        return gzip.decompress(data)
    if path.endswith(".zst"):
        r = subprocess.run(["zstd", "-dc", path], stdout=subprocess.PIPE, check=True)
        return r.stdout
    return data


def modinfo_depends(data):
    """The depends= field of a module's .modinfo section (the strings are NUL-separated)."""
    m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", data)
    if not m:
        return []
    return [d.replace("-", "_") for d in m.group(1).decode().split(",") if d]


def modules_in_load_order(root):
    index = module_index(root)
    order, seen = [], set()

    def visit(name, chain):
        if name in seen:
            return
        if name in chain:
            raise RuntimeError(f"module dependency cycle: {' -> '.join(chain + [name])}")
        if name not in index:
            raise RuntimeError(f"module {name} not in the kernel package (needed by {chain[-1] if chain else 'the guest'})")
        data = module_bytes(index[name])
        for dep in modinfo_depends(data):
            visit(dep, chain + [name])
        seen.add(name)
        order.append((name, data))

    for name in ROOT_MODULES:
        visit(name, [])
    return order


class Cpio:
    """A newc cpio archive, every entry owned by root with mtime 0 (reproducible)."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        name_b = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0]
        self.ino += 1
        self.buf.write(b"070701" + b"".join(b"%08X" % v for v in fields) + name_b)
        self.buf.write(b"\0" * (-(110 + len(name_b)) % 4))
        self.buf.write(data)
        self.buf.write(b"\0" * (-len(data) % 4))

    def dir(self, name):
        self._entry(name, 0o040755)

    def file(self, name, data, mode=0o644):
        self._entry(name, 0o100000 | mode, data)

    def symlink(self, name, target):
        self._entry(name, 0o120777, target.encode())

    def chardev(self, name, major, minor):
        self._entry(name, 0o020600, rdev=(major, minor))

    def finish(self):
        self._entry("TRAILER!!!", 0)
        return self.buf.getvalue()


def build_initramfs(root, udp_echo, out_path):
    with open(os.path.join(root, "bin", "busybox"), "rb") as f:
        busybox = f.read()
    with open(udp_echo, "rb") as f:
        echo = f.read()
    if echo[:4] != b"\x7fELF" or echo[18] != 183:  # e_machine EM_AARCH64
        raise RuntimeError(f"{udp_echo} is not an aarch64 ELF")
    with open(os.path.join(HERE, "init"), "rb") as f:
        init = f.read()
    with open(os.path.join(HERE, "udhcpc.script"), "rb") as f:
        dhcp_script = f.read()
    modules = modules_in_load_order(root)

    c = Cpio()
    for d in ("bin", "dev", "etc", "lib", "lib/modules", "proc", "sys", "tmp", "usr", "usr/share",
              "usr/share/udhcpc", "sbin"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.file("bin/busybox", busybox, 0o755)
    c.symlink("bin/sh", "busybox")
    c.file("bin/udp_echo", echo, 0o755)
    c.file("init", init, 0o755)
    c.file("usr/share/udhcpc/default.script", dhcp_script, 0o755)
    for name, data in modules:
        c.file(f"lib/modules/{name}.ko", data)
    c.file("lib/modules/order", "".join(f"{name}\n" for name, _ in modules).encode())
    data = gzip.compress(c.finish(), compresslevel=6, mtime=0)
    with open(out_path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(out_path + ".tmp", out_path)
    return [name for name, _ in modules]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", required=True, help="where the .debs and the unpacked kernel are kept")
    ap.add_argument("--out", required=True, help="where Image, initramfs.cpio.gz (or UNAVAILABLE) go")
    ap.add_argument("--udp-echo", required=True, help="the aarch64 static udp_echo program")
    args = ap.parse_args()
    cache, out = os.path.abspath(args.cache), os.path.abspath(args.out)
    os.makedirs(cache, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    unavailable = os.path.join(out, "UNAVAILABLE")
    # One builder at a time per cache (the host and host-release trees share it).
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            kernel_deb, busybox_deb = fetch(cache)
        except Unavailable as e:
            with open(unavailable, "w") as f:
                f.write(f"{e}\n")
            print(f"build_guest: Linux reference guest not built: {e}", file=sys.stderr)
            return 0
        try:
            image, root = unpack(cache, kernel_deb, busybox_deb)
            modules = build_initramfs(root, args.udp_echo, os.path.join(out, "initramfs.cpio.gz"))
        except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
            print(f"build_guest: {e}", file=sys.stderr)
            return 1
    link = os.path.join(out, "Image")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(image, link)
    if os.path.exists(unavailable):
        os.remove(unavailable)
    with open(os.path.join(out, "guest.txt"), "w") as f:
        f.write(f"kernel {os.path.basename(kernel_deb)}\nbusybox {os.path.basename(busybox_deb)}\n"
                f"modules {' '.join(modules)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
