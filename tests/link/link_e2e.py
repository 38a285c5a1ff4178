#!/usr/bin/env python3
"""tests/link: the device link end to end — a real keel-fleet (studio mode) and the demo device
(images/demo-device.elf) in QEMU, through the device's WireGuard tunnel, with Debian's mosquitto
as the external service behind the proxy.

  link_e2e.py --host-build DIR --device-build DIR [--lossy] [--workdir DIR]

What it checks (each step names itself; the first failure ends the run with the reason):
  1. a command queued while the device is off (identify) runs once when it comes up;
  2. the device comes online with its release and its component table; console lines reach Fleet;
  3. restart of a component from Fleet (done, the restart on the device's console);
  4. the remote console through Fleet's websocket runs `status`;
  5. trace on → trace events reach Fleet; trace off → done;
  6. proxy: the telemetry app publishes MQTT through the proxy to mosquitto and a subscriber
     receives it; with the proxy removed from the device's deployment (while another deployment
     still has one) its next connection is refused and nothing more reaches the broker;
  7. exactly once: kill -9 of Fleet with commands queued, Fleet restarted on the same data; a
     device power cut and reboot with commands queued; every identify command ran exactly once
     (identify lines on the console = 3 × commands), every command ends done;
  8. serial lines reached Fleet in the device's order, without gaps except after an explicit
     "N lines dropped" marker.
--lossy runs the same inside a private network namespace whose loopback (every packet of Fleet,
QEMU's user network, mosquitto) has `tc netem` loss 10 %, duplication 5 %, reordering 25 %
(the namespace goes away with the process). Needs root (CI runs as root); skipped (exit 77)
otherwise.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import keel_local as kl  # noqa: E402

IDENTIFY_LINES_PER_COMMAND = 3
T0 = time.monotonic()


def step(msg: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


free_port = kl.free_port


class LossyRelay:
    """A UDP relay between the device (QEMU's user network) and Fleet's gateway that loses 10 %,
    duplicates 5 % and delays 25 % of the datagrams by 2-30 ms (so they arrive out of order), in
    both directions: the lossy path where `tc netem` is not available (no sch_netem in the kernel)."""

    def __init__(self, gateway_port: int, seed: int = 12):
        import heapq, random, select, threading
        self.rng = random.Random(seed)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.gateway = ("127.0.0.1", gateway_port)
        self.device = None
        self.stats = {"in": 0, "lost": 0, "duplicated": 0, "delayed": 0}
        self.heap: list = []
        self.stop_flag = False
        self.heapq, self.select = heapq, select
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _schedule(self, data: bytes, to) -> None:
        r = self.rng.random()
        self.stats["in"] += 1
        if r < 0.10:
            self.stats["lost"] += 1
            return
        copies = 2 if self.rng.random() < 0.05 else 1
        self.stats["duplicated"] += copies - 1
        for _ in range(copies):
            delay = 0.0
            if self.rng.random() < 0.25:
                delay = self.rng.uniform(0.002, 0.030)
                self.stats["delayed"] += 1
            self.heapq.heappush(self.heap, (time.monotonic() + delay, self.rng.random(), data, to))

    def _run(self) -> None:
        while not self.stop_flag:
            timeout = 0.05
            if self.heap:
                timeout = max(0.0, min(timeout, self.heap[0][0] - time.monotonic()))
            ready, _, _ = self.select.select([self.sock], [], [], timeout)
            if ready:
                data, src = self.sock.recvfrom(65536)
                if src == self.gateway:
                    if self.device:
                        self._schedule(data, self.device)
                else:
                    self.device = src
                    self._schedule(data, self.gateway)
            now = time.monotonic()
            while self.heap and self.heap[0][0] <= now:
                _, _, data, to = self.heapq.heappop(self.heap)
                try:
                    self.sock.sendto(data, to)
                except OSError:
                    pass

    def stop(self) -> None:
        self.stop_flag = True
        self.thread.join(2)
        self.sock.close()


class Broker:
    """mosquitto on loopback with a subscriber that records every message."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        conf = workdir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        f"log_type all\nconnection_messages true\n")
        self.log = workdir / "mosquitto.log"
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=open(self.log, "wb"),
                                     stderr=subprocess.STDOUT)
        kl.wait_for("mosquitto to listen", self._listening, 10)
        self.messages = workdir / "received.txt"
        self.sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-t",
                                     "keel/#", "-v"], stdout=open(self.messages, "wb"), stderr=subprocess.DEVNULL)

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def received(self) -> list[str]:
        return self.messages.read_text(errors="replace").splitlines() if self.messages.exists() else []

    def device_connections(self) -> int:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return len(re.findall(r"New client connected .* as keel-demo", text))

    def stop(self) -> None:
        for p in (self.sub, self.proc):
            if p.poll() is None:
                p.terminate()
                p.wait(5)


