#!/usr/bin/env python3
"""Debian arm64 packages for the build, fetched with apt-get and a private apt state.

  debian_arm64.py --cache DIR [--need PATH]... PACKAGE...

Downloads each PACKAGE (arm64) into DIR/debs once and unpacks it into DIR/root with dpkg-deb -x;
every --need PATH (relative to DIR/root) must exist afterwards. Quiet and idempotent: when every
package was unpacked before (DIR/<package>.stamp names its .deb) and every --need exists, it runs
no apt command at all. Delete DIR (or `make clean`) to fetch the packages again.

The apt state (package lists, archive cache, an empty dpkg status) lives under DIR/apt with
APT::Architecture=arm64: the machine's dpkg gets no foreign architecture, its own package lists
are not touched, the sources are the machine's (/etc/apt). Nothing is installed on the machine.

Exit status 0 when everything is there; 1 with one line on stderr naming the package and the step
that failed otherwise. CMake (lib/sodium: Debian's libsodium-dev for the device) turns that into a
build error. bench/net/linux/build_guest.py imports the apt helpers (apt_options, update,
download, unpack) for the Linux reference guest, which is optional and handles AptError itself.

Never commit what this fetches: build/ is not part of the repository.
"""
import argparse
import fcntl
import os
import shutil
import subprocess
import sys


class AptError(Exception):
    """apt or dpkg-deb could not provide a package (no apt, no network, no such package...)."""


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def apt_options(cache):
    """apt-get / apt-cache options for a private arm64 apt state under `cache`/apt."""
    state = os.path.join(cache, "apt")
    for d in ("lists/partial", "cache/archives/partial"):
        os.makedirs(os.path.join(state, d), exist_ok=True)
    status = os.path.join(state, "status")
    if not os.path.exists(status):
        open(status, "w").close()
    return ["-q", "-o", f"Dir::State={state}", "-o", f"Dir::State::Lists={state}/lists",
            "-o", f"Dir::State::status={status}", "-o", f"Dir::Cache={state}/cache",
            "-o", "APT::Architecture=arm64", "-o", "APT::Architectures::=arm64",
            "-o", "APT::Sandbox::User=root", "-o", "Debug::NoLocking=1"]


def _last_line(text):
    return (text.strip().splitlines() or ["no output"])[-1]


def update(cache):
    """apt-get update of the private arm64 package lists. Returns its first warning ("" if none):
    apt-get update exits 0 when a source cannot be reached (no network), so that a failed
    download can say why."""
    if shutil.which("apt-get") is None or shutil.which("apt-cache") is None:
        raise AptError("apt-get is not installed")
    r = run(["apt-get", *apt_options(cache), "update"])
    if r.returncode != 0:
        raise AptError(f"apt-get update (arm64 package lists) failed: {_last_line(r.stdout)}")
    warnings = [l.strip() for l in r.stdout.splitlines() if l.startswith(("W:", "E:"))]
    return warnings[0][:200] if warnings else ""


def download(cache, packages, dest, why=""):
    """apt-get download of `packages` (arm64) into `dest` (after update(); `why`: its warning)."""
    os.makedirs(dest, exist_ok=True)
    r = run(["apt-get", *apt_options(cache), "download", *packages], cwd=dest)
    if r.returncode != 0:
        after = f" (apt-get update said: {why})" if why else ""
        raise AptError(f"apt-get download {' '.join(packages)} (arm64) failed: {r.stdout.strip()[-300:]}{after}")


def unpack(deb, root):
    """dpkg-deb -x `deb` into `root`."""
    r = run(["dpkg-deb", "-x", deb, root])
    if r.returncode != 0:
        raise AptError(f"dpkg-deb -x {os.path.basename(deb)} failed: {_last_line(r.stdout)}")


def _cached_deb(debs, package):
    names = sorted(n for n in os.listdir(debs) if n.startswith(package + "_") and n.endswith("_arm64.deb"))
    return os.path.join(debs, names[-1]) if names else None


def fetch(cache, packages, need):
    """Makes every package unpacked under `cache`/root and every `need` path present there."""
    root = os.path.join(cache, "root")
    debs = os.path.join(cache, "debs")

    def stamp(p):
        return os.path.join(cache, p + ".stamp")

    def done():
        return (all(os.path.exists(stamp(p)) for p in packages)
                and all(os.path.exists(os.path.join(root, n)) for n in need))

    if done():
        return root
    os.makedirs(debs, exist_ok=True)
    missing = [p for p in packages if _cached_deb(debs, p) is None]
    if missing:
        why = update(cache)
        download(cache, missing, debs, why)
    for p in packages:
        deb = _cached_deb(debs, p)
        if deb is None:
            raise AptError(f"apt-get download {p} (arm64) left no {p}_*_arm64.deb in {debs}")
        unpack(deb, root)
        with open(stamp(p), "w") as f:
            f.write(os.path.basename(deb) + "\n")
    absent = [n for n in need if not os.path.exists(os.path.join(root, n))]
    if absent:
        raise AptError(f"{' '.join(packages)} (arm64) unpacked, but without {', '.join(absent)}")
    return root


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", required=True, help="where the apt state, the .debs and root/ are kept")
    ap.add_argument("--need", action="append", default=[], help="a path under root/ that must exist")
    ap.add_argument("packages", nargs="+", help="Debian package names (fetched for arm64)")
    args = ap.parse_args()
    cache = os.path.abspath(args.cache)
    try:
        os.makedirs(cache, exist_ok=True)
        # One fetch at a time per cache (build trees configured in parallel share it).
        with open(os.path.join(cache, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            fetch(cache, args.packages, args.need)
    except (AptError, OSError) as e:
        print(f"debian_arm64: cannot provide {' '.join(args.packages)} (arm64): {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
