#!/usr/bin/env python3
"""link.devsim: keel-devsim's devices (the link agent's own core, each behind its own WireGuard
tunnel) against a real keel-fleet in studio mode on loopback.

1. Bad arguments and a deployment that does not exist are refused with the reason (exit 2) and
   register nothing.
2. N devices (default 300; `--count`) are registered with one bulk import, come up and
   authenticate; the API then lists every one of them online with the simulator's release and
   components, and console lines of every device reached Fleet.
3. A share flaps (loses power for 2-5 s now and then) and a share stays off: every device meant
   to be on was online (the simulator's exit status), the off ones were never seen.
4. An identify queued for ten online devices of that run is answered (done, or failed
   "interrupted" when a power cut came between running it and answering).
5. Rough paths on shared sockets: 40 devices on 2 UDP sockets (routed by receiver index), 5 %
   datagram loss everywhere, a quarter behind a 1.5 s one-way delay, a fifth whose agent hangs
   20 s after power-up. An identify to every device Fleet lists online after the hangs: the
   healthy and slow ones run it exactly once (the simulator's count) and Fleet records `done`,
   the slow ones no sooner than 3 s after it was sent; the hung ones never answer (the command
   stays `sent` or `queued`, nothing executed).
"""
from __future__ import annotations

import json

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import keel_local as kl  # noqa: E402


