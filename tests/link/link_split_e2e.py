#!/usr/bin/env python3
"""tests/link: Fleet as separate processes told through the Fleet bus — keel-fleet (API, web UI;
no device link of its own) and keel-gateway (tunnel + device link) sharing the store and a NATS
server (Debian's nats-server, started here on loopback), with the demo device in QEMU.

  link_split_e2e.py --host-build DIR --device-build DIR [--workdir DIR]

What it checks:
  1. a command queued through keel-fleet while the device is off runs when it comes up
     (keel-gateway's link holds the session);
  2. keel-fleet's event stream (/api/v1/events) announces the device online — a change made in
     keel-gateway's process;
  3. a command queued while the device is online is done well within the link's 1 s store poll
     plus the device's time (the wake-up crossed the bus);
  4. the remote console through keel-fleet's websocket reaches the device's shell in keel-gateway's
     session (`status` answers);
  0. keel-fleet refuses an unreachable NATS or a bad subject prefix at start, with the reason;
  5. keel-gateway killed (-9): the open console closes (4404 or the relay's "device link
     unreachable") instead of hanging; keel-gateway restarted: the device comes back and the
     console works again.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "scripts"))
sys.path.insert(0, str(HERE))
import keel_local as kl  # noqa: E402
import link_e2e as e2e  # noqa: E402

step = e2e.step


Nats = kl.Nats


class Gateway:
    """keel-gateway on the studio data directory of keel-fleet, with the bus."""

    def __init__(self, host: Path, data_dir: Path, port: int, nats: Nats, work: Path):
        self.bin = host / "fleet/gateway/keel-gateway"
        self.key = work / "gateway.key"
        if not self.key.exists():
            k = bytearray(os.urandom(32))
            k[0] &= 248
            k[31] = (k[31] & 127) | 64
            self.key.write_text(base64.b64encode(bytes(k)).decode() + "\n")
            self.key.chmod(0o600)
        self.args = [str(self.bin), "--private-key", str(self.key), "--fleet-data-dir", str(data_dir), "--port",
                     str(port), "--bind4", "127.0.0.1", "--bind6", "", "--refresh-interval", "1", "--nats", nats.url]
        self.log = work / "gateway.log"
        self.proc: subprocess.Popen | None = None
        self.public_key = ""

    def start(self) -> "Gateway":
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=open(self.log, "ab"), env=env)
        box: list[str] = []

        def read():
            for raw in self.proc.stdout:
                line = raw.decode(errors="replace")
                with open(self.log, "a") as f:
                    f.write(line)
                if "public key " in line and not box:
                    box.append(line.split("public key ")[1].split(",")[0].strip())
        threading.Thread(target=read, daemon=True).start()
        kl.wait_for("keel-gateway started", lambda: box or (self.proc.poll() is not None and
                                                             _fail(f"keel-gateway exited: see {self.log}")), 30, 0.1)
        self.public_key = box[0]
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def _fail(msg: str):
    raise kl.LocalError(msg)


class Events:
    """keel-fleet's /api/v1/events in a thread: the actions seen, with their targets."""

    def __init__(self, fleet: kl.Fleet):
        self.ws = e2e.WebSocket(fleet.url.replace("http://", "ws://") + "/api/v1/events", 10)
        self.seen: list[tuple[str, str]] = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        self.ws.sock.settimeout(None)
        try:
            while True:
                ev = json.loads(self.ws.recv())
                self.seen.append((ev.get("action", ""), str(ev.get("target_id", ""))))
        except Exception:  # noqa: BLE001 — the stream ends with the test
            pass


