#!/usr/bin/env python3
"""Fleet mode at scale (issue 13): N simulated devices (keel-devsim: the link agent's own core, each
behind its own WireGuard tunnel) against Fleet as it runs on a server — keel-fleet (API) and
keel-gateway (tunnel + device link) as two processes on a throwaway PostgreSQL cluster, told
through a NATS server —, everything on this machine's loopback, from one build tree.

  scale_fleet.py --host-build DIR [--count N] [--label L] [--rate R] [--reconnect-limit S] ...

What it runs (all removed at the end, also on failure or SIGTERM):
  1. PostgreSQL: initdb in /tmp (as the postgres user when run as root), unix socket only, the
     durable defaults (fsync, synchronous_commit on) — as bench/fleet/store.sh;
  2. nats-server on a free loopback port;
  3. keel-fleet --mode fleet --nats (after bootstrap-admin; `--pwhash-cost test`); the
     administrator creates an organisation and its owner, whose API token (made with the owner's
     session) drives everything else — the project, the deployment, keel-devsim, the checks;
  4. keel-gateway --fleet-db --nats on a free UDP port (its default refresh interval, 5 s; a
     SIGHUP once keel-devsim has registered its devices, so that they are known before they come
     up instead of all handshaking at the next refresh);
  5. keel-devsim --count N --rate R --chatter C (registers the devices with one bulk import and
     brings them up; `--sockets S` passed only when this keel-devsim lists it in --help).

It prints BENCH lines (`BENCH <name> <value> <unit>`); <label> is --label, by default the count
in thousands (`100k` for 100000, `5k` for 5000; `2500` below 1000 or off the thousands):
  scale.online_<label>.s             keel-devsim's start (keys, bulk import, bring-up at --rate) to
                                     every device online in the API
  scale.devices_online               devices `online` in the API's device list (every page, with
                                     the owner's token) once all came up
  scale.fleet_bytes_per_device       resident memory growth of keel-gateway + keel-fleet per online
                                     device (baseline: both started, before keel-devsim)
  scale.idle_cpu_<label>.percent     CPU of keel-gateway + keel-fleet + every PostgreSQL server
                                     process over 10 s (--idle-seconds; from 5 s, --settle, after
                                     the last came up) with every device online and idle (percent
                                     of one core); scale.idle_cpu_gateway_<label>.percent is
                                     keel-gateway's share alone, and
                                     scale.idle_pg_commits_<label>.per_s the database's commits/s
  scale.reconnect_<label>.s          kill -9 of keel-gateway AND keel-fleet with every device online,
                                     both restarted at once: the kill to every device online again
  scale.api_p99_during_storm.ms      p99 of `GET /devices?deployment_id=D&limit=100` sent every
                                     ~50 ms from keel-fleet's restart (once it listens) to the end
                                     of the storm (with the sample count and the worst as
                                     scale.api_*_during_storm)
and checks that no command is lost or duplicated across the storm: `identify` is queued to
--sample devices just before the kill and to --sample others during the storm; at the end each
of them has exactly that one command, status `done` with outcome `done`, and keel-devsim's own
count of executed commands (its last line, after SIGTERM) equals the number queued.

Exit status 1 (with the device or command named) when devices do not all come online within
--online-timeout (or the count stops growing for --stall-timeout, 60 s), a command is lost,
failed or duplicated, the storm does not recover within --reconnect-limit (default 60 s: issue
13's target), or the API fails during the storm; 0 otherwise. Logs are in --workdir (kept on
failure). `make bench` runs 100,000 devices on host-release (scale_fleet_100k); `make test`
1,000 on the ASan tree (link.scale_fleet; bench/link/CMakeLists.txt says why not 5,000).

Defaults and why: --chatter 0 (idle means idle: keel-devsim's own default, 6 lines per device per
minute, is 10,000 serial lines/s into PostgreSQL at 100,000 devices); --rate 150 (about what the
device link's one shard authenticates in the release build while it holds a few thousand devices;
a backlog beyond its 10 s authentication timeout makes devices start over);
--sockets min(count, 1024) when keel-devsim has the option (one UDP socket per device stops at the
~28,000 ephemeral ports of 127.0.0.1); the hard open-file limit is raised when run as root.

One file (~670 lines) on purpose: the processes it starts, the phases and the checks share one
run's state (ports, pids, tokens, the sample of commands), and `make bench` and `make test` call
it as one script.
"""
from __future__ import annotations

