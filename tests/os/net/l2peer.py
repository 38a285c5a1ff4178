#!/usr/bin/env python3
"""l2peer — the Keel device's only neighbour on a raw Ethernet link (tests/os/net).

QEMU's `-netdev socket,udp=127.0.0.1:HOST,localaddr=127.0.0.1:QEMU` (scripts/qemu_run.py
--net-l2 HOST:QEMU) carries every Ethernet frame of the guest's virtio-net device as one UDP
datagram: this tool binds 127.0.0.1:HOST and sends frames to 127.0.0.1:QEMU. It is the gateway
10.0.3.1 (MAC 02:00:00:00:03:01) of a device configured with the static address 10.0.3.15/24 and
answers the device's ARP requests for that address (and nothing else).

  l2peer.py --host-port H --qemu-port Q ping        ICMP echo, several sizes, replies byte-exact
  l2peer.py --host-port H --qemu-port Q hostile     100,000 malformed frames (--frames) interleaved
                                                    with UDP echo exchanges, then 1,000 with no loss
  l2peer.py --host-port H --qemu-port Q arpflood    ARP and datagrams from 100,000 distinct sources
  l2peer.py --host-port H --qemu-port Q crash       a paced echo stream through --outages restarts,
                                                    each over within --recover seconds, then
                                                    --after datagrams with no loss

Always checked: every datagram the device sends goes to our MAC (after any spoofing attempt, its
replies still go to the real gateway's MAC), nothing ever goes to the spoofer's MAC or a multicast
one, ICMP echo replies go to the MAC their request came from, and the device never answers
with anything but ARP, ICMP echo replies and UDP from the echo port. Exit code 0 = pass; every
failure is printed as `l2peer: FAIL: ...`.
"""
import argparse
import os
import random
import select
import socket
import struct
import sys
import time

MY_MAC = bytes.fromhex("020000000301")
SPOOF_MAC = bytes.fromhex("02badbadbad1")
BCAST = b"\xff" * 6
MY_IP = bytes([10, 0, 3, 1])
DEV_IP = bytes([10, 0, 3, 15])
SUBNET_BCAST = bytes([10, 0, 3, 255])
ECHO_PORT = 7
MY_PORT = 40000


class Fail(Exception):
    pass


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def eth(dst, src, etype, payload):
    return dst + src + struct.pack("!H", etype) + payload


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + spa + tha + tpa


def ipv4(src, dst, proto, payload, ttl=64, ident=0, flags_frag=0x4000, options=b"", total=None, ihl=None,
         fix_csum=True, version=4):
    hl = 20 + len(options)
    ihl = hl // 4 if ihl is None else ihl
    total = hl + len(payload) if total is None else total
    h = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, total, ident, flags_frag, ttl, proto, 0, src, dst) + options
    if fix_csum:
        h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def udp(src, dst, sport, dport, payload, length=None, fix_csum=True):
    length = 8 + len(payload) if length is None else length
    h = struct.pack("!HHHH", sport, dport, length, 0)
    if fix_csum:
        pseudo = src + dst + struct.pack("!BBH", 0, 17, 8 + len(payload))
        c = csum(pseudo + h + payload) or 0xFFFF
        h = h[:6] + struct.pack("!H", c)
    return h + payload


def icmp_echo(ident, seq, payload, typ=8, fix_csum=True):
    h = struct.pack("!BBHHH", typ, 0, 0, ident, seq)
    if fix_csum:
        h = h[:2] + struct.pack("!H", csum(h + payload)) + h[4:]
    return h + payload


def mac_str(m):
    return ":".join(f"{b:02x}" for b in m)