def run(args) -> int:
    work = Path(args.workdir or tempfile.mkdtemp(prefix="keel-link-split-"))
    kl.clean_dir(work)
    host, devb = Path(args.host_build), Path(args.device_build)
    image, manifest = devb / "images/demo-device.elf", devb / "systems/demo/demo-device.toml"
    # Bad bus options are refused at start with the reason (not a process that serves without it).
    for extra, why in ((["--nats", "nats://127.0.0.1:1"], "cannot connect to NATS at nats://127.0.0.1:1"),
                       (["--nats", "nats://127.0.0.1:1", "--nats-prefix", "a.b"], "subject prefix 'a.b' is not one token")):
        r = subprocess.run([str(host / "fleet/keel-fleet"), "--data-dir", str(work / "refused"), "--port", "0",
                            "--no-device-link", *extra], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "ASAN_OPTIONS": "detect_leaks=0"})
        if r.returncode == 0 or why not in r.stderr:
            raise SystemExit(f"link_split_e2e: FAIL: keel-fleet {' '.join(extra)}: exit {r.returncode}, {r.stderr[-500:]!r}")
    step("bad --nats / --nats-prefix refused at start with the reason")
    nats = Nats(work)
    gw_port = e2e.free_port(socket.SOCK_DGRAM)
    fleet = kl.Fleet(host, work / "fleet", port=0, extra=["--no-device-link", "--nats", nats.url]).start()
    gw = Gateway(host, work / "fleet", gw_port, nats, work)
    dev = kl.Device(host, manifest, image, work / "device", name="split-1")
    try:
        if fleet.api("GET", "/system").get("gateway"):
            raise kl.LocalError("keel-fleet --no-device-link still runs a gateway")
        dep = kl.ensure_deployment(fleet, "split", "plant")
        dev.provision()
        dev.register(fleet, dep)
        gw.start()
        fleet_address = fleet.api("GET", "/system")["fleet_tunnel_address"]
        dev._keel("device", "enroll", "--manifest", str(dev.manifest), "--disk", str(dev.disk), "--fleet-endpoint",
                  f"10.0.2.2:{gw_port}", "--fleet-key", gw.public_key, "--address", dev.address,
                  "--fleet-address", fleet_address)
        step(f"keel-fleet {fleet.url} (no device link), keel-gateway UDP {gw_port}, NATS {nats.url}; "
             f"device {dev.name} id {dev.id}")
        events = Events(fleet)
        first = e2e.command(fleet, dev, "identify")
        dev.boot()
        kl.wait_for("the device online", lambda: e2e.online(fleet, dev), args.timeout)
        e2e.wait_done(fleet, dev, [first], 60)
        step("1. online; the identify queued while it was off is done")
        kl.wait_for("device.online on keel-fleet's event stream",
                    lambda: ("device.online", str(dev.id)) in events.seen, 10)
        step("2. keel-fleet's event stream announced device.online (a change made in keel-gateway)")
        rtts = []
        for _ in range(3):
            t0 = time.monotonic()
            c = e2e.command(fleet, dev, "identify")
            e2e.wait_done(fleet, dev, [c], 30)
            rtts.append(time.monotonic() - t0)
        step(f"3. identify queued through keel-fleet, done in {', '.join(f'{r * 1000:.0f}' for r in rtts)} ms")
        ws = fleet.url.replace("http://", "ws://") + f"/api/v1/devices/{dev.id}/console"
        e2e.console_roundtrip(ws, "status", "fleet       connected", 60)
        step("4. remote console through keel-fleet's websocket: `status` answered by the device")

        console = e2e.WebSocket(ws, 10)
        console.send_text("\r")
        console.sock.settimeout(10)
        console.recv()
        gw.kill()
        t0 = time.monotonic()
        console.sock.settimeout(30)
        try:
            while True:
                console.recv()
        except kl.LocalError as e:
            why = str(e)
        except socket.timeout:
            raise kl.LocalError("the console stayed open 30 s after keel-gateway was killed")
        if "4404" not in why and "device link unreachable" not in why:
            raise kl.LocalError(f"console after keel-gateway's death: {why}")
        step(f"5. keel-gateway killed: the open console closed after {time.monotonic() - t0:.1f} s ({why})")
        gw.start()
        kl.wait_for("the device online again", lambda: e2e.online(fleet, dev), args.timeout)
        e2e.console_roundtrip(ws, "status", "fleet       connected", 60)
        step("   keel-gateway restarted: the device is back and its console works")
        print("link_split_e2e: PASS")
        return 0
    except (kl.LocalError, KeyError, TypeError, ValueError) as e:
        print(f"link_split_e2e: FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        print(f"  work directory kept: {work}", file=sys.stderr)
        for p in (fleet.log_path, gw.log, dev.log):
            if p.exists():
                print(f"---- last lines of {p}", file=sys.stderr)
                print("\n".join(p.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)
        return 1
    finally:
        dev.power_off()
        gw.stop()
        fleet.stop()
        nats.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host-build", required=True)
    ap.add_argument("--device-build", required=True)
    ap.add_argument("--workdir")
    ap.add_argument("--timeout", type=float, default=180)
    return run(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