class WebSocket:
    """A minimal RFC 6455 client (what the test needs: text out, frames in, close), on a plain
    socket: no third-party module, so any python3 runs the test."""

    def __init__(self, url: str, timeout: float):
        import base64, urllib.parse
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise kl.LocalError(f"console websocket: connection closed during the upgrade: {head!r}")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise kl.LocalError(f"console websocket refused: {head.decode(errors='replace')}")

    def send_text(self, text: str) -> None:
        data, mask = text.encode(), os.urandom(4)
        n = len(data)
        hdr = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
        self.sock.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _need(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise kl.LocalError("console websocket: closed by Fleet")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self) -> bytes:
        """The next data frame's payload (raises on close, with its code)."""
        while True:
            b0, b1 = self._need(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._need(2), "big")
            elif n == 127:
                n = int.from_bytes(self._need(8), "big")
            payload = self._need(n)
            op = b0 & 0x0F
            if op == 8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 0
                raise kl.LocalError(f"console websocket closed: {code} {payload[2:].decode(errors='replace')}")
            if op in (0, 1, 2):
                return payload

    def close(self) -> None:
        self.sock.close()


def console_roundtrip(url: str, command: str, expect: str, timeout: float) -> str:
    """Opens the device's console through Fleet's websocket, waits for the prompt (an empty line
    brings one), runs `command` and waits for `expect` in what follows it."""
    ws = WebSocket(url, timeout)
    out = b""
    end = time.monotonic() + timeout
    try:
        ws.send_text("\r")
        sent_at = -1
        while time.monotonic() < end:
            if sent_at < 0 and b"keel>" in out:
                sent_at = len(out)
                ws.send_text(command + "\r")
            try:
                ws.sock.settimeout(1.0)
                out += ws.recv()
            except socket.timeout:
                continue
            if sent_at >= 0 and expect.encode() in out[sent_at:]:
                return out.decode(errors="replace")
    finally:
        ws.close()
    raise kl.LocalError(f"console: no '{expect}' after '{command}' within {timeout:.0f} s; got:\n"
                        + out.decode(errors="replace")[-2000:])


def command(fleet: kl.Fleet, dev: kl.Device, kind: str, component: str | None = None) -> int:
    body = {"kind": kind}
    if component:
        body["component"] = component
    return fleet.api("POST", f"/devices/{dev.id}/commands", body)["id"]


def commands(fleet: kl.Fleet, dev: kl.Device) -> dict[int, dict]:
    return {c["id"]: c for c in fleet.api("GET", f"/devices/{dev.id}/commands?limit=200")["items"]}


