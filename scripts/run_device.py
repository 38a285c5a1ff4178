#!/usr/bin/env python3
"""`make run`: a local Keel Fleet (studio mode) and the demo device in QEMU, connected.

Starts keel-fleet in studio mode (web UI and API on http://127.0.0.1:$KEEL_FLEET_PORT, default
7780; its WireGuard gateway on UDP $KEEL_GATEWAY_PORT, default 51820, loopback only), provisions
the demo device (disk image with its sealed keys, device key), registers it in Fleet with the keys
of its first boot, enrolls it (Fleet's endpoint, key and the device's tunnel address into its
disk), boots it in QEMU and follows its console here. The device connects through its tunnel and
shows up online in the web UI. Ctrl-C stops both.

KEEL_RUN_SECONDS=N ends the run by itself after N seconds and exits non-zero unless the device was
online in Fleet and its console lines had reached Fleet (the test `run.device` runs it that way).
State lives in build/run/ (wiped at each start: a fresh Fleet and a freshly provisioned device).
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import keel_local as kl  # noqa: E402


def main() -> int:
    root = kl.ROOT
    build_host = Path(os.environ.get("KEEL_RUN_HOST_BUILD", root / "build/host-release"))
    if not (build_host / "fleet/keel-fleet").exists():
        build_host = root / "build/host"
    build_dev = Path(os.environ.get("KEEL_RUN_DEVICE_BUILD", root / "build/aarch64"))
    image = build_dev / "images/demo-device.elf"
    manifest = build_dev / "systems/demo/demo-device.toml"
    seconds = int(os.environ.get("KEEL_RUN_SECONDS", "0"))
    work = kl.clean_dir(Path(os.environ.get("KEEL_RUN_DIR", root / "build/run")))
    fleet = kl.Fleet(build_host, work / "fleet", port=int(os.environ.get("KEEL_FLEET_PORT", "7780")),
                     gateway_port=int(os.environ.get("KEEL_GATEWAY_PORT", "51820")))
    device = kl.Device(build_host, manifest, image, work / "device", name="demo-1")
    stop = {"now": False}

    def on_signal(*_):
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    online = False
    try:
        fleet.start()
        deployment = kl.ensure_deployment(fleet)
        device.provision()
        device.register(fleet, deployment)
        device.enroll(fleet)
        print(f"Keel Fleet (studio mode): {fleet.url}/  (log: {fleet.log_path})")
        print(f"device demo-1: id {device.id}, tunnel address {device.address}; its console follows "
              f"({'ends after %d s' % seconds if seconds else 'Ctrl-C stops Fleet and the device'})", flush=True)
        device.boot()
        shown = 0
        end = time.monotonic() + seconds if seconds else None
        while not stop["now"] and (end is None or time.monotonic() < end):
            text = device.console()
            if len(text) > shown:
                sys.stdout.write(text[shown:])
                sys.stdout.flush()
                shown = len(text)
            if device.qemu and device.qemu.poll() is not None:
                print("run: the device stopped", file=sys.stderr)
                break
            if not online:
                d = fleet.api("GET", f"/devices/{device.id}")
                if d["connection"] == "online":
                    online = True
                    print(f"run: device demo-1 is online in Fleet: {fleet.url}/devices/{device.id}", flush=True)
            time.sleep(0.2)
        if seconds:
            serial = fleet.api("GET", f"/devices/{device.id}/serial?limit=10")["items"]
            if not online:
                print(f"run: FAIL: the device never came online in Fleet within {seconds} s "
                      f"(Fleet log: {fleet.log_path}; console: {device.log})", file=sys.stderr)
                return 1
            if not serial:
                print("run: FAIL: no console line of the device reached Fleet", file=sys.stderr)
                return 1
            print(f"run: PASS: the device was online and {len(serial)}+ console lines reached Fleet")
        return 0
    except kl.LocalError as e:
        print(f"run: {e}", file=sys.stderr)
        return 1
    finally:
        device.power_off()
        fleet.stop()


if __name__ == "__main__":
    sys.exit(main())
