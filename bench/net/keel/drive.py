#!/usr/bin/env python3
"""The network benchmark of Keel OS (bench/net/README.md): boots images/net-bench.elf (the
tests/os/net system with an echo, a sink and a source component, keel/netbench.toml) under
QEMU -icount and drives it from the host through the UDP ports QEMU forwards: the echo (closed
loop, one datagram in flight), the sink (paced) and the source (one trigger, then its datagrams
are received). The guest computes and prints the BENCH lines; this prints them.

  drive.py bench IMAGE                      boot, drive, print the BENCH lines
  drive.py traffic --echo P --sink P --source P [--count N] [--size BYTES]   (what bench runs)
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def bench(image):
    cmd = [sys.executable, os.path.join(REPO, "scripts", "qemu_run.py"), "--icount", "--timeout", "300",
           "--net-udp-forward", "0:7", "--net-udp-forward", "0:9000", "--net-udp-forward", "0:9001",
           "--ready", r"\[source\] ready",
           "--run-while", f"{sys.executable} {os.path.abspath(__file__)} traffic --echo {{port0}} --sink {{port1}} --source {{port2}}",
           "--expect", "BENCH net.udp_echo.instructions_per_round_trip",
           "--expect", "BENCH net.rx_udp.instructions_per_packet",
           "--expect", "BENCH net.tx_udp.instructions_per_packet", image]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for m in re.finditer(r"BENCH [^ ]+ [0-9]+ [a-z]+", p.stdout):
        print(m.group(0))
    if p.returncode != 0:
        sys.stdout.write(p.stdout)
    return p.returncode


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "bench":
        return bench(sys.argv[2])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["traffic"])
    ap.add_argument("--echo", type=int, required=True)
    ap.add_argument("--sink", type=int, required=True)
    ap.add_argument("--source", type=int, required=True)
    ap.add_argument("--count", type=int, default=2000, help="datagrams measured (the guest's `measure`)")
    ap.add_argument("--size", type=int, default=1400)
    args = ap.parse_args()
    payload = bytes((i * 7) & 0xFF for i in range(args.size))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)

    # Echo: one in flight; every reply checked.
    lost = 0
    for i in range(args.count + 1):
        data = i.to_bytes(4, "little") + payload[4:]
        s.sendto(data, ("127.0.0.1", args.echo))
        try:
            while True:
                got = s.recv(65536)
                if got[:4] == data[:4]:
                    break
            if got != data:
                print(f"drive: echo {i}: reply differs", file=sys.stderr)
                return 1
        except socket.timeout:
            lost += 1
            if lost > args.count // 100:
                print(f"drive: echo: {lost} datagrams unanswered", file=sys.stderr)
                return 1
    print(f"drive: echo: {args.count + 1} round trips, {lost} lost")

    # Sink: paced in groups of 8 (its receive stream holds ~45 datagrams of 1400 bytes); 10 % more
    # than it needs, so a few dropped ones do not leave the measurement short.
    for i in range(args.count + 1 + args.count // 10):
        s.sendto(payload, ("127.0.0.1", args.sink))
        if i % 8 == 7:
            time.sleep(0.01)
    print(f"drive: sink: {args.count + 1 + args.count // 10} datagrams sent")

    # Source: one trigger; its datagrams come back to this socket.
    s.sendto(b"go", ("127.0.0.1", args.source))
    got = 0
    try:
        while got < args.count:
            s.recv(65536)
            got += 1
    except socket.timeout:
        pass
    print(f"drive: source: {got} of {args.count} datagrams received")
    time.sleep(1.0)  # the guest's last lines reach the console
    return 0


if __name__ == "__main__":
    sys.exit(main())