def wait_done(fleet, dev, ids, timeout, interrupted_ok: bool = False) -> None:
    """Waits until every command of `ids` is done. interrupted_ok: a command a power cut caught
    between "started" and its outcome ends `failed` / "interrupted" (at most once, never twice:
    docs/control-protocol.md), which counts as finished."""
    def finished(c) -> bool:
        return c.get("status") == "done" or (interrupted_ok and c.get("status") == "failed"
                                             and c.get("detail") == "interrupted")

    def done():
        cs = commands(fleet, dev)
        bad = [c for i, c in cs.items() if i in ids and c["status"] in ("failed", "cancelled") and not finished(c)]
        if bad:
            raise kl.LocalError(f"commands ended badly: {bad}")
        return all(finished(cs.get(i, {})) for i in ids)
    kl.wait_for(f"commands {sorted(ids)} done", done, timeout, 0.5)


def online(fleet, dev) -> bool:
    return fleet.api("GET", f"/devices/{dev.id}")["connection"] == "online"


def fleet_serial(fleet, dev) -> list[str]:
    items = fleet.get_all(f"/devices/{dev.id}/serial?limit=200")
    items.sort(key=lambda i: i["id"])
    return [i["text"] for i in items]


MIRRORED = re.compile(r"^\[(sensor|controller|actuator|logger|spinner|telemetry|link|tunnel|monitor)\] ")


def check_serial_order(fleet_lines: list[str], consoles: list[str]) -> tuple[int, int]:
    """Every mirrored line Fleet has appears in the device's consoles in the same order, and a
    mirrored console line between two of them is missing only where Fleet has a dropped marker,
    or at the end of a boot cut by a power cut (lines still in the device's RAM are lost with it:
    the device cannot know, and the next boot's lines follow)."""
    device: list[tuple[int, str]] = []  # (boot, line)
    for boot, text in enumerate(consoles):
        device += [(boot, l.rstrip("\r")) for l in text.splitlines() if MIRRORED.match(l.rstrip("\r"))]
    lines = [l for _, l in device]
    pos, matched, gaps_marked, cut = 0, 0, 0, 0
    marker_pending = False
    for line in fleet_lines:
        if re.fullmatch(r"\d+ lines dropped", line):
            marker_pending = True
            continue
        if not MIRRORED.match(line):
            continue
        try:
            j = lines.index(line, pos)
        except ValueError:
            raise kl.LocalError(f"serial: Fleet has '{line}' that the device did not print after line {pos} "
                                "(out of order, twice, or invented)")
        if j > pos and matched > 0:
            lost_at_power_cut = device[j][0] > device[pos][0] and all(
                b == device[pos][0] for b, _ in device[pos:j])
            if marker_pending:
                gaps_marked += 1
            elif lost_at_power_cut:
                cut += j - pos
            else:
                raise kl.LocalError(f"serial: {j - pos} device line(s) missing in Fleet without a dropped marker, "
                                    f"first: '{device[pos][1]}' (before '{line}')")
        marker_pending = False
        pos, matched = j + 1, matched + 1
    if matched < 20:
        raise kl.LocalError(f"serial: only {matched} mirrored lines reached Fleet")
    step(f"   ({cut} line(s) printed right before the power cut never left the device)")
    return matched, gaps_marked