import argparse
import base64
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import keel_local as kl  # noqa: E402

PASSWORD = "scale-harness-password"  # ≥ 12 characters; a throwaway cluster on a unix socket
ENV = {**os.environ, "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=0")}


class Fail(Exception):
    pass


def say(msg: str) -> None:
    print(f"scale_fleet: {msg}", flush=True)


free_port = kl.free_port


# ---- /proc -----------------------------------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def cpu_s(pid: int) -> float:
    f = _stat(pid)
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK") if f else 0.0


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise Fail(f"no VmRSS for pid {pid}")


def children(ppid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            f = _stat(int(d))
            if f and int(f[1]) == ppid:
                out.append(int(d))
    return out


# ---- the processes ---------------------------------------------------------------------------------

class Postgres:
    """A throwaway cluster in /tmp: unix socket only, durable settings (bench/fleet/store.sh)."""

    def __init__(self):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3])
                      if p.parts[-3].isdigit() else 0)
        if not bins:
            raise Fail("PostgreSQL server binaries are missing (package postgresql; scripts/setup.sh installs it)")
        self.bin = bins[-1].parent
        self.dir = Path(tempfile.mkdtemp(prefix="keel-scale-pg-", dir="/tmp"))
        self.as_pg: list[str] = []
        if os.getuid() == 0:  # PostgreSQL refuses to run as root: the cluster belongs to postgres then
            try:
                shutil.chown(self.dir, "postgres", "postgres")
            except (LookupError, OSError) as e:
                shutil.rmtree(self.dir, ignore_errors=True)
                raise Fail(f"running as root needs the postgres user for the cluster: {e}")
            self.as_pg = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        self.started = False

    def start(self) -> "Postgres":
        self._run("initdb", "-D", f"{self.dir}/data", "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8",
                  "--locale=C.UTF-8")
        self.started = True
        self._run("pg_ctl", "-D", f"{self.dir}/data", "-w", "-t", "60", "-l", f"{self.dir}/log", "-o",
                  f"-k {self.dir} -p {self.port} -c listen_addresses=''", "start")
        return self

    def _run(self, tool: str, *args: str) -> None:
        r = subprocess.run([*self.as_pg, str(self.bin / tool), *args], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise Fail(f"{tool} failed ({r.returncode}): {r.stdout[-1000:]}{r.stderr[-1000:]}")

    @property
    def conn(self) -> str:
        return f"host={self.dir} port={self.port} user=postgres dbname=postgres"

    def commits(self) -> int:
        """Transactions committed in the database so far (pg_stat_database)."""
        r = subprocess.run([*self.as_pg, str(self.bin / "psql"), "-h", str(self.dir), "-p", str(self.port), "-U",
                            "postgres", "-d", "postgres", "-Atc",
                            "SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'"],
                           capture_output=True, text=True, timeout=30)
        return int(r.stdout.strip() or 0) if r.returncode == 0 else 0

    def pids(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, walwriter, ...)."""
        try:
            pm = int(Path(f"{self.dir}/data/postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return []
        return [pm, *children(pm)]

    def log_tail(self) -> str:
        try:
            return "\n".join(Path(f"{self.dir}/log").read_text(errors="replace").splitlines()[-20:])
        except FileNotFoundError:
            return ""

    def remove(self) -> None:
        if self.started:
            subprocess.run([*self.as_pg, str(self.bin / "pg_ctl"), "-D", f"{self.dir}/data", "-m", "immediate", "-w",
                            "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


Nats = kl.Nats


class Service:
    """A long-running program whose stdout is copied to its log by a thread; `ready` is a regex
    of the stdout line that says it serves (its first group is kept in self.ready_value)."""

    def __init__(self, name: str, args: list[str], log: Path, ready: str):
        self.name, self.args, self.log, self.ready = name, args, log, re.compile(ready)
        self.proc: subprocess.Popen | None = None
        self.ready_value = ""

    def start(self, timeout: float = 60) -> "Service":
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> None:
        logf = open(self.log, "ab")
        logf.write(f"---- {time.strftime('%H:%M:%S')} {' '.join(self.args)}\n".encode())
        logf.flush()
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=logf, env=ENV)
        self._box: list[str] = []
        box, proc = self._box, self.proc

        def read():
            with open(self.log, "ab") as out:
                for raw in proc.stdout:
                    out.write(raw)
                    out.flush()
                    m = self.ready.search(raw.decode(errors="replace"))
                    if m and not box:
                        box.append(m.group(1))
        threading.Thread(target=read, daemon=True).start()

    def wait_ready(self, timeout: float = 60) -> "Service":
        box, proc = self._box, self.proc
        end = time.monotonic() + timeout
        while not box:
            if proc.poll() is not None:
                raise Fail(f"{self.name} exited ({proc.returncode}) at start:\n{tail(self.log)}")
            if time.monotonic() > end:
                raise Fail(f"{self.name} did not start within {timeout:.0f} s:\n{tail(self.log)}")
            time.sleep(0.02)
        self.ready_value = box[0]
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def tail(p: Path, n: int = 30) -> str:
    try:
        return "\n".join(p.read_text(errors="replace").splitlines()[-n:])
    except FileNotFoundError:
        return ""


def gateway_key(path: Path) -> None:
    k = bytearray(os.urandom(32))
    k[0] &= 248
    k[31] = (k[31] & 127) | 64
    path.write_text(base64.b64encode(bytes(k)).decode() + "\n")
    path.chmod(0o600)


def raise_nofile(need: int) -> None:
    """In keel-devsim's child before exec: room for its sockets (root may raise the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need and os.getuid() == 0:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            return
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < need:
        cap = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (cap, hard))