def step(msg: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


T0 = time.monotonic()


def devices(fleet: kl.Fleet, dep: int) -> list[dict]:
    return fleet.get_all(f"/devices?deployment_id={dep}&limit=200")


def devsim(binary: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=timeout)


def run(a) -> int:
    build = Path(a.host_build)
    sim_bin = build / "services/link/keel-devsim"
    work = Path(tempfile.mkdtemp(prefix="keel-devsim-check-"))
    fleet = kl.Fleet(build, work / "fleet").start()
    try:
        dep = kl.ensure_deployment(fleet, "sim", "plant")
        url = fleet.url

        # 1. Refusals: nothing registered.
        for args, want in ((["--deployment", "0"], "--deployment"),
                           (["--deployment", str(dep), "--count", "0"], "--count"),
                           (["--deployment", str(dep), "--gateway", "127.0.0.1:1"], "--gateway-key"),
                           (["--deployment", str(dep), "--sockets", "70000"], "--sockets"),
                           (["--deployment", str(dep), "--loss", "95"], "--loss"),
                           (["--deployment", str(dep), "--slow-ms", "0"], "--slow-ms"),
                           (["--deployment", str(dep), "--hang", "-1"], "--hang"),
                           (["--deployment", "999999"], "registering the devices")):
            r = devsim(sim_bin, "--fleet", url, *args, "--seconds", "1")
            if r.returncode != 2 or want not in r.stderr + r.stdout:
                raise kl.LocalError(f"keel-devsim {' '.join(args)}: exit {r.returncode}, expected 2 naming '{want}':\n"
                                    f"{r.stdout}{r.stderr}")
        if devices(fleet, dep):
            raise kl.LocalError("a refused run registered devices")
        step("1. bad arguments and an unknown deployment refused (exit 2, the reason named), nothing registered")

        # 2. N devices online.
        n = a.count
        t = time.monotonic()
        r = devsim(sim_bin, "--fleet", url, "--deployment", str(dep), "--count", str(n), "--prefix", "pump",
                   "--until-online", "--seconds", "120", "--chatter", "120", "--rate", "200")
        if r.returncode != 0:
            raise kl.LocalError(f"keel-devsim: exit {r.returncode}:\n{r.stdout}{r.stderr}")
        step(f"2. {n} devices registered and online in {time.monotonic() - t:.1f} s: {r.stdout.strip().splitlines()[-1]}")
        # The simulator stopped as soon as its devices had authenticated; the link commits their
        # online state within 50 ms (longer under load): give it a few seconds (Fleet lists them
        # online until it notices they are gone, 60 s later).
        ds = devices(fleet, dep)
        if len(ds) != n:
            raise kl.LocalError(f"{len(ds)} devices registered, expected {n}")
        try:
            kl.wait_for("every device seen by Fleet",
                        lambda: all(d.get("last_seen_at") for d in devices(fleet, dep)) or None, 15, 0.5)
        except kl.LocalError:
            unseen = [d["name"] for d in devices(fleet, dep) if not d.get("last_seen_at")]
            raise kl.LocalError(f"{len(unseen)} devices never seen by Fleet: {unseen[:10]}") from None
        ds = devices(fleet, dep)
        d0 = fleet.api("GET", f"/devices/{ds[0]['id']}")
        if (d0.get("reported") or {}).get("release") != "sim 1.0":
            raise kl.LocalError(f"device {ds[0]['name']} reported {d0.get('reported')}")
        comps = fleet.api("GET", f"/devices/{ds[0]['id']}/components")["items"]
        if sorted(c["name"] for c in comps) != ["app", "link", "logger", "net"]:
            raise kl.LocalError(f"components {comps}")
        step(f"   every device seen by Fleet; {ds[0]['name']} reported release 'sim 1.0' and 4 components")

        # 3 and 4: a run with flapping and offline shares, and commands.
        dep2 = kl.ensure_deployment(fleet, "sim", "flaky")
        proc = subprocess.Popen([str(sim_bin), "--fleet", url, "--deployment", str(dep2), "--count", "60",
                                 "--prefix", "flap", "--seconds", "25", "--offline", "20", "--flap", "30",
                                 "--flap-period", "5", "--chatter", "60"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ds2 = kl.wait_for("60 devices registered", lambda: (lambda x: x if len(x) == 60 else None)(devices(fleet, dep2)), 30)
        online = kl.wait_for("most devices online", lambda: (lambda x: x if len(x) >= 30 else None)(
            [d for d in devices(fleet, dep2) if d["connection"] == "online"]), 60)
        targets = online[:10]
        ids = {d["id"]: fleet.api("POST", f"/devices/{d['id']}/commands", {"kind": "identify"})["id"] for d in targets}

        def all_done():
            for dev_id, cid in ids.items():
                cs = {c["id"]: c for c in fleet.api("GET", f"/devices/{dev_id}/commands")["items"]}
                if cs[cid]["status"] not in ("done", "failed"):
                    return None
            return True
        kl.wait_for("the identify commands done", all_done, 20)
        for dev_id, cid in ids.items():
            c = {c["id"]: c for c in fleet.api("GET", f"/devices/{dev_id}/commands")["items"]}[cid]
            if c["status"] != "done" and not (c["status"] == "failed" and c.get("detail") == "interrupted"):
                raise kl.LocalError(f"identify on device {dev_id}: {c}")
        out, _ = proc.communicate(timeout=90)
        last = out.strip().splitlines()[-1]
        if proc.returncode != 0:
            raise kl.LocalError(f"keel-devsim (flapping): exit {proc.returncode}:\n{out[-3000:]}")
        never = [d for d in devices(fleet, dep2) if not d.get("last_seen_at")]
        if not 1 <= len(never) <= 30:
            raise kl.LocalError(f"{len(never)} of 60 devices never seen with 20 % meant to stay off")
        step(f"3. flapping and offline shares: {last}; {len(never)} never powered")
        step(f"4. identify on {len(ids)} devices: done")
        rough(sim_bin, fleet, work)
        print("devsim_check: PASS")
        return 0
    except (kl.LocalError, KeyError, TypeError, ValueError, subprocess.TimeoutExpired) as e:
        print(f"devsim_check: FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        print(f"  fleet log: {fleet.log_path}", file=sys.stderr)
        return 1
    finally:
        fleet.stop()


def rough(sim_bin: Path, fleet: kl.Fleet, work: Path) -> None:
    dep = kl.ensure_deployment(fleet, "sim", "rough")
    report = work / "rough.jsonl"
    t0 = time.monotonic()
    proc = subprocess.Popen([str(sim_bin), "--fleet", fleet.url, "--deployment", str(dep), "--count", "40",
                             "--prefix", "rough", "--seconds", "50", "--sockets", "2", "--loss", "5", "--slow", "25",
                             "--slow-ms", "1500", "--hang", "20", "--hang-after", "20", "--report", str(report)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    kl.wait_for("the rough devices mostly online", lambda: len(
        [d for d in devices(fleet, dep) if d["connection"] == "online"]) >= 30 or None, 40)
    time.sleep(max(0.0, 22 - (time.monotonic() - t0)))  # past the hangs
    online = [d for d in devices(fleet, dep) if d["connection"] == "online"]
    cmds = {d["name"]: (d["id"], fleet.api("POST", f"/devices/{d['id']}/commands", {"kind": "identify"})["id"])
            for d in online}
    out, _ = proc.communicate(timeout=120)
    if not report.exists():
        raise kl.LocalError(f"keel-devsim wrote no report (exit {proc.returncode}):\n{out[-3000:]}")
    rep = {r["name"]: r for r in map(json.loads, report.read_text().splitlines())}
    counts = {"healthy": 0, "slow": 0, "hung": 0}
    for name, (dev_id, cid) in cmds.items():
        r = rep[name]
        c = {c["id"]: c for c in fleet.api("GET", f"/devices/{dev_id}/commands")["items"]}[cid]
        if r["hung"]:
            if c["status"] not in ("queued", "sent") or r["executed"] != 0:
                raise kl.LocalError(f"{name} hung, yet its identify is {c['status']}, executed {r['executed']}")
            counts["hung"] += 1
            continue
        if c["status"] != "done" or r["executed"] != 1:
            raise kl.LocalError(f"{name} ({'slow' if r['slow'] else 'healthy'} path): identify {c}, "
                                f"executed {r['executed']} times")
        if r["slow"]:
            if c["result_at"] - c["sent_at"] < 3000:
                raise kl.LocalError(f"{name} is behind 1.5 s each way, yet answered in {c['result_at'] - c['sent_at']} ms")
            counts["slow"] += 1
        else:
            counts["healthy"] += 1
    if not counts["slow"] or not counts["hung"] or not counts["healthy"]:
        raise kl.LocalError(f"the run did not exercise every kind of device: {counts} of {len(cmds)} online")
    step(f"5. shared sockets, 5 % loss: {counts['healthy']} healthy and {counts['slow']} slow devices ran identify "
         f"once, {counts['hung']} hung never answered; {out.strip().splitlines()[-1]}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host-build", required=True)
    ap.add_argument("--count", type=int, default=300)
    return run(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
