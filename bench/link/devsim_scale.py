#!/usr/bin/env python3
"""Scale with keel-devsim (issue 13; first figures): N simulated devices (the link agent's own
core, each behind its own WireGuard tunnel) against keel-fleet in studio mode, both from the given
host build, on this machine. Prints BENCH lines:

  scale.studio_online.s            registration (one bulk import) to every device authenticated
  scale.studio_devices_online      devices online in Fleet's API after the run
  scale.studio_fleet_bytes_per_device  Fleet's resident memory growth per online device
  scale.studio_idle_cpu.percent    Fleet's CPU (of one core) over 10 s with every device online and
                                   idle but for its console chatter (6 lines/min) and keepalives
  scale.studio_fanout.s            one identify to every device of the deployment
                                   (POST /deployments/{id}/commands) until the batch counts every
                                   outcome `done`; fails if any failed or went missing

Studio mode (SQLite) is not issue 13's target (fleet mode on PostgreSQL is): these are the first
figures of the simulator, not the targets' measurement.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import keel_local as kl  # noqa: E402


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise kl.LocalError("no VmRSS")


def cpu_s(pid: int) -> float:
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def online_count(fleet: kl.Fleet, dep: int) -> int:
    return sum(1 for d in fleet.get_all(f"/devices?deployment_id={dep}&limit=200") if d["connection"] == "online")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host-build", required=True)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--sockets", type=int, default=0, help="keel-devsim --sockets (0: one per device)")
    a = ap.parse_args()
    build = Path(a.host_build)
    work = Path(tempfile.mkdtemp(prefix="keel-devsim-scale-"))
    fleet = kl.Fleet(build, work / "fleet").start()
    sim = None
    try:
        dep = kl.ensure_deployment(fleet, "scale", "plant")
        pid = fleet.proc.pid
        time.sleep(1)
        rss0 = rss_bytes(pid)
        t0 = time.monotonic()
        sim = subprocess.Popen([str(build / "services/link/keel-devsim"), "--fleet", fleet.url, "--deployment", str(dep),
                                "--count", str(a.count), "--rate", "1000", "--seconds", "900",
                                "--sockets", str(a.sockets)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        kl.wait_for(f"{a.count} devices online", lambda: online_count(fleet, dep) >= a.count or None, 300, 1.0)
        online_s = time.monotonic() - t0
        time.sleep(5)
        c0, w0 = cpu_s(pid), time.monotonic()
        time.sleep(10)
        idle = (cpu_s(pid) - c0) / (time.monotonic() - w0) * 100
        rss1 = rss_bytes(pid)
        n = online_count(fleet, dep)
        t0 = time.monotonic()
        batch = fleet.api("POST", f"/deployments/{dep}/commands", {"kind": "identify"})
        if batch["devices"] != a.count:
            raise kl.LocalError(f"the batch queued {batch['devices']} commands for {a.count} devices")
        counts = kl.wait_for("every identify done", lambda: (lambda c: c if c["done"] + c["failed"] >= a.count else None)(
            fleet.api("GET", f"/deployments/{dep}/commands/{batch['id']}")["status_counts"]), 600, 0.5)
        fanout_s = time.monotonic() - t0
        if counts["done"] != a.count:
            raise kl.LocalError(f"fan-out outcomes: {counts}")
        print(f"BENCH scale.studio_online.s {online_s:.1f} s")
        print(f"BENCH scale.studio_devices_online {n} devices")
        print(f"BENCH scale.studio_fleet_bytes_per_device {(rss1 - rss0) / max(n, 1):.0f} bytes")
        print(f"BENCH scale.studio_idle_cpu.percent {idle:.1f} %")
        print(f"BENCH scale.studio_fanout.s {fanout_s:.1f} s")
        return 0 if n == a.count else 1
    finally:
        if sim:
            sim.terminate()
            sim.communicate(timeout=30)
        fleet.stop()


if __name__ == "__main__":
    sys.exit(main())