def run(args) -> int:
    work = Path(args.workdir or tempfile.mkdtemp(prefix="keel-link-e2e-"))
    kl.clean_dir(work)
    host, devb = Path(args.host_build), Path(args.device_build)
    image, manifest = devb / "images/demo-device.elf", devb / "systems/demo/demo-device.toml"
    broker = Broker(work)
    gw_port = free_port(socket.SOCK_DGRAM)
    fleet = kl.Fleet(host, work / "fleet", port=0, gateway_port=gw_port).start()
    dev = kl.Device(host, manifest, image, work / "device", name="e2e-1")
    consoles: list[str] = []
    relay = None
    try:
        dep = kl.ensure_deployment(fleet, "e2e", "plant-a")
        other = kl.ensure_deployment(fleet, "e2e", "plant-b")
        fleet.api("PUT", f"/deployments/{dep}/proxies/mqtt", {"host": "127.0.0.1", "port": broker.port})
        fleet.api("PUT", f"/deployments/{other}/proxies/mqtt", {"host": "127.0.0.1", "port": broker.port})
        dev.provision()
        dev.register(fleet, dep)
        relay = LossyRelay(gw_port) if args.lossy and os.environ.get("KEEL_IN_NETNS") != "1" else None
        if relay:
            step(f"lossy path: a UDP relay on port {relay.port} (10 % lost, 5 % duplicated, 25 % delayed 2-30 ms)")
        dev.enroll(fleet, port=relay.port if relay else 0)
        step(f"device {dev.name} registered (id {dev.id}, {dev.address}); Fleet {fleet.url}, gateway UDP {gw_port}")

        identifies = [command(fleet, dev, "identify")]
        step("1. identify queued while the device is off; booting it")
        dev.boot()
        kl.wait_for("the device online in Fleet", lambda: online(fleet, dev), args.timeout)
        step("2. online")
        d = kl.wait_for("the device's first STATUS", lambda: (lambda x: x if x.get("reported") else None)(
            fleet.api("GET", f"/devices/{dev.id}")), 30)
        if d["reported"]["release"] != "demo 1.0":
            raise kl.LocalError(f"reported release {d['reported']['release']!r}, expected 'demo 1.0'")
        comps = kl.wait_for("the component table", lambda: {
            c["name"]: c for c in fleet.api("GET", f"/devices/{dev.id}/components")["items"]} or None, 30)
        for name in ("serial", "sensor", "net", "tunnel", "link", "telemetry"):
            if name not in comps:
                raise kl.LocalError(f"component '{name}' missing from the reported table: {sorted(comps)}")
        if comps["sensor"]["state"] != "running":
            raise kl.LocalError(f"sensor reported {comps['sensor']}")
        kl.wait_for("20 console lines in Fleet", lambda: len(fleet_serial(fleet, dev)) >= 20 or None, args.timeout)
        wait_done(fleet, dev, identifies, 60)
        step(f"   release {d['reported']['release']}, {len(comps)} components; console lines and the queued identify arrived")

        off = len(dev.console())
        rid = command(fleet, dev, "restart_component", "logger")
        wait_done(fleet, dev, [rid], 60)
        dev.wait_console("restarting logger", 30, off)
        step("3. restart of 'logger' from Fleet: done, restarted on the device")

        ws = fleet.url.replace("http://", "ws://") + f"/api/v1/devices/{dev.id}/console"
        out = console_roundtrip(ws, "status", "fleet       connected", 60)
        if "release     demo 1.0" not in out:
            raise kl.LocalError(f"console: `status` does not name the release:\n{out[-1500:]}")
        out = console_roundtrip(ws, "components", "telemetry", 60)
        step(f"4. remote console: `status` (release, connected) and `components` answered")

        on = command(fleet, dev, "trace_on")
        wait_done(fleet, dev, [on], 60)
        kl.wait_for("trace events in Fleet", lambda: fleet.api("GET", f"/devices/{dev.id}/trace?limit=10")["items"], 60)
        offc = command(fleet, dev, "trace_off")
        wait_done(fleet, dev, [offc], 60)
        step("5. trace on: events reached Fleet; trace off: done")

        kl.wait_for("an MQTT message from the device at the subscriber",
                    lambda: [m for m in broker.received() if m.startswith("keel/demo/telemetry ")], 90)
        step(f"6. proxy: {len(broker.received())} MQTT message(s) received through the proxy")
        fleet.api("DELETE", f"/deployments/{dep}/proxies/mqtt")
        before = broker.device_connections()
        off = len(dev.console())
        rid = command(fleet, dev, "restart_component", "telemetry")
        wait_done(fleet, dev, [rid], 60)
        dev.wait_console("[telemetry] proxy 'mqtt': refused", 60, off)
        time.sleep(3)
        if broker.device_connections() != before:
            raise kl.LocalError("a connection reached the broker after the proxy was removed")
        step("   proxy removed from the deployment (another still has one): refused, nothing reached the broker")

        # 7. Exactly once across a Fleet kill -9 and a device power cut.
        identifies += [command(fleet, dev, "identify") for _ in range(3)]
        fleet.kill()
        step("7. Fleet killed (-9) with identify commands queued; restarting it on the same data")
        time.sleep(2)
        fleet = kl.Fleet(host, work / "fleet", port=0, gateway_port=gw_port).start()
        identifies += [command(fleet, dev, "identify") for _ in range(2)]
        wait_done(fleet, dev, identifies, args.timeout)
        identifies += [command(fleet, dev, "identify") for _ in range(2)]
        time.sleep(0.5)
        consoles.append(dev.console())
        dev.power_off()
        step("   device powered off right after two more identify commands were queued")
        identifies += [command(fleet, dev, "identify")]
        dev.boot()
        wait_done(fleet, dev, identifies, args.timeout, interrupted_ok=True)
        time.sleep(2)
        dev.power_off()  # the console is final: Fleet cannot have a line it does not show
        consoles.append(dev.console())
        total = sum(len(re.findall(r"^\[link\] identify: ", c, re.M)) for c in consoles)
        cs = commands(fleet, dev)
        interrupted = [i for i in identifies if cs[i]["outcome"] != "done"]
        expect = IDENTIFY_LINES_PER_COMMAND * (len(identifies) - len(interrupted))
        if total != expect:
            raise kl.LocalError(f"identify ran {total / IDENTIFY_LINES_PER_COMMAND:.1f} times for "
                                f"{len(identifies)} commands ({len(interrupted)} interrupted): not exactly once")
        step(f"   {len(identifies)} identify commands, each ran exactly once ({total} lines); "
             f"deliveries: {sorted(cs[i]['deliveries'] for i in identifies)}")

        matched, marked = check_serial_order(fleet_serial(fleet, dev), consoles)
        step(f"8. serial: {matched} lines in Fleet in the device's order ({marked} gap(s), each with a dropped marker)")
        if relay:
            step(f"   the relay: {relay.stats}")
        print("link_e2e: PASS")
        return 0
    except (kl.LocalError, KeyError, TypeError, ValueError) as e:
        print(f"link_e2e: FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        print(f"  work directory kept: {work} (fleet.log, device console)", file=sys.stderr)
        for p in (fleet.log_path, dev.log):
            if p.exists():
                print(f"---- last lines of {p}", file=sys.stderr)
                print("\n".join(p.read_text(errors="replace").splitlines()[-40:]), file=sys.stderr)
        return 1
    finally:
        dev.power_off()
        fleet.stop()
        broker.stop()
        if relay:
            relay.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host-build", required=True)
    ap.add_argument("--device-build", required=True)
    ap.add_argument("--workdir")
    ap.add_argument("--lossy", action="store_true")
    ap.add_argument("--timeout", type=float, default=180)
    args = ap.parse_args()
    if args.lossy and os.environ.get("KEEL_IN_NETNS") != "1":
        probe = ("ip link set lo up && tc qdisc add dev lo root netem loss 1%")
        if (os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("tc") or
                subprocess.call(["unshare", "--net", "--", "sh", "-c", probe], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) != 0):
            step("tc netem in a private network namespace is not available here (not root, or no sch_netem "
                 "in this kernel): the lossy path is a UDP relay in this process instead")
            return run(args)
        script = ("ip link set lo up && tc qdisc add dev lo root netem delay 1ms loss 10% duplicate 5% "
                  "reorder 25% 50% && exec \"$@\"")
        return subprocess.call(["unshare", "--net", "--", "sh", "-c", script, "sh", sys.executable, *sys.argv],
                               env={**os.environ, "KEEL_IN_NETNS": "1"})
    if args.lossy:
        step("inside a private network namespace: " + subprocess.run(["tc", "qdisc", "show", "dev", "lo"],
                                                                     capture_output=True, text=True).stdout.strip())
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
