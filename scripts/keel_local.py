"""keel_local — a local Keel Fleet (studio mode) and a Keel device in QEMU, wired together.

Used by `make run` (scripts/run_device.py) and the end-to-end tests of the device link
(tests/link/). The steps are the ones docs/operations.md "Provisioning a device" gives an
operator, done with the product's own tools:

  1. keel-fleet --mode studio (SQLite in a data directory; its gateway and link in process);
  2. a project and a deployment through the API (and, optionally, proxies);
  3. `keel device provision`: the device's disk image with its sealed keys, its device key file
     and its public keys (made by the keystore's own code, before the first boot);
  4. POST /devices with those keys: Fleet assigns the tunnel address;
  5. `keel device enroll`: Fleet's endpoint, key and the address into the disk's `link` partition;
  6. qemu_run.py --net --disk --rng --device-key: the device boots, its tunnel and link agent
     connect to Fleet through QEMU's user network (the host is 10.0.2.2 from inside).

Everything is on loopback; nothing here needs root. Errors raise LocalError with what failed.

For a Fleet in fleet mode (users, API tokens; bench/link/scale_fleet.py), `FleetClient(url, token)`
is the same API client with `Authorization: Bearer <token>`, and `login_token` logs a user in with
a password and creates such a token.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class LocalError(RuntimeError):
    pass


def _host_tool(build: Path, rel: str) -> Path:
    p = build / rel
    if not p.exists():
        raise LocalError(f"{p} is missing: build the host tree first (make build-host)")
    return p


class _Api:
    """The JSON API of a running Fleet at self.url (`/api/v1`), with self.token (an API token, fleet
    mode) as a bearer token when set."""

    url: str
    token: str = ""

    def api(self, method: str, path: str, body=None, expect: tuple[int, ...] = (200, 201, 204), timeout: float = 30):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url + "/api/v1" + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        payload = json.loads(raw) if raw else None
        if status not in expect:
            raise LocalError(f"{method} {path} -> {status}: {raw[:500]!r}")
        return payload

    def get_all(self, path: str) -> list:
        """Every item of a paginated list (`path` with its query, `limit` included), following
        next_cursor."""
        items, cursor = [], None
        while True:
            page = self.api("GET", path + (f"&cursor={cursor}" if cursor else ""))
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items


class FleetClient(_Api):
    """A running Fleet's API at `url` (http://host:port), with an API token in fleet mode."""

    def __init__(self, url: str, token: str = ""):
        self.url, self.token = url, token