class Peer:
    def __init__(self, host_port, qemu_port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", host_port))
        self.sock.setblocking(False)
        self.dest = ("127.0.0.1", qemu_port)
        self.dev_mac = None
        self.sent = 0
        self.received = 0
        self.arp_answered = 0
        self.echo_replies = {}  # token -> payload
        self.icmp_replies = {}  # (id, seq) -> (payload, frame)
        self.arp_replies = []   # (sender mac, sender ip, target mac) from the device
        self.failures = []
        self.unexpected = 0

    def send(self, frame):
        # Never an empty datagram: QEMU's socket backend takes one for the end of the connection
        # and stops reading the link (net/socket.c) — a property of the test link, not the device.
        if not frame:
            frame = b"\0"
        while True:
            try:
                self.sock.sendto(frame, self.dest)
                self.sent += 1
                return
            except BlockingIOError:
                self.pump(0.001)

    def fail(self, msg):
        if len(self.failures) < 20:
            print(f"l2peer: FAIL: {msg}", flush=True)
        self.failures.append(msg)

    def pump(self, timeout):
        """Reads and handles the device's frames for up to `timeout` seconds (0: what is there)."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            r, _, _ = select.select([self.sock], [], [], max(0.0, left))
            if not r:
                return
            while True:
                try:
                    frame, _ = self.sock.recvfrom(65536)
                except BlockingIOError:
                    break
                self.received += 1
                self.handle(frame)
            if left <= 0:
                return

    def handle(self, f):
        if len(f) < 14:
            return self.fail(f"the device sent a {len(f)}-byte frame")
        dst, src, etype = f[:6], f[6:12], struct.unpack("!H", f[12:14])[0]
        if self.dev_mac is not None and src != self.dev_mac:
            return self.fail(f"a frame from {mac_str(src)}, not the device's MAC")
        if etype == 0x0806 and len(f) >= 42:
            htype, ptype, hl, pl, op = struct.unpack("!HHBBH", f[14:22])
            sha, spa, tha, tpa = f[22:28], f[28:32], f[32:38], f[38:42]
            if op == 1:
                if dst != BCAST and dst != MY_MAC:
                    return self.fail(f"ARP request to {mac_str(dst)}")
                if tpa == MY_IP:
                    self.arp_answered += 1
                    self.send(eth(src, MY_MAC, 0x0806, arp(2, MY_MAC, MY_IP, sha, spa)))
                return
            if op == 2:
                if dst != MY_MAC and tha != MY_MAC:
                    # An answer to one of the flood's requests: to the MAC that asked, fine.
                    pass
                if self.dev_mac is None and spa == DEV_IP:
                    self.dev_mac = sha
                self.arp_replies.append((sha, spa, tha))
                return
            return self.fail(f"ARP operation {op} from the device")
        # The spoofer's MAC never answers anything: no frame may ever go there. Datagrams (the socket
        # path, through the ARP cache) go to the gateway's real MAC; an ICMP echo reply goes back to
        # the MAC its request came from (checked below).
        if dst == SPOOF_MAC or dst[0] & 1:
            return self.fail(f"the device sent a frame to {mac_str(dst)} (ethertype {etype:#06x})")
        if etype != 0x0800:
            return self.fail(f"the device sent ethertype {etype:#06x}")
        ip = f[14:]
        if len(ip) < 20 or ip[0] != 0x45:
            return self.fail("the device sent a malformed IPv4 header")
        total = struct.unpack("!H", ip[2:4])[0]
        if csum(ip[:20]) != 0 or total > len(ip) or ip[12:16] != DEV_IP:
            return self.fail("the device sent an IPv4 header with a bad checksum, length or source")
        proto, body = ip[9], ip[20:total]
        if proto == 1 and len(body) >= 8 and body[0] == 0:
            if csum(body) != 0:
                return self.fail("ICMP echo reply with a bad checksum")
            ident, seq = struct.unpack("!HH", body[4:8])
            self.icmp_replies[(ident, seq)] = (body[8:], ip[16:20])
            return
        if dst != MY_MAC:
            return self.fail(f"the device sent IPv4 protocol {proto} to {mac_str(dst)}, not to the gateway "
                             f"{mac_str(MY_MAC)}")
        if proto == 17 and len(body) >= 8:
            sport, dport, ulen, uc = struct.unpack("!HHHH", body[:8])
            if sport != ECHO_PORT and sport != 9:
                return self.fail(f"UDP from port {sport}")
            if ulen != len(body):
                return self.fail(f"UDP length {ulen} for a {len(body)}-byte datagram")
            if uc != 0 and csum(ip[12:20] + struct.pack("!BBH", 0, 17, ulen) + body) != 0:
                return self.fail("UDP checksum wrong")
            payload = body[8:]
            if sport == ECHO_PORT and ip[16:20] == MY_IP:
                self.echo_replies[payload] = True
            return
        self.fail(f"the device sent IPv4 protocol {proto} (type {body[0] if body else -1})")

    # ---- exchanges ---------------------------------------------------------------------------

    def resolve_device(self, wait=20.0):
        end = time.monotonic() + wait
        while self.dev_mac is None and time.monotonic() < end:
            self.send(eth(BCAST, MY_MAC, 0x0806, arp(1, MY_MAC, MY_IP, b"\0" * 6, DEV_IP)))
            self.pump(0.2)
        if self.dev_mac is None:
            raise Fail(f"the device (10.0.3.15) does not answer ARP within {wait:.0f} s")
        print(f"l2peer: device 10.0.3.15 is {mac_str(self.dev_mac)}", flush=True)

    def udp_to_echo(self, payload, src_ip=MY_IP, sport=MY_PORT, dst_mac=None):
        return eth(dst_mac or self.dev_mac, MY_MAC, 0x0800,
                   ipv4(src_ip, DEV_IP, 17, udp(src_ip, DEV_IP, sport, ECHO_PORT, payload)))

    def echo(self, payload, timeout=1.0, tries=1):
        """One UDP echo exchange; True if the exact payload came back."""
        for _ in range(tries):
            self.echo_replies.pop(payload, None)
            self.send(self.udp_to_echo(payload))
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                self.pump(min(0.01, max(0.0, end - time.monotonic())))
                if payload in self.echo_replies:
                    return True
        return False

    def burst(self, count, rate, size=64, tag=b"B"):
        """count datagrams at `rate` per second with unique payloads; returns how many came back."""
        payloads = [tag + struct.pack("!I", i) + os.urandom(max(0, size - 5 - len(tag))) for i in range(count)]
        for p in payloads:
            self.echo_replies.pop(p, None)
        t0 = time.monotonic()
        for i, p in enumerate(payloads):
            self.send(self.udp_to_echo(p))
            due = t0 + (i + 1) / rate
            while time.monotonic() < due:
                self.pump(max(0.0, min(0.002, due - time.monotonic())))
        end = time.monotonic() + 3.0
        while time.monotonic() < end and not all(p in self.echo_replies for p in payloads):
            self.pump(0.02)
        return sum(1 for p in payloads if p in self.echo_replies), time.monotonic() - t0


# ---- ping ----------------------------------------------------------------------------------------

def run_ping(peer, args):
    sizes = [0, 1, 56, 64, 1000, 1472]
    ident = 0x4B45
    for seq, size in enumerate(sizes, start=1):
        payload = bytes((seq * 7 + i) & 0xFF for i in range(size))
        frame = eth(peer.dev_mac, MY_MAC, 0x0800, ipv4(MY_IP, DEV_IP, 1, icmp_echo(ident, seq, payload), ident=seq))
        ok = False
        for _ in range(3):
            peer.send(frame)
            end = time.monotonic() + 1.0
            while time.monotonic() < end and (ident, seq) not in peer.icmp_replies:
                peer.pump(0.01)
            if (ident, seq) in peer.icmp_replies:
                ok = True
                break
        if not ok:
            peer.fail(f"no ICMP echo reply to a {size}-byte ping (id {ident:#x}, seq {seq})")
            continue
        got, dst = peer.icmp_replies[(ident, seq)]
        if got != payload or dst != MY_IP:
            peer.fail(f"ICMP echo reply to the {size}-byte ping differs (payload {len(got)} bytes, to {dst.hex()})")
        else:
            print(f"l2peer: ping {size} bytes (id {ident:#x}, seq {seq}): reply byte-exact", flush=True)
    # Pings that must not be answered: to the broadcast address, with a bad checksum, fragments.
    quiet = [
        eth(BCAST, MY_MAC, 0x0800, ipv4(MY_IP, SUBNET_BCAST, 1, icmp_echo(ident, 100, b"bcast"))),
        eth(peer.dev_mac, MY_MAC, 0x0800, ipv4(MY_IP, DEV_IP, 1, icmp_echo(ident, 101, b"badsum", fix_csum=False))),
        eth(peer.dev_mac, MY_MAC, 0x0800, ipv4(MY_IP, DEV_IP, 1, icmp_echo(ident, 102, b"frag"), flags_frag=0x2000)),
    ]
    for f in quiet:
        peer.send(f)
    peer.pump(0.5)
    for seq in (100, 101, 102):
        if (ident, seq) in peer.icmp_replies:
            peer.fail(f"the device answered ping seq {seq} (broadcast / bad checksum / fragment)")
    # Many pings in a row, a window of 16.
    t0 = time.monotonic()
    n = args.count
    for seq in range(1000, 1000 + n):
        peer.send(eth(peer.dev_mac, MY_MAC, 0x0800, ipv4(MY_IP, DEV_IP, 1, icmp_echo(ident, seq, struct.pack("!I", seq) * 14))))
        while sum(1 for s in range(max(1000, seq - 64), seq) if (ident, s) not in peer.icmp_replies) > 16:
            peer.pump(0.002)
            if time.monotonic() - t0 > 30:
                break
    end = time.monotonic() + 2
    while time.monotonic() < end and any((ident, s) not in peer.icmp_replies for s in range(1000, 1000 + n)):
        peer.pump(0.02)
    lost = [s for s in range(1000, 1000 + n) if (ident, s) not in peer.icmp_replies]
    bad = [s for s in range(1000, 1000 + n) if (ident, s) in peer.icmp_replies and
           peer.icmp_replies[(ident, s)][0] != struct.pack("!I", s) * 14]
    print(f"l2peer: {n} pings in {time.monotonic() - t0:.2f} s: {n - len(lost)} answered, {len(bad)} wrong", flush=True)
    if lost:
        peer.fail(f"{len(lost)} of {n} pings not answered (first seq {lost[0]})")
    if bad:
        peer.fail(f"{len(bad)} ping replies not byte-exact")


# ---- hostile ---------------------------------------------------------------------------------------

def hostile_frames(peer, rng):
    """Yields (category, frame); the systematic cases first, then random mutations and garbage."""
    dev = peer.dev_mac
    valid_udp = peer.udp_to_echo(b"valid datagram for truncation")
    valid_icmp = eth(dev, MY_MAC, 0x0800, ipv4(MY_IP, DEV_IP, 1, icmp_echo(7, 7, b"truncated ping")))
    valid_arp = eth(BCAST, MY_MAC, 0x0806, arp(1, MY_MAC, MY_IP, b"\0" * 6, DEV_IP))
    # Every truncation of every header (Ethernet 14, ARP 28, IPv4 20, UDP 8, ICMP 8) and the rest.
    for name, f in (("udp", valid_udp), ("icmp", valid_icmp), ("arp", valid_arp)):
        for n in range(1, len(f)):
            yield f"truncated {name}", f[:n]
    ip_payload = udp(MY_IP, DEV_IP, MY_PORT, ECHO_PORT, b"x" * 32)

    def ipf(**kw):
        return eth(dev, MY_MAC, 0x0800, ipv4(MY_IP, DEV_IP, kw.pop("proto", 17), kw.pop("payload", ip_payload), **kw))

    cases = []
    for total in (0, 1, 19, 20, 27, 28, 39, 61, 100, 1500, 65535):
        cases.append(("IP total length", ipf(total=total)))
    for ihl in range(0, 16):
        if ihl != 5:
            cases.append(("IHL", ipf(ihl=ihl)))
    for v in (0, 1, 5, 6, 15):
        cases.append(("IP version", ipf(version=v)))
    cases.append(("IP checksum", ipf(fix_csum=False)))
    for ulen in (0, 1, 7, 9, 39, 41, 1000, 65535):
        cases.append(("UDP length", eth(dev, MY_MAC, 0x0800, ipv4(MY_IP, DEV_IP, 17, udp(MY_IP, DEV_IP, MY_PORT, ECHO_PORT, b"y" * 32, length=ulen)))))
    bad_udp = bytearray(udp(MY_IP, DEV_IP, MY_PORT, ECHO_PORT, b"z" * 32))
    bad_udp[6] ^= 0x55
    cases.append(("UDP checksum", eth(dev, MY_MAC, 0x0800, ipv4(MY_IP, DEV_IP, 17, bytes(bad_udp)))))
    cases.append(("ICMP checksum", ipf(proto=1, payload=icmp_echo(1, 1, b"bad", fix_csum=False))))
    for t in (0, 3, 5, 11, 13, 17, 255):
        cases.append(("ICMP type", ipf(proto=1, payload=icmp_echo(1, 1, b"type", typ=t))))
    for opts in (b"\x01\x01\x01\x01", b"\x07\x07\x04" + b"\0" * 5, b"\x44\x0c\x05\x00" + b"\0" * 8, b"\x00" * 4,
                 b"\x83\x03\x00\x00", b"\x07\xff\x04\x00", b"\x07\x00\x04\x00", b"\x01" * 40):
        cases.append(("IP options", ipf(options=opts[:40])))
    for ff in (0x2000, 0x2001, 0x0001, 0x1fff, 0x3fff, 0x8000 | 0x4000, 0x0008):
        cases.append(("fragment", ipf(flags_frag=ff)))
    for proto in (0, 2, 6, 41, 50, 132, 255):
        cases.append(("IP protocol", ipf(proto=proto)))
    for ttl in (0, 1):
        cases.append(("TTL", ipf(ttl=ttl)))
    for src in (b"\0\0\0\0", DEV_IP, b"\xff\xff\xff\xff", SUBNET_BCAST, b"\xe0\0\0\1", b"\x7f\0\0\1"):
        cases.append(("IP source", eth(dev, MY_MAC, 0x0800, ipv4(src, DEV_IP, 17, udp(src, DEV_IP, MY_PORT, ECHO_PORT, b"src")))))
    for d in (b"\x0a\x00\x03\x10", b"\x08\x08\x08\x08", b"\xe0\0\0\1", b"\0\0\0\0"):
        cases.append(("IP destination", eth(dev, MY_MAC, 0x0800, ipv4(MY_IP, d, 17, udp(MY_IP, d, MY_PORT, ECHO_PORT, b"dst")))))
    # Ethernet: other destinations, bad sources, VLAN tags, other ethertypes, oversize.
    good = peer.udp_to_echo(b"eth case")
    for dmac in (bytes.fromhex("020000000099"), bytes.fromhex("01005e000001"), bytes.fromhex("333300000001"), b"\0" * 6):
        cases.append(("frame to another MAC", dmac + good[6:]))
    for smac in (BCAST, bytes.fromhex("01005e000001"), dev, b"\0" * 6):
        cases.append(("Ethernet source", good[:6] + smac + good[12:]))
    for tpid in (0x8100, 0x88A8, 0x9100):
        cases.append(("VLAN tag", good[:12] + struct.pack("!HH", tpid, 5) + good[12:]))
        cases.append(("VLAN tag, truncated", good[:12] + struct.pack("!H", tpid)))
    for et in (0x0000, 0x05DC, 0x0600, 0x86DD, 0x8035, 0x88CC, 0xFFFF):
        cases.append(("ethertype", good[:12] + struct.pack("!H", et) + good[14:]))
    cases.append(("oversize frame", good + b"\0" * (1600 - len(good))))
    cases.append(("oversize frame", good + b"\0" * (2030 - len(good))))
    # ARP: malformed, spoofing, for others, conflicts.
    for htype, ptype, hl, pl, op in ((2, 0x0800, 6, 4, 1), (1, 0x86DD, 6, 4, 1), (1, 0x0800, 8, 4, 1), (1, 0x0800, 6, 16, 1),
                                     (1, 0x0800, 6, 4, 0), (1, 0x0800, 6, 4, 3), (1, 0x0800, 6, 4, 0xFFFF)):
        cases.append(("ARP header", eth(BCAST, MY_MAC, 0x0806, struct.pack("!HHBBH", htype, ptype, hl, pl, op) + MY_MAC + MY_IP + b"\0" * 6 + DEV_IP)))
    spoof = [
        ("gratuitous ARP request for the gateway", eth(BCAST, SPOOF_MAC, 0x0806, arp(1, SPOOF_MAC, MY_IP, b"\0" * 6, MY_IP))),
        ("gratuitous ARP reply for the gateway", eth(BCAST, SPOOF_MAC, 0x0806, arp(2, SPOOF_MAC, MY_IP, BCAST, MY_IP))),
        ("unsolicited ARP reply for the gateway", eth(dev, SPOOF_MAC, 0x0806, arp(2, SPOOF_MAC, MY_IP, dev, DEV_IP))),
        ("ARP request for the device from the gateway's IP, another MAC", eth(BCAST, SPOOF_MAC, 0x0806, arp(1, SPOOF_MAC, MY_IP, b"\0" * 6, DEV_IP))),
        ("ARP reply, sender MAC differs from the frame's", eth(dev, MY_MAC, 0x0806, arp(2, SPOOF_MAC, MY_IP, dev, DEV_IP))),
        ("ARP claiming the device's own address", eth(BCAST, SPOOF_MAC, 0x0806, arp(2, SPOOF_MAC, DEV_IP, BCAST, DEV_IP))),
        ("unsolicited ARP reply for another host", eth(dev, SPOOF_MAC, 0x0806, arp(2, SPOOF_MAC, bytes([10, 0, 3, 77]), dev, DEV_IP))),
        ("ARP request for another host", eth(BCAST, SPOOF_MAC, 0x0806, arp(1, SPOOF_MAC, bytes([10, 0, 3, 78]), b"\0" * 6, bytes([10, 0, 3, 79])))),
        ("spoofed UDP from the gateway's IP, another MAC", eth(dev, SPOOF_MAC, 0x0800, ipv4(MY_IP, DEV_IP, 17, udp(MY_IP, DEV_IP, MY_PORT, ECHO_PORT, b"spoofed")))),
    ]
    cases += spoof
    for c in cases:
        yield c
    # Broadcast storm: ARP for others, UDP broadcasts (to the echo from others, to closed ports), pings.
    for i in range(3000):
        k = i % 3
        ip_o = bytes([10, 0, 3, 2 + i % 200])
        mac_o = bytes([2, 0xbc, 0, 0, i >> 8 & 0xFF, i & 0xFF])
        if k == 0:
            yield "broadcast storm", eth(BCAST, mac_o, 0x0806, arp(1, mac_o, ip_o, b"\0" * 6, bytes([10, 0, 3, 200 + i % 50])))
        elif k == 1:
            yield "broadcast storm", eth(BCAST, mac_o, 0x0800, ipv4(ip_o, b"\xff" * 4, 17, udp(ip_o, b"\xff" * 4, 5000, 1000 + i % 100, b"storm")))
        else:
            yield "broadcast storm", eth(BCAST, mac_o, 0x0800, ipv4(ip_o, SUBNET_BCAST, 1, icmp_echo(9, i, b"storm")))
    for c in spoof * 100:
        yield c
    # Then random: mutations of valid frames (bit flips, lengths, bytes) and pure garbage, forever.
    templates = [valid_udp, valid_icmp, valid_arp, peer.udp_to_echo(b"q" * 200), good[:12] + b"\x81\x00\x00\x05" + good[12:]]
    while True:
        r = rng.random()
        if r < 0.15:
            yield "garbage", rng.randbytes(rng.randrange(0, 1515))
        elif r < 0.25:
            yield "garbage to the device", dev + MY_MAC + rng.randbytes(rng.randrange(0, 1501))
        else:
            f = bytearray(rng.choice(templates))
            for _ in range(rng.randrange(1, 6)):
                pos = rng.randrange(0, len(f))
                if rng.random() < 0.5 and pos >= 14:
                    f[pos] = rng.randrange(256)
                else:
                    f[pos] ^= 1 << rng.randrange(8)
            if rng.random() < 0.2:
                f = f[:rng.randrange(0, len(f))]
            # Keep mutations that would spoof the gateway's MAC out: the link layer can't be defended.
            if f[6:12] == MY_MAC and len(f) >= 14 and f[12:14] == b"\x08\x06":
                f[6:12] = SPOOF_MAC
            yield "mutation", bytes(f)


def run_hostile(peer, args):
    rng = random.Random(args.seed)
    gen = hostile_frames(peer, rng)
    counts = {}
    sent = exchanges = retried = 0
    t0 = time.monotonic()
    while sent < args.frames:
        for _ in range(min(args.batch, args.frames - sent)):
            cat, f = next(gen)
            counts[cat] = counts.get(cat, 0) + 1
            peer.send(f)
            sent += 1
        # An echo exchange after each batch: the echo must keep working throughout.
        token = b"H" + struct.pack("!I", exchanges) + b"interleaved"
        exchanges += 1
        if not peer.echo(token, timeout=1.0):
            retried += 1
            if not peer.echo(token, timeout=2.0, tries=2):
                peer.fail(f"the echo stopped answering after {sent} hostile frames")
                break
    elapsed = time.monotonic() - t0
    print(f"l2peer: {sent} hostile frames in {elapsed:.1f} s ({sent / elapsed:.0f}/s), {exchanges} echo exchanges "
          f"interleaved, {retried} needed a retry", flush=True)
    for cat in sorted(counts, key=lambda c: -counts[c]):
        print(f"l2peer:   {counts[cat]:6d} {cat}")
    if retried > exchanges // 100:
        peer.fail(f"{retried} of {exchanges} interleaved echo exchanges needed a retry (more than 1 %)")
    # The device must still send to the real gateway MAC: checked by handle() on every frame; make
    # sure it sends some now (the echo replies and a ping).
    before = peer.received
    n, t = peer.burst(args.burst, args.rate, size=64)
    print(f"l2peer: after the flood: burst of {args.burst} at {args.rate}/s: {n} echoed in {t:.2f} s", flush=True)
    if n != args.burst:
        peer.fail(f"{args.burst - n} of {args.burst} datagrams lost in the burst after the flood")
    if peer.received == before:
        peer.fail("the device sent nothing after the flood")


# ---- ARP flood ---------------------------------------------------------------------------------------

def run_arpflood(peer, args):
    t0 = time.monotonic()
    n = args.sources
    exchanges = 0
    for i in range(n):
        mac = bytes([2, 0xaf, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF, 0x01])
        # Distinct sources: 10.0.3.2-254 (cacheable, on our subnet) and 10.x.y.z off it.
        ip = bytes([10, 0, 3, 2 + i % 253]) if i % 2 == 0 else bytes([10, 64 + (i >> 16), (i >> 8) & 0xFF, i & 0xFF])
        k = i % 4
        if k == 0 or k == 1:
            peer.send(eth(BCAST, mac, 0x0806, arp(1, mac, ip, b"\0" * 6, DEV_IP)))
        elif k == 2:
            # A datagram to the echo from an address outside its grant (dropped by policy) and a
            # ping, which the device answers: it must resolve (or route) that source.
            peer.send(eth(peer.dev_mac, mac, 0x0800, ipv4(ip, DEV_IP, 17, udp(ip, DEV_IP, 5555, ECHO_PORT, b"flood"))))
        else:
            peer.send(eth(peer.dev_mac, mac, 0x0800, ipv4(ip, DEV_IP, 1, icmp_echo(i & 0xFFFF, 1, b"flood"))))
        if i % args.batch == args.batch - 1:
            token = b"A" + struct.pack("!I", exchanges)
            exchanges += 1
            if not peer.echo(token, timeout=2.0, tries=3):
                peer.fail(f"the echo stopped answering after {i + 1} flood frames")
                break
    elapsed = time.monotonic() - t0
    replies = len(peer.arp_replies)
    print(f"l2peer: ARP/datagram flood from {n} distinct sources in {elapsed:.1f} s; the device sent {replies} ARP "
          f"replies, {peer.arp_answered} ARP requests answered by us", flush=True)
    n_ok, t = peer.burst(args.burst, args.rate, size=64, tag=b"F")
    print(f"l2peer: after the flood: burst of {args.burst}: {n_ok} echoed in {t:.2f} s", flush=True)
    if n_ok != args.burst:
        peer.fail(f"{args.burst - n_ok} of {args.burst} datagrams lost after the ARP flood")


# ---- crash -----------------------------------------------------------------------------------------

def run_crash(peer, args):
    """A paced stream of --count echo datagrams (--rate per second, unique payloads). An outage is
    a run of consecutive datagrams with no reply (a late reply is not one); its length runs from
    the send of the last answered datagram before it to that of the first answered after.
    Passes with at most --outages outages (one per crash the test causes; a restart quick enough
    to fall between two datagrams loses none — the console expectations prove the crash
    happened), each at most --recover s long, and at least --after datagrams after the last one."""
    t0 = time.monotonic()
    tokens, sent_at = [], []
    for seq in range(args.stream):
        token = b"C" + struct.pack("!I", seq) + b"crash test"
        tokens.append(token)
        sent_at.append(time.monotonic())
        peer.send(peer.udp_to_echo(token))
        due = t0 + (seq + 1) / args.rate
        while time.monotonic() < due:
            peer.pump(max(0.0, min(0.002, due - time.monotonic())))
    end = time.monotonic() + 2.0
    while time.monotonic() < end and not all(t in peer.echo_replies for t in tokens[-50:]):
        peer.pump(0.02)
    ok = [t in peer.echo_replies for t in tokens]
    outages, run_start = [], None  # (first lost seq, lost count, seconds)
    for seq, answered in enumerate(ok):
        if not answered and run_start is None:
            run_start = seq
        elif answered and run_start is not None:
            before = sent_at[run_start - 1] if run_start > 0 else t0
            outages.append((run_start, seq - run_start, sent_at[seq] - before))
            run_start = None
    last_ok = max((i for i, a in enumerate(ok) if a), default=-1)
    for n, (first, lost, secs) in enumerate(outages, 1):
        print(f"l2peer: outage {n} at {sent_at[first] - t0:.2f} s: {lost} datagrams unanswered, echo back after "
              f"{secs:.2f} s", flush=True)
        if secs > args.recover:
            peer.fail(f"outage {n} lasted {secs:.2f} s (more than {args.recover} s)")
    if run_start is not None:
        peer.fail(f"the echo did not come back: the last {args.stream - run_start} datagrams unanswered")
    if len(outages) > args.outages:
        peer.fail(f"{len(outages)} outages seen, at most {args.outages} expected (one per crash): "
                  f"datagrams were lost outside the restarts")
    tail_from = outages[-1][0] + outages[-1][1] if outages else 0
    if args.stream - tail_from < args.after:
        peer.fail(f"only {args.stream - tail_from} datagrams after the last outage ({args.after} wanted)")
    print(f"l2peer: {args.stream} datagrams at {args.rate:.0f}/s, {ok.count(True)} answered, {len(outages)} outages; "
          f"{args.stream - tail_from} answered after the last one (last answered: {last_ok})", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["ping", "hostile", "arpflood", "crash"])
    ap.add_argument("--host-port", type=int, default=int(os.environ.get("QEMU_L2_HOST", "0")))
    ap.add_argument("--qemu-port", type=int, default=int(os.environ.get("QEMU_L2_QEMU", "0")))
    ap.add_argument("--frames", type=int, default=100000, help="hostile: malformed frames to send")
    ap.add_argument("--batch", type=int, default=50, help="hostile/arpflood: frames between echo exchanges")
    ap.add_argument("--burst", type=int, default=1000, help="datagrams in the burst after a flood")
    ap.add_argument("--rate", type=float, default=2000, help="the burst's (crash: the stream's) datagrams per second")
    ap.add_argument("--sources", type=int, default=100000, help="arpflood: distinct source addresses")
    ap.add_argument("--count", type=int, default=200, help="ping: pings in the windowed run")
    ap.add_argument("--seed", type=int, default=10)
    ap.add_argument("--outages", type=int, default=2, help="crash: most outages allowed (the crashes the test causes)")
    ap.add_argument("--recover", type=float, default=3.0, help="crash: seconds an outage may last")
    ap.add_argument("--after", type=int, default=1000, help="crash: datagrams after the last outage (none lost)")
    ap.add_argument("--stream", type=int, default=7000, help="crash: datagrams in the stream")
    args = ap.parse_args()
    if not args.host_port or not args.qemu_port:
        ap.error("--host-port and --qemu-port (or QEMU_L2_HOST / QEMU_L2_QEMU) are needed")
    peer = Peer(args.host_port, args.qemu_port)
    t0 = time.monotonic()
    try:
        peer.resolve_device()
        {"ping": run_ping, "hostile": run_hostile, "arpflood": run_arpflood, "crash": run_crash}[args.mode](peer, args)
        # The device's view of the gateway survived everything: a last echo, its reply to our MAC.
        if args.mode != "crash" and not peer.echo(b"last", timeout=1.0, tries=3):
            peer.fail("no answer to the last echo")
    except Fail as e:
        peer.fail(str(e))
    print(f"l2peer: {args.mode}: {peer.sent} frames sent, {peer.received} received, {peer.arp_answered} ARP requests "
          f"answered, {time.monotonic() - t0:.1f} s", flush=True)
    if peer.failures:
        print(f"l2peer: {args.mode}: FAIL ({len(peer.failures)} failures)", flush=True)
        return 1
    print(f"l2peer: {args.mode}: PASS", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
