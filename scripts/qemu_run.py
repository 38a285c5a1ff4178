#!/usr/bin/env python3
"""Boot one Keel image in qemu-system-aarch64 -M virt and judge the run.

Pass/fail comes from the guest's semihosting exit code (SYS_EXIT with ADP_Stopped_ApplicationExit
and a subcode): 0 passes, anything else fails. The serial console is captured to --log and echoed
on failure. A run that outlives --timeout is killed and fails. Optional --expect regexes must all
appear in the serial output; any line containing 'KEEL PANIC' fails the run whatever the exit code.

  qemu_run.py [--cpu cortex-a53] [--timeout 60] [--log out.log] [--expect RE]... [--icount]
              [--interactive] [--qemu-arg ARG]... [--input TEXT [--input-after RE]] [--until RE]
              [--net] [--net-udp-forward HOSTPORT:GUESTPORT]... [--net-l2 HOSTPORT:QEMUPORT]
              [--disk FILE | --disk-size SIZE] [--disk-readonly] [--rng] [--device-key FILE]
              [--initrd FILE] [--append ARGS]
              [--ready RE --run-while CMD...] IMAGE

--input TEXT types TEXT (Python escapes such as \\n allowed) on the guest's serial console, once the
console output matches --input-after RE (at once without it); stdin stays open until the guest ends.
--until RE stops QEMU once the console output matches RE and judges the run as if the guest had
exited with status 0 (a release kernel cannot end a run itself).

Network: --net gives the guest one virtio-net device on the first virtio-mmio transport (virtio0,
0x0a000000, IRQ 48; version 2) behind QEMU user-mode networking (guest 10.0.2.15 by DHCP, host 10.0.2.2);
each --net-udp-forward HOSTPORT:GUESTPORT (implies --net, repeatable) forwards UDP sent to
127.0.0.1:HOSTPORT on the host to the guest's GUESTPORT. HOSTPORT 0 picks a free port.
--net-l2 HOSTPORT:QEMUPORT puts the same device on a raw Ethernet link instead: QEMU's
`-netdev socket,udp=127.0.0.1:HOSTPORT,localaddr=127.0.0.1:QEMUPORT` carries every frame, untouched,
as one UDP datagram between QEMU (bound to QEMUPORT) and a host program bound to HOSTPORT — no
root, no tap, no DHCP server, nothing rewritten. 0 picks a free port. Excludes --net and
--net-udp-forward (one device).

Storage and entropy: --disk FILE gives the guest a virtio-blk device backed by the raw image FILE
(written in place; QEMU's default write-back cache, flushed to the file on the guest's flush) on
the virtio-mmio transport virtio8 (0x0a001000, IRQ 56: the first of the second 4 KiB page, so
its driver holds a page of its own); --disk-readonly makes it
read-only (the device says so: VIRTIO_BLK_F_RO). --disk-size SIZE (bytes, or with K/M/G) instead
makes a fresh zeroed (sparse) image in a temporary directory for this run only and removes it
afterwards, so parallel runs (a53 and a72) never share one. --rng gives it a virtio-rng device
fed from the host's /dev/urandom on virtio16 (0x0a002000, IRQ 64: the third page). '{disk}' in a
--run-while command becomes the image's path (also QEMU_DISK in its environment).
--device-key FILE (exactly 32 bytes) has QEMU load the board's device key at 0x04000000, the
platform's `devkey` device (qemu-virt.toml), which only the keystore may map.

--run-while CMD (repeatable) keeps the guest running while host programs drive it: QEMU starts,
the console is watched for --ready RE, then each CMD runs in turn (split like a shell would, no
shell; '{port0}', '{port1}', ... become the host ports of the --net-udp-forward options, also in
the environment as QEMU_UDP_PORTS=p0,p1,...; '{l2_host}' and '{l2_qemu}' the two ports of --net-l2,
also as QEMU_L2_HOST / QEMU_L2_QEMU; the commands' output goes to this stdout), then QEMU
is stopped. The run passes iff the ready line came, every CMD exited 0, the guest did not end
while they ran, and --expect/--reject hold; the guest's exit code is not used.

--initrd FILE and --append ARGS are passed to QEMU as -initrd and -append (a Linux guest).
"""
import argparse
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time


