#!/usr/bin/env python3
"""link.command_rtt.ms — Fleet → QEMU device → COMMAND_RESULT recorded, in milliseconds.

  command_rtt.py --host-build DIR --device-build DIR [--count 20] [--workdir DIR]

A real keel-fleet (studio mode, from the host tree) and the demo device (images/demo-device.elf)
in QEMU, set up by scripts/keel_local.py (provision, register, enroll, boot). Once the device is
online, `count` identify commands one after the other: each is timed from the POST
/devices/{id}/commands to the API reporting it `done`, polling the command list every 5 ms (so
the figure includes up to ~5 ms of polling granularity and the API's own latency). Prints the
median and p90 as BENCH lines. QEMU runs in real time (no -icount): this is wall clock on the
host, with whatever else the machine is doing. Also printed: the median of the part between Fleet
sending the command and recording its result (the command's sent_at → result_at), i.e. the tunnel,
the device's agent (which journals each command durably before and after running it, for
exactly-once) and the way back.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import keel_local as kl  # noqa: E402


def command_of(fleet: kl.Fleet, dev: kl.Device, cid: int) -> dict:
    for c in fleet.api("GET", f"/devices/{dev.id}/commands?limit=50")["items"]:
        if c["id"] == cid:
            return c
    return {}


def one(fleet: kl.Fleet, dev: kl.Device, timeout: float) -> tuple[float, float]:
    """The round trip as the API client sees it, and the part from Fleet's sending the command
    to its recording the result (sent_at → result_at, Fleet's wall clock in ms)."""
    t0 = time.monotonic()
    cid = fleet.api("POST", f"/devices/{dev.id}/commands", {"kind": "identify"})["id"]
    while True:
        c = command_of(fleet, dev, cid)
        st = c.get("status", "")
        if st == "done":
            return (time.monotonic() - t0) * 1000.0, float(c["result_at"] - c["sent_at"])
        if st in ("failed", "cancelled"):
            raise kl.LocalError(f"identify {cid} ended {st}")
        if time.monotonic() - t0 > timeout:
            raise kl.LocalError(f"identify {cid} not done within {timeout:.0f} s (status {st!r})")
        time.sleep(0.005)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host-build", required=True)
    ap.add_argument("--device-build", required=True)
    ap.add_argument("--workdir")
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=180)
    args = ap.parse_args()
    work = kl.clean_dir(Path(args.workdir or tempfile.mkdtemp(prefix="keel-command-rtt-")))
    host, devb = Path(args.host_build), Path(args.device_build)
    image, manifest = devb / "images/demo-device.elf", devb / "systems/demo/demo-device.toml"
    fleet = kl.Fleet(host, work / "fleet").start()
    dev = kl.Device(host, manifest, image, work / "device", name="rtt-1")
    try:
        dep = kl.ensure_deployment(fleet, "bench", "rtt")
        dev.provision()
        dev.register(fleet, dep)
        dev.enroll(fleet)
        dev.boot()
        kl.wait_for("the device online in Fleet",
                    lambda: fleet.api("GET", f"/devices/{dev.id}")["connection"] == "online", args.timeout)
        one(fleet, dev, args.timeout)  # warm-up (not counted): the first command after boot
        runs = [one(fleet, dev, 30) for _ in range(args.count)]
    except kl.LocalError as e:
        print(f"command_rtt: {e}", file=sys.stderr)
        return 1
    finally:
        dev.power_off()
        fleet.stop()
    rtts = sorted(r for r, _ in runs)
    device = sorted(d for _, d in runs)
    p90 = rtts[min(len(rtts) - 1, int(round(0.9 * len(rtts))) - 1)]
    print(f"identify round trips (ms): {' '.join(f'{x:.1f}' for x in rtts)}")
    print(f"sent -> result recorded (ms): {' '.join(f'{x:.0f}' for x in device)}")
    print(f"BENCH link.command_rtt.ms {statistics.median(rtts):.1f} ms")
    print(f"BENCH link.command_rtt_p90.ms {p90:.1f} ms")
    print(f"BENCH link.command_rtt_sent_to_result.ms {statistics.median(device):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
