#!/usr/bin/env python3
"""The network benchmark of Keel OS (bench/net/README.md): boots images/net-bench.elf (the
tests/os/net system with an echo and a source component, keel/netbench.toml) under QEMU -icount
and drives it from the host through the UDP ports QEMU forwards. The components count the
instructions the whole system retires (PMU INST_RETIRED: every component and the kernel) per
1,400-byte datagram while the host keeps them busy (idle stretches under -icount jump the clock
to the next timer, whose work would be counted too):
  echo    a window of datagrams always in flight: the round trip (device -> driver -> net ->
          echo -> net -> driver -> device) per datagram;
  source  one trigger, then it sends back-to-back: the transmit path per datagram;
  receive = round trip - transmit (derived, printed as net.rx_udp.instructions_per_packet).

  drive.py bench IMAGE                      boot, drive, print the BENCH lines
  drive.py traffic --echo P --source P [--count N] [--size BYTES]   (what bench runs)
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
           "--net-udp-forward", "0:7", "--net-udp-forward", "0:9001",
           "--ready", r"\[source\] ready",
           "--run-while", f"{sys.executable} {os.path.abspath(__file__)} traffic --echo {{port0}} --source {{port1}}",
           "--expect", "BENCH net.udp_echo.instructions_per_round_trip",
           "--expect", "BENCH net.tx_udp.instructions_per_packet", image]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    figures = {}
    for m in re.finditer(r"BENCH ([^ ]+) ([0-9]+) [a-z]+", p.stdout):
        print(m.group(0))
        figures[m.group(1)] = int(m.group(2))
    rt, tx = figures.get("net.udp_echo.instructions_per_round_trip"), figures.get("net.tx_udp.instructions_per_packet")
    if rt is not None and tx is not None:
        print(f"BENCH net.rx_udp.instructions_per_packet {max(rt - tx, 0)} instructions")
    # The memory of the driver and the net service as the root server accounts it (objects,
    # frames, image, and the shared regions each is charged for: the packet buffers are net's).
    mem = {m.group(1): int(m.group(2)) for m in re.finditer(r"root: \[\d+\] (net|virtio_net): .* memory (\d+) bytes", p.stdout)}
    if len(mem) == 2:
        print(f"BENCH net.service.bytes {mem['net'] + mem['virtio_net']} bytes")
    if p.returncode != 0:
        sys.stdout.write(p.stdout)
    return p.returncode


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "bench":
        return bench(sys.argv[2])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["traffic"])
    ap.add_argument("--echo", type=int, required=True)
    ap.add_argument("--source", type=int, required=True)
    ap.add_argument("--count", type=int, default=2000, help="datagrams measured (the guest's `measure`)")
    ap.add_argument("--size", type=int, default=1400)
    args = ap.parse_args()
    payload = bytes((i * 7) & 0xFF for i in range(args.size))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)

    # Echo: a window of datagrams always in flight; every reply checked.
    window, sent, done, lost = 8, 0, 0, 0
    total = args.count + 1 + window
    outstanding = {}
    while done < total:
        while sent < total and len(outstanding) < window:
            data = sent.to_bytes(4, "little") + payload[4:]
            s.sendto(data, ("127.0.0.1", args.echo))
            outstanding[sent] = data
            sent += 1
        try:
            got = s.recv(65536)
        except socket.timeout:
            lost += len(outstanding)
            if lost > args.count // 100:
                print(f"drive: echo: {lost} datagrams unanswered", file=sys.stderr)
                return 1
            done += len(outstanding)
            outstanding.clear()
            continue
        k = int.from_bytes(got[:4], "little")
        if outstanding.get(k) != got:
            print(f"drive: echo {k}: unexpected or corrupted reply", file=sys.stderr)
            return 1
        del outstanding[k]
        done += 1
    print(f"drive: echo: {total} round trips, window {window}, {lost} lost")

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