def login_token(url: str, email: str, password: str, scope: str = "write", name: str = "keel_local") -> str:
    """Fleet mode: logs `email` in (POST /auth/login: session cookie + CSRF token) and creates an API
    token of `scope` with that session (POST /tokens); returns the token's secret."""
    req = urllib.request.Request(url + "/api/v1/auth/login", method="POST",
                                 data=json.dumps({"email": email, "password": password}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            cookie = r.headers.get("Set-Cookie", "").split(";")[0]
            csrf = json.loads(r.read())["csrf_token"]
    except urllib.error.HTTPError as e:
        raise LocalError(f"login as {email} -> {e.code}: {e.read()[:500]!r}")
    req = urllib.request.Request(url + "/api/v1/tokens", method="POST",
                                 data=json.dumps({"name": name, "scope": scope}).encode(),
                                 headers={"Content-Type": "application/json", "Cookie": cookie, "X-CSRF-Token": csrf})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())["token"]
    except urllib.error.HTTPError as e:
        raise LocalError(f"POST /tokens as {email} -> {e.code}: {e.read()[:500]!r}")


class Fleet(_Api):
    """keel-fleet in studio mode with its device gateway, on loopback."""

    def __init__(self, build: Path, data_dir: Path, port: int = 0, gateway_port: int = 0, log: Path | None = None,
                 extra: list[str] | None = None):
        self.bin = _host_tool(build, "fleet/keel-fleet")
        self.data_dir = Path(data_dir)
        self.port_wanted = port
        self.gateway_port_wanted = gateway_port
        self.log_path = Path(log) if log else self.data_dir / "fleet.log"
        self.extra = extra or []
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self, timeout: float = 30.0) -> "Fleet":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [str(self.bin), "--mode", "studio", "--data-dir", str(self.data_dir), "--port",
                str(self.port_wanted), "--print-port", "--gateway-port", str(self.gateway_port_wanted),
                "--gateway-bind", "127.0.0.1", *self.extra]
        web = ROOT / "fleet/web/dist"
        if web.is_dir():
            args += ["--web-dir", str(web)]
        logf = open(self.log_path, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=logf, env=env)
        line = self._read_port(timeout)
        self.port = int(line)
        # Drain stdout so the process never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        return self

    def _read_port(self, timeout: float) -> str:
        box: list[str] = []
        t = threading.Thread(target=lambda: box.append(self.proc.stdout.readline().decode().strip()), daemon=True)
        t.start()
        t.join(timeout)
        if not box or not box[0].isdigit():
            self.kill()
            raise LocalError(f"keel-fleet did not start within {timeout:.0f} s (log: {self.log_path}):\n"
                             + self.log_path.read_text(errors="replace")[-3000:])
        return box[0]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def gateway(self) -> tuple[int, str]:
        sys_ = self.api("GET", "/system")
        gw = sys_.get("gateway")
        if not gw:
            raise LocalError(f"keel-fleet runs no device gateway (GET /system: {sys_}); see {self.log_path}")
        return int(gw["port"]), gw["public_key"]

    def stop(self, sig=signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


def ensure_deployment(fleet: _Api, project: str = "demo", deployment: str = "demo") -> int:
    pid = None
    for p in fleet.api("GET", "/projects?limit=200")["items"]:
        if p["name"] == project:
            pid = p["id"]
    if pid is None:
        pid = fleet.api("POST", "/projects", {"name": project})["id"]
    for d in fleet.api("GET", f"/deployments?project_id={pid}&limit=200")["items"]:
        if d["name"] == deployment:
            return d["id"]
    return fleet.api("POST", "/deployments", {"project_id": pid, "name": deployment})["id"]


class Device:
    """One QEMU device: its disk, device key and registration."""

    def __init__(self, build_host: Path, manifest: Path, image: Path, workdir: Path, name: str):
        self.keel = _host_tool(build_host, "studio/cli/keel")
        self.manifest, self.image, self.name = Path(manifest), Path(image), name
        self.dir = Path(workdir)
        self.disk = self.dir / f"{name}.img"
        self.key = self.dir / f"{name}.key"
        self.log = self.dir / f"{name}.console.log"
        self.id = 0
        self.address = ""
        self.keys: dict = {}
        self.qemu: subprocess.Popen | None = None
        self.boots = 0

    def _keel(self, *args: str) -> str:
        r = subprocess.run([str(self.keel), *args], capture_output=True, text=True)
        if r.returncode != 0:
            raise LocalError(f"keel {' '.join(args)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return r.stdout

    def provision(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        out = self._keel("device", "provision", "--manifest", str(self.manifest), "--disk", str(self.disk),
                         "--device-key", str(self.key), "--force", "--json")
        self.keys = json.loads(out)

    def register(self, fleet: Fleet, deployment_id: int) -> None:
        d = fleet.api("POST", "/devices", {"deployment_id": deployment_id, "name": self.name,
                                          "tunnel_public_key": self.keys["tunnel_public_key"],
                                          "identity_public_key": self.keys["identity_public_key"]})
        self.id, self.address = d["id"], d["tunnel_address"]

    def enroll(self, fleet: Fleet, fleet_host: str = "10.0.2.2", port: int = 0) -> None:
        """port: where the device sends its tunnel's datagrams (default: the gateway's own port)."""
        gw_port, key = fleet.gateway()
        port = port or gw_port
        fleet_address = fleet.api("GET", "/system")["fleet_tunnel_address"]
        self._keel("device", "enroll", "--manifest", str(self.manifest), "--disk", str(self.disk),
                   "--fleet-endpoint", f"{fleet_host}:{port}", "--fleet-key", key, "--address", self.address,
                   "--fleet-address", fleet_address)

    def boot(self, extra: list[str] | None = None) -> None:
        """Starts QEMU in the background (qemu_run.py --interactive: no judging, no time limit);
        the console goes, as it comes, to self.log. power_off() ends it."""
        args = ["python3", str(ROOT / "scripts/qemu_run.py"), "--interactive", "--net", "--disk", str(self.disk),
                "--rng", "--device-key", str(self.key), *(extra or []), str(self.image)]
        self.boots += 1
        if self.log.exists():
            self.log.rename(self.log.with_suffix(f".boot{self.boots - 1}.log"))
        self.qemu = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=open(self.log, "wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def console(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_console(self, needle: str, timeout: float, start: int = 0) -> int:
        """Waits until `needle` appears in the console after offset `start`; returns its end offset."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self.console()
            i = text.find(needle, start)
            if i >= 0:
                return i + len(needle)
            if self.qemu and self.qemu.poll() is not None:
                break
            time.sleep(0.2)
        raise LocalError(f"device {self.name}: '{needle}' not on the console within {timeout:.0f} s; "
                         f"last lines:\n" + "\n".join(self.console().splitlines()[-40:]))

    def power_off(self) -> None:
        """Pulls the plug: QEMU is killed (the disk keeps what was flushed)."""
        if self.qemu and self.qemu.poll() is None:
            os.killpg(self.qemu.pid, signal.SIGKILL)
            self.qemu.wait()
        self.qemu = None


def free_port(kind=socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 now (TCP by default; socket.SOCK_DGRAM for UDP)."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Nats:
    """Debian's nats-server on a free loopback port, its log in work/nats.log (the Fleet bus)."""

    def __init__(self, work: Path):
        self.port = free_port()
        self.log = work / "nats.log"
        self.proc = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(self.port)],
                                     stdout=open(self.log, "wb"), stderr=subprocess.STDOUT)
        wait_for("nats-server listening", self._listening, 10, 0.05)

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            if self.proc.poll() is not None:
                raise LocalError(f"nats-server exited ({self.proc.returncode}): see {self.log}")
            return False

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def wait_for(what: str, fn, timeout: float, interval: float = 0.25):
    """Polls fn() until it returns something truthy; raises LocalError naming `what` otherwise."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise LocalError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def clean_dir(p: Path) -> Path:
    if p.exists():
        shutil.rmtree(p)
    p.mkdir(parents=True)
    return p