# ---- measurements ----------------------------------------------------------------------------------

def online_now(api: kl.FleetClient, dep: int) -> int:
    """The deployment's online_count: one query, cheap enough to poll."""
    return int(api.api("GET", f"/deployments/{dep}", timeout=60)["online_count"])


def wait_all_online(api: kl.FleetClient, dep: int, n: int, timeout: float, t0: float, what: str,
                    step=None, stall: float = 0) -> float:
    """Seconds from t0 until online_count reaches n; Fail after timeout (from t0), or once the count
    has not grown for `stall` seconds (when given)."""
    last, last_print = -1, 0.0
    best, best_at = -1, time.monotonic()
    while True:
        now = time.monotonic()
        if step:
            step()
        try:
            last = online_now(api, dep)
        except (kl.LocalError, OSError) as e:
            say(f"  ({what}: GET /deployments/{dep}: {e})")
        if last >= n:
            return time.monotonic() - t0
        if now - last_print >= 5:
            say(f"  {what}: {max(last, 0)} of {n} online after {now - t0:.0f} s")
            last_print = now
        if now - t0 > timeout:
            raise Fail(f"{what}: {max(last, 0)} of {n} devices online after {timeout:.0f} s")
        if last > best:
            best, best_at = last, now
        elif stall and best > 0 and now - best_at > stall:  # (keys and the bulk import come first)
            raise Fail(f"{what}: stalled at {max(best, 0)} of {n} devices online (now {max(last, 0)}), no progress "
                       f"for {stall:.0f} s, {now - t0:.0f} s after the start")
        time.sleep(0.25)


