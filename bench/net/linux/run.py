#!/usr/bin/env python3
"""Runs the Linux reference guest (bench/net/README.md) in Keel's QEMU configuration through
scripts/qemu_run.py, with the host's udp_load driving its UDP echo.

  run.py test  --guest DIR --udp-load FILE [--log FILE]    the CTest test net.linux_echo
  run.py bench --guest DIR --udp-load FILE [--runs 3] [--window 64] [--seconds 10] [--size 64]
  run.py shell --guest DIR [--host-port P]                 the guest on this console (Ctrl-a x ends)

DIR is the guest build_guest.py made (Image, initramfs.cpio.gz, or UNAVAILABLE with the reason):
`test` exits 77 (CTest's skip) with that reason when the packages could not be obtained.
`bench` prints `BENCH net.linux_udp_echo.pps <median of the runs> pps` (real time, no -icount).
Every mode prints the qemu_run.py command it runs.
"""
import argparse
import os
import shlex
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
QEMU_RUN = os.path.join(REPO, "scripts", "qemu_run.py")
GUEST_PORT = 7
READY = r"udp_echo: ready on port \d+"
APPEND = f"console=ttyAMA0 loglevel=4 panic=-1 echo_port={GUEST_PORT}"
SKIP = 77


def guest_files(guest):
    """(Image, initramfs) or exits: 77 with the reason when the guest could not be built."""
    unavailable = os.path.join(guest, "UNAVAILABLE")
    image, initrd = os.path.join(guest, "Image"), os.path.join(guest, "initramfs.cpio.gz")
    if os.path.exists(unavailable):
        with open(unavailable) as f:
            reason = f.read().strip()
        print(f"SKIP: the Linux reference guest could not be built: {reason} "
              f"(bench/net/linux/build_guest.py; rebuild to retry)")
        sys.exit(SKIP)
    if not (os.path.exists(image) and os.path.exists(initrd)):
        print(f"run.py: no guest in {guest} (Image and initramfs.cpio.gz): build the host tree first", file=sys.stderr)
        sys.exit(2)
    return image, initrd


def base_command(guest, cpu, host_port):
    image, initrd = guest_files(guest)
    return [sys.executable, QEMU_RUN, "--cpu", cpu, "--memory", "512", "--initrd", initrd, "--append", APPEND,
            "--net-udp-forward", f"{host_port}:{GUEST_PORT}"], image


def show(cmd):
    print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["test", "bench", "shell"])
    ap.add_argument("--guest", required=True, help="the folder build_guest.py wrote")
    ap.add_argument("--udp-load", help="the host's udp_load program (test, bench)")
    ap.add_argument("--cpu", default="cortex-a53")
    ap.add_argument("--log", default=None, help="the guest's console log (test)")
    ap.add_argument("--runs", type=int, default=3, help="bench: guest boots, the median is printed")
    ap.add_argument("--window", type=int, default=64, help="bench: datagrams outstanding")
    ap.add_argument("--seconds", type=float, default=10, help="bench: measured seconds per run")
    ap.add_argument("--size", type=int, default=64, help="bench: datagram size in bytes")
    ap.add_argument("--host-port", type=int, default=0, help="shell: the forwarded host port (0: a free one)")
    ap.add_argument("--keel-image", default=None,
                    help="bench: also Keel's echo system (images/os-net.elf), run after each Linux run: "
                         "BENCH net.udp_echo.pps and the ratio")
    args = ap.parse_args()
    if args.mode != "shell" and not args.udp_load:
        ap.error(f"{args.mode} needs --udp-load (build/<tree>/bench/net/udp_load)")
    if args.udp_load and not os.access(args.udp_load, os.X_OK):
        ap.error(f"--udp-load {args.udp_load}: not an executable")
    load = shlex.quote(os.path.abspath(args.udp_load)) if args.udp_load else ""

    if args.mode == "shell":
        cmd, image = base_command(args.guest, args.cpu, args.host_port or 7007)
        cmd += ["--interactive", image]
        show(cmd)
        return subprocess.call(cmd)

    if args.mode == "test":
        cmd, image = base_command(args.guest, args.cpu, 0)
        if args.log:
            cmd += ["--log", args.log]
        cmd += ["--timeout", "90", "--quiet", "--ready", READY,
                "--run-while", f"{load} echo --port {{port0}} --sizes 0,1,1472",
                "--run-while", f"{load} burst 1000 --rate 2000 --size 64 --port {{port0}}",
                image]
        show(cmd)
        return subprocess.call(cmd)

    # bench: one guest boot per run, the median of the runs' pps; with --keel-image, Keel's echo
    # system right after each Linux run (the same machine load, interleaved).
    def pps_run(name, cmd):
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        pps = [line.split()[2] for line in r.stdout.splitlines() if line.startswith(f"BENCH {name} ")]
        info = [line for line in r.stdout.splitlines() if line.startswith("pps:")]
        print(f"{name}: " + (info[0] if info else "(no pps line)"), flush=True)
        if r.returncode != 0 or not pps:
            sys.stdout.write(r.stdout)
            return None
        return float(pps[0])

    load_args = f"--window {args.window} --seconds {args.seconds} --size {args.size}"
    linux, keel = [], []
    for i in range(args.runs):
        cmd, image = base_command(args.guest, args.cpu, 0)
        cmd += ["--timeout", str(60 + args.seconds * 2), "--quiet", "--ready", READY,
                "--run-while", f"{load} pps --port {{port0}} {load_args} --name linux{i}", image]
        if i == 0:
            show(cmd)
        v = pps_run(f"linux{i}", cmd)
        if v is None:
            print(f"run.py: Linux bench run {i + 1} failed", file=sys.stderr)
            return 1
        linux.append(v)
        if args.keel_image:
            kcmd = [sys.executable, QEMU_RUN, "--cpu", args.cpu, "--timeout", str(60 + args.seconds * 2), "--quiet",
                    "--net-udp-forward", f"0:{GUEST_PORT}", "--ready", r"\[echo\] ready on UDP port 7",
                    "--run-while", f"{load} pps --port {{port0}} {load_args} --name keel{i}", args.keel_image]
            if i == 0:
                show(kcmd)
            v = pps_run(f"keel{i}", kcmd)
            if v is None:
                print(f"run.py: Keel bench run {i + 1} failed", file=sys.stderr)
                return 1
            keel.append(v)
    lm = statistics.median(linux)
    print(f"BENCH net.linux_udp_echo.pps {lm:.0f} pps")
    if keel:
        km = statistics.median(keel)
        print(f"BENCH net.udp_echo.pps {km:.0f} pps")
        print(f"BENCH net.udp_echo_vs_linux.percent {100 * km / lm:.0f} percent")
    print(f"(runs: Linux {', '.join(f'{v:.0f}' for v in linux)}"
          + (f"; Keel {', '.join(f'{v:.0f}' for v in keel)}" if keel else "")
          + f"; window {args.window}, {args.size}-byte datagrams, {args.seconds:g} s each; QEMU {args.cpu}, "
          "-m 512, TCG without -icount)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