DEVICE_KEY_ADDR = 0x04000000  # the platform's devkey (qemu-virt.toml): pflash1's first page
DEVICE_KEY_BYTES = 32


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
    if args.initrd:
        cmd += ["-initrd", args.initrd]
    if args.append is not None:
        cmd += ["-append", args.append]
    if args.l2_ports:
        # A raw L2 link: each Ethernet frame is one UDP datagram between QEMU and a host program.
        host, qemu = args.l2_ports
        cmd += ["-global", "virtio-mmio.force-legacy=false",
                "-netdev", f"socket,id=n0,udp=127.0.0.1:{host},localaddr=127.0.0.1:{qemu}",
                "-device", "virtio-net-device,netdev=n0,bus=virtio-mmio-bus.0"]
    elif args.net or args.net_udp_forward:
        # Same network as Keel's tests: virtio-mmio transport (virt's slots), not PCI.
        fwd = "".join(f",hostfwd=udp:127.0.0.1:{h}-:{g}" for h, g in args.udp_ports)
        # The first virtio-mmio transport (virtio0: 0x0a000000, IRQ 48, alone in its page with
        # virtio1..7 empty), modern (version 2) register layout: what Keel's platform file and
        # driver expect; Linux probes any transport.
        cmd += ["-global", "virtio-mmio.force-legacy=false", "-netdev", f"user,id=n0{fwd}",
                "-device", "virtio-net-device,netdev=n0,bus=virtio-mmio-bus.0"]
    if args.disk_path or args.rng:
        # Storage and entropy on fixed transports (virtio8, virtio16: what Keel's drivers default
        # to), modern register layout. The net (when present) is on virtio0. Each of the three is
        # the first transport of its own 4 KiB page (eight transports of 0x200 bytes per page), so
        # each driver can be given its device's page alone (the compiler refuses two drivers on one).
        if "virtio-mmio.force-legacy=false" not in cmd:
            cmd += ["-global", "virtio-mmio.force-legacy=false"]
    if args.disk_path:
        ro = ",readonly=on" if args.disk_readonly else ""
        path = args.disk_path.replace(",", ",,")  # QEMU's option syntax: a comma in a value is doubled
        cmd += ["-drive", f"if=none,format=raw,file={path},id=disk0{ro}",
                "-device", "virtio-blk-device,drive=disk0,bus=virtio-mmio-bus.8"]
    if args.rng:
        cmd += ["-object", "rng-random,filename=/dev/urandom,id=rng0",
                "-device", "virtio-rng-device,rng=rng0,bus=virtio-mmio-bus.16"]
    if args.device_key:
        # The board's device key (OTP / secure element; docs/device-services.md "Keystore"): 32 bytes
        # written by QEMU into the second flash bank (pflash1, unused by Keel: -kernel boots it)
        # at the platform's `devkey` device (studio/manifest/platforms/qemu-virt.toml), which the
        # manifest maps into the keystore only.
        path = args.device_key.replace(",", ",,")
        cmd += ["-device", f"loader,file={path},addr={DEVICE_KEY_ADDR:#x},force-raw=on"]
    if args.icount:
        # Deterministic instruction counting: one instruction per virtual ns, no host-time coupling.
        cmd += ["-icount", "shift=0,align=off,sleep=off"]
    if not args.interactive:
        cmd += ["-serial", "stdio"]
    for extra in args.qemu_arg:
        cmd += extra.split()
    return cmd