class Latency(threading.Thread):
    """GET /devices?deployment_id=D&limit=100 every ~50 ms (a new connection each, like a client)."""

    def __init__(self, url: str, token: str, dep: int):
        super().__init__(daemon=True)
        self.req_url = f"{url}/api/v1/devices?deployment_id={dep}&limit=100"
        self.token = token
        self.ms: list[float] = []
        self.errors: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            t0 = time.monotonic()
            req = urllib.request.Request(self.req_url, headers={"Authorization": f"Bearer {self.token}"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    r.read()
                self.ms.append((time.monotonic() - t0) * 1000)
            except urllib.error.HTTPError as e:
                self.errors.append(f"{e.code} {e.read()[:200]!r}")
            except OSError as e:
                self.errors.append(f"{type(e).__name__}: {e}")
            self.halt.wait(max(0.0, 0.05 - (time.monotonic() - t0)))

    def stop(self) -> None:
        self.halt.set()
        self.join(15)


def p99(xs: list[float]) -> float:
    s = sorted(xs)
    return s[max(0, -(-len(s) * 99 // 100) - 1)] if s else 0.0


def label_for(count: int) -> str:
    return f"{count // 1000}k" if count >= 1000 and count % 1000 == 0 else str(count)


# ---- the run ---------------------------------------------------------------------------------------

def run(a) -> int:
    build = Path(a.host_build)
    fleet_bin, gw_bin, sim_bin = (build / "fleet/keel-fleet", build / "fleet/gateway/keel-gateway",
                                  build / "services/link/keel-devsim")
    for b in (fleet_bin, gw_bin, sim_bin):
        if not b.exists():
            raise Fail(f"{b} is missing: build keel-fleet, keel-gateway and keel-devsim in {build}")
    if not shutil.which("nats-server"):
        raise Fail("nats-server is missing (package nats-server; scripts/setup.sh installs it)")
    label = a.label or label_for(a.count)
    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="keel-scale-fleet-"))
    kl.clean_dir(work)
    data = work / "fleet"
    data.mkdir()
    pg = Postgres()
    nats = fleet = gw = sim = None
    ok = False
    try:
        pg.start()
        nats = Nats(work)
        say(f"PostgreSQL {pg.bin.parent.name} in {pg.dir}, NATS {nats.url}, work {work}")
        common = [str(fleet_bin), "--mode", "fleet", "--database", pg.conn, "--data-dir", str(data),
                  "--pwhash-cost", "test"]
        r = subprocess.run([*common, "bootstrap-admin", "--email", "admin@scale.test"], capture_output=True,
                           text=True, timeout=120, env={**ENV, "KEEL_FLEET_ADMIN_PASSWORD": PASSWORD})
        if r.returncode != 0:
            raise Fail(f"bootstrap-admin failed ({r.returncode}): {r.stdout}{r.stderr[-2000:]}")
        fleet_args = [*common, "--nats", nats.url, "--print-port", "--log-level", "warn"]
        fleet = Service("keel-fleet", [*fleet_args, "--port", "0"], work / "fleet.log", r"^(\d+)\s*$").start()
        url = f"http://127.0.0.1:{fleet.ready_value}"
        fleet.args = [*fleet_args, "--port", fleet.ready_value]  # a restart serves the same port

        # The administrator makes an organisation and its owner; the owner's token does the rest.
        admin = kl.FleetClient(url, kl.login_token(url, "admin@scale.test", PASSWORD, name="scale-admin"))
        org = admin.api("POST", "/organizations", {"name": "scale"})["id"]
        admin.api("POST", "/users", {"email": "owner@scale.test", "name": "Scale owner",
                                     "role": "organization_owner", "organization_id": org, "password": PASSWORD})
        token = kl.login_token(url, "owner@scale.test", PASSWORD, name="scale")
        api = kl.FleetClient(url, token)
        dep = kl.ensure_deployment(api, "scale", "plant")

        gw_port = free_port(socket.SOCK_DGRAM)
        key = work / "gateway.key"
        gateway_key(key)
        gw = Service("keel-gateway", [str(gw_bin), "--private-key", str(key), "--fleet-db", pg.conn, "--nats", nats.url,
                                      "--bind4", "127.0.0.1", "--bind6", "", "--port", str(gw_port)],
                     work / "gateway.log", r"public key (\S+?),").start()
        gw_key = gw.ready_value
        say(f"keel-fleet {url} (pid {fleet.pid}), keel-gateway UDP {gw_port} (pid {gw.pid}), deployment {dep}")

        # keel-devsim: --sockets only if this one has it.
        help_text = subprocess.run([str(sim_bin), "--help"], capture_output=True, text=True, env=ENV,
                                   timeout=30).stdout
        sim_args = [str(sim_bin), "--fleet", url, "--token", token, "--deployment", str(dep), "--count", str(a.count),
                    "--gateway", f"127.0.0.1:{gw_port}", "--gateway-key", gw_key, "--rate", str(a.rate),
                    "--chatter", str(a.chatter), "--seconds", str(int(a.online_timeout + a.reconnect_limit + 900))]
        sockets = 0
        if "--sockets" in help_text and a.sockets != 0:
            sockets = a.sockets if a.sockets > 0 else max(1, min(a.count, 1024))
            sim_args += ["--sockets", str(sockets)]
        need_fds = (sockets or a.count) + 1024

        time.sleep(2)
        rss0 = rss_bytes(fleet.pid) + rss_bytes(gw.pid)
        t0 = time.monotonic()
        sim_log = work / "devsim.log"
        sim = subprocess.Popen(sim_args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV,
                               preexec_fn=lambda: raise_nofile(need_fds))
        registered = threading.Event()

        def copy_sim_output(proc=sim):
            with open(sim_log, "ab") as out:
                for raw in proc.stdout:
                    out.write(raw)
                    out.flush()
                    if b"registered in" in raw and not registered.is_set():
                        registered.set()
                        # The gateway learns the new devices now rather than at its next refresh
                        # (5 s): otherwise every device brought up meanwhile handshakes at once then.
                        gw.proc.send_signal(signal.SIGHUP)
        sim_reader = threading.Thread(target=copy_sim_output, daemon=True)
        sim_reader.start()
        say(f"keel-devsim: {a.count} devices at {a.rate:g}/s" + (f" on {sockets} shared sockets" if sockets else
                                                                   " (one UDP socket each)"))

        def sim_alive():
            if sim.poll() is not None:
                raise Fail(f"keel-devsim exited ({sim.returncode}):\n{tail(sim_log)}")
        online_s = wait_all_online(api, dep, a.count, a.online_timeout, t0, "bring-up", sim_alive, a.stall_timeout)
        say(f"every device online after {online_s:.1f} s")
        devices = api.get_all(f"/devices?deployment_id={dep}&limit=200")
        n_online = sum(1 for d in devices if d["connection"] == "online")
        if n_online < a.count:
            off = [d["name"] for d in devices if d["connection"] != "online"][:10]
            raise Fail(f"the device list shows {n_online} of {a.count} online (offline e.g. {off})")

        # Idle: memory, then --idle-seconds of CPU.
        time.sleep(a.settle)
        procs = {"keel-gateway": [gw.pid], "keel-fleet": [fleet.pid], "postgres": pg.pids()}
        x0 = pg.commits()
        c0 = {p: cpu_s(p) for ps in procs.values() for p in ps}
        w0 = time.monotonic()
        time.sleep(a.idle_seconds)
        procs["postgres"] = pg.pids()  # backends started meanwhile count from zero
        wall = time.monotonic() - w0
        commits_per_s = (pg.commits() - x0) / wall
        cpu = {k: sum(cpu_s(p) - c0.get(p, 0.0) for p in ps) / wall * 100 for k, ps in procs.items()}
        rss1 = rss_bytes(fleet.pid) + rss_bytes(gw.pid)
        idle = sum(cpu.values())
        say(f"idle: {idle:.1f} % of a core (keel-gateway {cpu['keel-gateway']:.1f}, keel-fleet "
            f"{cpu['keel-fleet']:.1f}, PostgreSQL {cpu['postgres']:.1f}), {commits_per_s:.0f} PostgreSQL commits/s; "
            f"RSS {rss0 >> 20} -> {rss1 >> 20} MiB")

        # The figures so far stand even if the storm fails.
        print(f"BENCH scale.online_{label}.s {online_s:.1f} s")
        print(f"BENCH scale.devices_online {n_online} devices")
        print(f"BENCH scale.fleet_bytes_per_device {(rss1 - rss0) / max(n_online, 1):.0f} bytes")
        print(f"BENCH scale.idle_cpu_{label}.percent {idle:.1f} %")
        print(f"BENCH scale.idle_cpu_gateway_{label}.percent {cpu['keel-gateway']:.1f} %")
        print(f"BENCH scale.idle_pg_commits_{label}.per_s {commits_per_s:.0f} commits/s", flush=True)

        # The storm, with commands queued before it and during it.
        step = max(1, len(devices) // (2 * a.sample))
        spread = devices[::step]
        before, during = spread[:a.sample], spread[a.sample:2 * a.sample]
        queued: dict[int, list[int]] = {}  # device id -> command ids queued to it

        def queue(d: dict) -> None:
            c = api.api("POST", f"/devices/{d['id']}/commands", {"kind": "identify"})
            queued.setdefault(d["id"], []).append(c["id"])
        for d in before:
            queue(d)
        t_kill = time.monotonic()
        gw.kill()
        fleet.kill()
        fleet.launch()
        gw.launch()
        fleet.wait_ready()
        t_fleet = time.monotonic() - t_kill
        lat = Latency(url, token, dep)
        lat.start()
        gw.wait_ready()
        say(f"keel-gateway and keel-fleet killed (-9) and restarted (pids {gw.pid}, {fleet.pid}) with "
            f"{len(before)} identify commands just queued; keel-fleet listening after {t_fleet:.1f} s, keel-gateway "
            f"serving after {time.monotonic() - t_kill:.1f} s")
        pending = list(during)

        def storm_step():
            sim_alive()
            for _ in range(min(10, len(pending))):
                queue(pending.pop(0))
        try:
            reconnect_s = wait_all_online(api, dep, a.count, a.reconnect_limit, t_kill, "storm", storm_step)
        finally:
            lat.stop()  # the API's figures stand even if the storm does not recover
            print(f"BENCH scale.api_p99_during_storm.ms {p99(lat.ms):.1f} ms")
            print(f"BENCH scale.api_max_during_storm.ms {max(lat.ms, default=0):.1f} ms")
            print(f"BENCH scale.api_requests_during_storm {len(lat.ms)} requests", flush=True)
        print(f"BENCH scale.reconnect_{label}.s {reconnect_s:.1f} s", flush=True)
        while pending:
            queue(pending.pop(0))
        say(f"every device online again {reconnect_s:.1f} s after the kill; {len(lat.ms)} device-list requests "
            f"meanwhile, p99 {p99(lat.ms):.1f} ms, worst {max(lat.ms, default=0):.1f} ms, {len(lat.errors)} failed")

        # Every command exactly once, done.
        want = sum(len(v) for v in queued.values())
        problems: dict[int, str] = {}
        end = time.monotonic() + a.command_timeout
        while True:
            problems = {}
            for dev_id, ids in queued.items():
                cmds = api.api("GET", f"/devices/{dev_id}/commands?limit=200")["items"]
                got = {c["id"]: c for c in cmds}
                extra = [c["id"] for c in cmds if c["id"] not in ids]
                for cid in ids:
                    c = got.get(cid)
                    if c is None:
                        problems[dev_id] = f"command {cid} lost (not in the device's queue)"
                    elif c["status"] != "done" or c.get("outcome") != "done":
                        problems[dev_id] = (f"command {cid}: status {c['status']}, outcome {c.get('outcome')}, "
                                            f"deliveries {c.get('deliveries')}, detail {c.get('detail')!r}")
                if extra:
                    problems[dev_id] = f"commands {extra} besides {ids}"
            if not problems or time.monotonic() > end:
                break
            time.sleep(1)
        devname = {d["id"]: d["name"] for d in devices}
        if problems:
            for dev_id, why in sorted(problems.items()):
                say(f"  device {dev_id} ({devname.get(dev_id)}): {why}")
            raise Fail(f"{len(problems)} of {len(queued)} sampled devices have no single `done` outcome for their "
                       f"command {a.command_timeout:.0f} s after the storm")
        # keel-devsim's own count: each command executed once on its device.
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(60)
        except subprocess.TimeoutExpired:
            raise Fail("keel-devsim did not stop within 60 s of SIGTERM")
        sim_reader.join(10)
        m = re.search(r"(\d+) commands executed", sim_log.read_text(errors="replace"))
        executed = int(m.group(1)) if m else -1
        if executed != want:
            raise Fail(f"keel-devsim executed {executed} commands, {want} were queued "
                       f"(a duplicate execution, or a lost one):\n{tail(sim_log)}")
        say(f"{want} identify commands ({len(before)} before the kill, {len(during)} during the storm): each done "
            f"exactly once in Fleet, {executed} executed by the devices")
        if lat.errors:
            raise Fail(f"{len(lat.errors)} device-list requests failed during the storm, e.g. {lat.errors[:3]}")
        ok = True
        say("PASS")
        return 0
    except (Fail, kl.LocalError, KeyError, TypeError, ValueError) as e:
        say(f"FAIL: {e}")
        for name, p in (("keel-fleet", work / "fleet.log"), ("keel-gateway", work / "gateway.log"),
                        ("keel-devsim", work / "devsim.log")):
            if p.exists():
                print(f"---- last lines of {name} ({p})\n{tail(p)}", file=sys.stderr)
        if pg.log_tail():
            print(f"---- last lines of PostgreSQL's log\n{pg.log_tail()}", file=sys.stderr)
        print(f"  work directory kept: {work}", file=sys.stderr)
        return 1
    finally:
        if sim and sim.poll() is None:
            sim.kill()
            sim.wait()
        for s in (gw, fleet):
            if s:
                s.stop()
        if nats:
            nats.stop()
        pg.remove()
        if ok and not a.workdir:
            shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host-build", required=True, help="the build tree with keel-fleet, keel-gateway, keel-devsim")
    ap.add_argument("--count", type=int, default=5000, help="simulated devices (default 5000)")
    ap.add_argument("--label", help="the figures' count label (default: 100k for 100000, 5k for 5000)")
    ap.add_argument("--rate", type=float, default=150, help="devices brought up per second (default 150)")
    ap.add_argument("--chatter", type=float, default=0, help="console lines per device per minute (default 0: idle)")
    ap.add_argument("--sockets", type=int, default=-1,
                    help="keel-devsim --sockets N when it has the option (default: min(count, 1024); 0: never)")
    ap.add_argument("--settle", type=float, default=5, help="seconds between all online and the idle CPU window (5)")
    ap.add_argument("--idle-seconds", type=float, default=10, help="the idle CPU window in seconds (default 10)")
    ap.add_argument("--sample", type=int, default=50, help="devices sent a command before / during the storm (50)")
    ap.add_argument("--online-timeout", type=float, default=600, help="bring-up limit in seconds (default 600)")
    ap.add_argument("--stall-timeout", type=float, default=60,
                    help="bring-up fails once the online count has not grown for this long (default 60 s)")
    ap.add_argument("--reconnect-limit", type=float, default=60, help="the storm's limit in seconds (default 60)")
    ap.add_argument("--command-timeout", type=float, default=30,
                    help="seconds after the storm for the sampled commands' outcomes (default 30)")
    ap.add_argument("--workdir", help="logs (default: a temp directory, removed after a pass)")
    a = ap.parse_args()
    if a.count < 2 * a.sample:
        ap.error(f"--count must be at least 2 x --sample ({2 * a.sample})")
    # ctest's timeout or Ctrl-C: the finally clauses still remove the cluster and the processes.
    def on_term(*_):
        say("terminated (SIGTERM): stopping the processes, removing the PostgreSQL cluster")
        sys.exit(143)
    signal.signal(signal.SIGTERM, on_term)
    try:
        return run(a)
    except Fail as e:  # before the try in run() (missing binaries)
        say(f"FAIL: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
