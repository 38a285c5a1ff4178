#!/usr/bin/env python3
"""Boot one Keel image in qemu-system-aarch64 -M virt and judge the run.

Pass/fail comes from the guest's semihosting exit code (SYS_EXIT with ADP_Stopped_ApplicationExit
and a subcode): 0 passes, anything else fails. The serial console is captured to --log and echoed
on failure. A run that outlives --timeout is killed and fails. Optional --expect regexes must all
appear in the serial output; any line containing 'KEEL PANIC' fails the run whatever the exit code.

  qemu_run.py [--cpu cortex-a53] [--timeout 60] [--log out.log] [--expect RE]... [--icount]
              [--interactive] [--qemu-arg ARG]... [--input TEXT [--input-after RE]] IMAGE

--input TEXT types TEXT (Python escapes such as \\n allowed) on the guest's serial console, once the
console output matches --input-after RE (at once without it); stdin stays open until the guest ends.
--until RE stops QEMU once the console output matches RE and judges the run as if the guest had
exited with status 0 (a release kernel cannot end a run itself).
"""
import argparse
import os
import re
import subprocess
import sys
import threading
import time


def qemu_command(args):
    cmd = [
        "qemu-system-aarch64", "-M", "virt,gic-version=2,virtualization=off,secure=off",
        "-cpu", args.cpu, "-m", str(args.memory), "-smp", "1",
        "-nographic", "-monitor", "none", "-no-reboot",
        "-semihosting-config", "enable=on,target=native",
        "-kernel", args.image,
        # No default NIC: virt's default virtio-net-pci needs an iPXE ROM (not installed, and not
        # wanted). Tests that need a network add their own -netdev/-device via --qemu-arg.
        "-nic", "none",
    ]
    if args.icount:
        # Deterministic instruction counting: one instruction per virtual ns, no host-time coupling.
        cmd += ["-icount", "shift=0,align=off,sleep=off"]
    if not args.interactive:
        cmd += ["-serial", "stdio"]
    for extra in args.qemu_arg:
        cmd += extra.split()
    return cmd


def run_with_input(cmd, args):
    """Runs QEMU with a pipe on stdin; types args.input (if any) once the output matches
    args.input_after; stops QEMU once the output matches args.until (if given: exit status 0)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    chunks = []
    lock = threading.Lock()

    def reader():
        while True:
            b = os.read(proc.stdout.fileno(), 4096)
            if not b:
                return
            with lock:
                chunks.append(b)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    text_in = args.input.encode("utf-8").decode("unicode_escape").encode("latin-1") if args.input is not None else b""
    pattern = re.compile(args.input_after, re.MULTILINE) if args.input_after else None
    until = re.compile(args.until, re.MULTILINE) if args.until else None
    stopped = False
    sent = args.input is None
    deadline = time.monotonic() + args.timeout
    timed_out = False
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            timed_out = True
            break
        with lock:
            so_far = b"".join(chunks).decode("utf-8", errors="replace")
        if until is not None and until.search(so_far):
            time.sleep(0.2)  # what the guest prints right after it
            proc.kill()
            stopped = True
            break
        if not sent:
            if pattern is None or pattern.search(so_far):
                try:
                    proc.stdin.write(text_in)
                    proc.stdin.flush()
                except BrokenPipeError:
                    pass
                sent = True
        time.sleep(0.02)
    proc.wait()
    t.join(timeout=5)
    try:
        proc.stdin.close()
    except BrokenPipeError:
        pass
    with lock:
        return b"".join(chunks), timed_out, 0 if stopped else proc.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image")
    ap.add_argument("--cpu", default="cortex-a53")
    ap.add_argument("--memory", type=int, default=512, help="guest RAM in MiB")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--log", default=None)
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--reject", action="append", default=[], help="fail if the console output matches this regex")
    ap.add_argument("--icount", action="store_true")
    ap.add_argument("--interactive", action="store_true", help="console on this terminal, no judging")
    ap.add_argument("--qemu-arg", action="append", default=[])
    ap.add_argument("--quiet", action="store_true", help="do not echo the console on success")
    ap.add_argument("--expect-exit", type=int, default=0, help="the guest exit code that passes (default 0)")
    ap.add_argument("--input", default=None, help="text typed on the serial console (escapes allowed)")
    ap.add_argument("--input-after", default=None, help="type --input once the output matches this regex")
    ap.add_argument("--until", default=None, help="stop QEMU once the output matches this regex (counts as exit 0)")
    args = ap.parse_args()

    if not os.path.exists(args.image):
        print(f"qemu_run: image not found: {args.image}", file=sys.stderr)
        return 2
    cmd = qemu_command(args)
    if args.interactive:
        return subprocess.call(cmd)

    start = time.monotonic()
    if args.input is not None or args.until is not None:
        out, timed_out, returncode = run_with_input(cmd, args)
    else:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        timed_out = False
        try:
            out, _ = proc.communicate(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            timed_out = True
        returncode = proc.returncode
    elapsed = time.monotonic() - start
    text = out.decode("utf-8", errors="replace")
    if args.log:
        os.makedirs(os.path.dirname(os.path.abspath(args.log)), exist_ok=True)
        with open(args.log, "w") as f:
            f.write(text)

    problems = []
    if timed_out:
        problems.append(f"timed out after {args.timeout:.0f} s")
    elif returncode != args.expect_exit:
        problems.append(f"guest exit code {returncode} (expected {args.expect_exit})")
    if "KEEL PANIC" in text:
        problems.append("kernel panic in the console output")
    for rx in args.expect:
        if not re.search(rx, text, re.MULTILINE):
            problems.append(f"expected output not seen: /{rx}/")
    for rx in args.reject:
        m = re.search(rx, text, re.MULTILINE)
        if m:
            problems.append(f"rejected output seen: /{rx}/: {m.group(0)!r}")

    if problems:
        sys.stdout.write(text)
        print(f"\nqemu_run: FAIL ({args.cpu}, {elapsed:.1f} s): " + "; ".join(problems))
        return 1
    if not args.quiet:
        sys.stdout.write(text)
    print(f"qemu_run: PASS ({args.cpu}, {elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