class ConsoleReader:
    """Collects a running QEMU's console output on a thread (chunks under a lock)."""

    def __init__(self, proc):
        self.chunks = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc):
        while True:
            b = os.read(proc.stdout.fileno(), 4096)
            if not b:
                return
            with self.lock:
                self.chunks.append(b)

    def bytes(self):
        with self.lock:
            return b"".join(self.chunks)


def run_with_input(cmd, args):
    """Runs QEMU with a pipe on stdin; types args.input (if any) once the output matches
    args.input_after; stops QEMU once the output matches args.until (if given: exit status 0)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = ConsoleReader(proc)
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
        so_far = out.bytes().decode("utf-8", errors="replace")
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
    out.thread.join(timeout=5)
    try:
        proc.stdin.close()
    except BrokenPipeError:
        pass
    return out.bytes(), timed_out, 0 if stopped else proc.returncode


def parse_size(spec):
    """Bytes from '67108864', '64M', '512K', '1G' (binary units); a multiple of 512, at least 4 KiB."""
    m = re.fullmatch(r"(\d+)([KMG]?)(i?B)?", spec.strip(), re.IGNORECASE)
    if not m:
        raise ValueError(f"--disk-size wants a size such as 64M or 1048576, got {spec!r}")
    n = int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()]
    if n < 4096 or n % 512 != 0:
        raise ValueError(f"--disk-size must be a multiple of 512 bytes and at least 4 KiB, got {spec!r}")
    return n


def free_udp_port():
    # Free now; QEMU (or the host program) binds it a moment later (a race only with another
    # program doing this).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_l2(spec):
    """(hostport, qemuport) from HOSTPORT:QEMUPORT, 0 becoming a free port; None without --net-l2."""
    if spec is None:
        return None
    m = re.fullmatch(r"(\d+):(\d+)", spec)
    if not m or int(m.group(1)) > 65535 or int(m.group(2)) > 65535:
        raise ValueError(f"--net-l2 wants HOSTPORT:QEMUPORT (ports 0..65535), got {spec!r}")
    host = int(m.group(1)) or free_udp_port()
    qemu = int(m.group(2))
    while qemu == 0 or qemu == host:
        qemu = free_udp_port()
    return host, qemu


def parse_forwards(specs):
    """[(hostport, guestport)] from HOSTPORT:GUESTPORT strings; host port 0 becomes a free one."""
    out = []
    for spec in specs:
        m = re.fullmatch(r"(\d+):(\d+)", spec)
        if not m or int(m.group(1)) > 65535 or not 0 < int(m.group(2)) <= 65535:
            raise ValueError(f"--net-udp-forward wants HOSTPORT:GUESTPORT (ports 0..65535, guest "
                             f"port not 0), got {spec!r}")
        host, guest = int(m.group(1)), int(m.group(2))
        if host == 0:
            host = free_udp_port()
        out.append((host, guest))
    return out


def run_while(cmd, args):
    """Starts QEMU, waits for args.ready on the console, runs each args.run_while command, stops
    QEMU. Returns (console bytes, problems)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if args.input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = ConsoleReader(proc)

    def console():
        return out.bytes().decode("utf-8", errors="replace")
    problems = []
    deadline = time.monotonic() + args.timeout
    ready = re.compile(args.ready, re.MULTILINE)
    input_after = re.compile(args.input_after, re.MULTILINE) if args.input_after else None
    sent = args.input is None

    def maybe_type():
        nonlocal sent
        if not sent and (input_after is None or input_after.search(console())):
            try:
                proc.stdin.write(args.input.encode("utf-8").decode("unicode_escape").encode("latin-1"))
                proc.stdin.flush()
            except BrokenPipeError:
                pass
            sent = True

    while not ready.search(console()):
        maybe_type()
        if proc.poll() is not None:
            problems.append(f"guest ended (exit code {proc.returncode}) before the ready line /{args.ready}/")
            break
        if time.monotonic() > deadline:
            problems.append(f"ready line /{args.ready}/ not seen within {args.timeout:.0f} s")
            break
        time.sleep(0.02)

    if not problems:
        ports = [h for h, _ in args.udp_ports]
        env = dict(os.environ, QEMU_UDP_PORTS=",".join(map(str, ports)))
        subst = {f"port{i}": str(p) for i, p in enumerate(ports)}
        if args.disk_path:
            subst["disk"] = env["QEMU_DISK"] = args.disk_path
        if args.l2_ports:
            subst["l2_host"], subst["l2_qemu"] = map(str, args.l2_ports)
            env["QEMU_L2_HOST"], env["QEMU_L2_QEMU"] = subst["l2_host"], subst["l2_qemu"]
        for text in args.run_while:
            try:
                argv = [re.sub(r"\{(port\d+|l2_host|l2_qemu|disk)\}", lambda m: subst.get(m.group(1), m.group(0)), a)
                        for a in shlex.split(text)]
            except ValueError as e:
                problems.append(f"--run-while {text!r}: {e}")
                break
            left = deadline - time.monotonic()
            sys.stdout.flush()
            try:
                child = subprocess.Popen(argv, env=env)
            except OSError as e:
                problems.append(f"--run-while {argv[0]}: {e.strerror}")
                break
            while child.poll() is None:
                maybe_type()
                if time.monotonic() > deadline:
                    child.kill()
                    child.wait()
                    problems.append(f"timed out after {args.timeout:.0f} s while running {argv[0]} "
                                    f"({left:.0f} s were left for it)")
                    break
                time.sleep(0.02)
            if problems:
                break
            if proc.poll() is not None:
                problems.append(f"guest ended (exit code {proc.returncode}) while {argv[0]} ran")
                break
            if child.returncode != 0:
                problems.append(f"{text!r} exited with {child.returncode}")
                break

    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out.thread.join(timeout=5)
    if proc.stdin:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
    return out.bytes(), problems


# On a debug kernel the root server prints on the kernel console itself, at priority 255: its
# lines can land in the middle of a line the serial service is printing ("[" "root: ...\n"
# "checker] PASS"). Expectations are matched against the console as it is and against this view,
# in which root lines that began mid-line are moved after the line they interrupted.
def untangled(text):
    out, pending, held = [], None, []
    for line in text.split("\n"):
        if pending is not None:
            if line.startswith("root: "):
                held.append(line)
                continue
            out.append(pending + line)
            out.extend(held)
            pending, held = None, []
            continue
        i = line.find("root: ", 1)
        if i > 0:
            pending, held = line[:i], [line[i:]]
            continue
        out.append(line)
    if pending is not None:
        out.append(pending)
        out.extend(held)
    return "\n".join(out)


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
    ap.add_argument("--net", action="store_true", help="a virtio-net device (virtio-mmio) on user-mode networking")
    ap.add_argument("--net-udp-forward", action="append", default=[], metavar="HOSTPORT:GUESTPORT",
                    help="forward UDP 127.0.0.1:HOSTPORT to the guest's GUESTPORT (implies --net; 0 = a free port)")
    ap.add_argument("--net-l2", default=None, metavar="HOSTPORT:QEMUPORT",
                    help="the virtio-net device on a raw L2 link: frames as UDP datagrams between QEMU "
                         "(127.0.0.1:QEMUPORT) and a host program (127.0.0.1:HOSTPORT); 0 = a free port")
    ap.add_argument("--disk", default=None, metavar="FILE",
                    help="a virtio-blk device (virtio8) backed by the raw image FILE")
    ap.add_argument("--disk-size", default=None, metavar="SIZE",
                    help="a virtio-blk device backed by a fresh zeroed temporary image of SIZE (64M, 1G, bytes)")
    ap.add_argument("--disk-readonly", action="store_true", help="the virtio-blk device is read-only")
    ap.add_argument("--rng", action="store_true", help="a virtio-rng device (virtio16) fed from the host's /dev/urandom")
    ap.add_argument("--device-key", default=None, metavar="FILE",
                    help="the board's 32-byte device key file, loaded at the platform's devkey (0x04000000)")
    ap.add_argument("--initrd", default=None, help="QEMU -initrd (a Linux guest's initramfs)")
    ap.add_argument("--append", default=None, help="QEMU -append (a Linux guest's command line)")
    ap.add_argument("--ready", default=None, help="with --run-while: the console regex that says the guest is ready")
    ap.add_argument("--run-while", action="append", default=[], metavar="CMD",
                    help="run CMD on the host once --ready is seen, then stop QEMU (repeatable: in turn)")
    args = ap.parse_args()
    try:
        args.udp_ports = parse_forwards(args.net_udp_forward)
        args.l2_ports = parse_l2(args.net_l2)
    except ValueError as e:
        ap.error(str(e))
    if args.l2_ports and (args.net or args.net_udp_forward):
        ap.error("--net-l2 gives the guest its one network device: not with --net / --net-udp-forward")
    if args.run_while and not args.ready:
        ap.error("--run-while needs --ready RE (the console line after which the guest is ready)")
    if args.ready and not args.run_while:
        ap.error("--ready is used only with --run-while")
    if args.run_while and args.until:
        ap.error("--run-while ends the run itself; --until does not apply")
    if args.run_while and args.interactive:
        ap.error("--run-while and --interactive exclude each other")
    if args.disk and args.disk_size:
        ap.error("--disk FILE and --disk-size SIZE exclude each other (one disk)")
    if args.disk_readonly and not (args.disk or args.disk_size):
        ap.error("--disk-readonly needs --disk or --disk-size")
    if args.disk and not os.path.isfile(args.disk):
        print(f"qemu_run: disk image not found: {args.disk}", file=sys.stderr)
        return 2
    try:
        disk_bytes = parse_size(args.disk_size) if args.disk_size else 0
    except ValueError as e:
        ap.error(str(e))
    if args.initrd and not os.path.exists(args.initrd):
        print(f"qemu_run: initrd not found: {args.initrd}", file=sys.stderr)
        return 2
    if args.device_key:
        try:
            key_bytes = os.path.getsize(args.device_key)
        except OSError as e:
            print(f"qemu_run: device key file: {e}", file=sys.stderr)
            return 2
        if key_bytes != DEVICE_KEY_BYTES:
            print(f"qemu_run: device key file {args.device_key} is {key_bytes} bytes, not {DEVICE_KEY_BYTES}", file=sys.stderr)
            return 2

    if not os.path.exists(args.image):
        print(f"qemu_run: image not found: {args.image}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="keel-disk-") as tmp:
        args.disk_path = args.disk
        if disk_bytes:
            args.disk_path = os.path.join(tmp, "disk.img")
            with open(args.disk_path, "wb") as f:
                f.truncate(disk_bytes)  # sparse: reads as zeros
        return run(args)


def run(args):
    cmd = qemu_command(args)
    if args.interactive:
        return subprocess.call(cmd)

    start = time.monotonic()
    problems = []
    if args.run_while:
        out, problems = run_while(cmd, args)
        timed_out, returncode = False, args.expect_exit
    elif args.input is not None or args.until is not None:
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

    if timed_out:
        problems.append(f"timed out after {args.timeout:.0f} s")
    elif returncode != args.expect_exit:
        problems.append(f"guest exit code {returncode} (expected {args.expect_exit})")
    if "KEEL PANIC" in text:
        problems.append("kernel panic in the console output")
    views = (text, untangled(text))
    for rx in args.expect:
        if not any(re.search(rx, v, re.MULTILINE) for v in views):
            problems.append(f"expected output not seen: /{rx}/")
    for rx in args.reject:
        m = next((m for v in views if (m := re.search(rx, v, re.MULTILINE))), None)
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
