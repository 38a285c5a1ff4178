#!/usr/bin/env python3
"""os.tunnel / os.tunnel_restart / os.tunnel_unenrolled: the device's WireGuard tunnel against a host peer playing Fleet.

  tunnel.py --cpu CPU --mode echo|restart --keel KEEL --peer TUNNEL_PEER --manifest M --image IMG --log PREFIX

1. `keel device provision` makes the disk and device key (prints the device's tunnel public key);
2. `tunnel_peer keygen` makes Fleet's key; `keel device enroll` writes record 1 of partition `link`
   (fleet_endpoint 10.0.2.2:PORT, a free UDP port on this machine; address 10.64.0.2);
3. `tunnel_peer serve` answers on 127.0.0.1:PORT (restart mode: --exit-after 10, then it is started
   again by this script with the same key, a new process with no session);
4. scripts/qemu_run.py boots the image (--net --disk --rng --device-key) and expects the tunnel's
   and the test link component's lines, among them: the tunnel's public key is the one provision
   printed (the keystore's key) and its handshake's DHs were keystore calls.
Exit 0 when the guest passed and the peer saw the handshake(s).
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
QEMU_RUN = os.path.join(HERE, "..", "..", "..", "scripts", "qemu_run.py")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(cmd):
    print("tunnel: " + " ".join(cmd), flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stdout.write(out.stdout + out.stderr)
        raise SystemExit(f"tunnel: {cmd[0]} failed ({out.returncode})")
    return out.stdout


class Peer:
    """tunnel_peer serve, restarted once after it exits by itself (restart mode)."""

    def __init__(self, argv, log, restart):
        self.argv, self.log, self.restart = argv, log, restart
        self.lines, self.starts, self.proc, self.stop = [], 0, None, False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        argv = self.argv
        while not self.stop:
            self.starts += 1
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for line in self.proc.stdout:
                self.lines.append(f"[{self.starts}] {line.rstrip()}")
                with open(self.log, "a") as f:
                    f.write(self.lines[-1] + "\n")
            rc = self.proc.wait()
            if self.stop or not self.restart or rc != 0 or self.starts >= 2:
                return
            argv = [a for a in argv if a not in ("--exit-after", "10")]

    def kill(self):
        self.stop = True
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        self.thread.join(5)


def main():
    ap = argparse.ArgumentParser()
    for o in ("--cpu", "--keel", "--peer", "--manifest", "--image", "--log"):
        ap.add_argument(o, required=True)
    ap.add_argument("--mode", choices=("echo", "restart", "unenrolled"), default="echo")
    ap.add_argument("--timeout", type=int, default=240)
    ap.add_argument("--icount", action="store_true", help="qemu_run.py --icount (instruction figures)")
    a = ap.parse_args()
    os.makedirs(os.path.dirname(a.log), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="keel-tunnel-") as tmp:
        disk, key, fleet_key = (os.path.join(tmp, n) for n in ("disk.img", "device.key", "fleet.key"))
        prov = json.loads(run([a.keel, "device", "provision", "--manifest", a.manifest, "--disk", disk,
                               "--device-key", key, "--json"]))
        device_pub = prov["tunnel_public_key"]
        fleet_pub = run([a.peer, "keygen", fleet_key]).strip()
        port = free_udp_port()
        if a.mode != "unenrolled":
            run([a.keel, "device", "enroll", "--manifest", a.manifest, "--disk", disk, "--fleet-endpoint",
                 f"10.0.2.2:{port}", "--fleet-key", fleet_pub, "--address", "10.64.0.2"])
        peer_log = f"{a.log}.peer.log"
        if os.path.exists(peer_log):
            os.unlink(peer_log)
        argv = [a.peer, "serve", "--key-file", fleet_key, "--device-key", device_pub, "--port", str(port)]
        if a.mode == "restart":
            argv += ["--exit-after", "10"]
        peer = Peer(argv, peer_log, a.mode == "restart")
        expects = [r"\[tunnel\] enrolment from record 1 of partition 'link'$",
                   r"\[tunnel\] public key " + re.escape(device_pub) + r" \(the keystore's tunnel key\)$",
                   r"\[tunnel\] up: fleet 10\.0\.2\.2:" + str(port) + r", address 10\.64\.0\.2, fleet_address 10\.64\.0\.1",
                   # Initiator: DH(s_i, s_r) and DH(s_i, e_r), both by the keystore.
                   r"\[tunnel\] handshake complete \(1 so far; keystore dh operations: 2\)",
                   r"\[link\] tunnel up after [0-9]+ ms"]
        if a.mode == "unenrolled":
            expects = [r"\[tunnel\] not enrolled \(no record 1 in partition 'link' and no config\)$",
                       r"\[link\] PASS not enrolled: state 0 for 7 s, the datagram dropped and counted"]
        elif a.mode == "echo":
            expects += [r"\[link\] PASS 100 datagrams of 1\.\.1392 bytes echoed byte-exact",
                        r"\[link\] PASS STATUS: up, rx and tx bytes exact",
                        r"\[tunnel\] inner packet dropped: wrong port",
                        r"\[tunnel\] inner packet dropped: wrong source address",
                        r"\[link\] PASS wrong port and wrong address dropped and counted",
                        r"\[link\] PASS tunnel echo$"]
        else:
            expects += [r"\[link\] phase 2: 10 echoed",
                        r"\[tunnel\] handshake complete \(2 so far; keystore dh operations: 3\)",
                        r"\[link\] PASS tunnel re-handshake after the peer restarted"]
        cmd = [sys.executable, QEMU_RUN, "--cpu", a.cpu, "--timeout", str(a.timeout), "--net", "--disk", disk,
               "--rng", "--device-key", key, "--log", f"{a.log}.log", "--reject", "fatal", "--reject", "FAIL"]
        if a.icount:
            cmd.append("--icount")
        for e in expects:
            cmd += ["--expect", e]
        cmd.append(a.image)
        print("tunnel: " + " ".join(cmd), flush=True)
        rc = subprocess.call(cmd)
        peer.kill()
        print("tunnel: peer output:\n  " + "\n  ".join(peer.lines), flush=True)
        if rc != 0:
            print(f"tunnel: FAIL: the guest run failed (qemu_run.py exit {rc}); see {a.log}.log")
            return 1
        want = {"restart": 2, "echo": 1, "unenrolled": 0}[a.mode]
        done = [l for l in peer.lines if "handshake complete with the device" in l]
        if len({l.split("]")[0] for l in done}) < want:
            print(f"tunnel: FAIL: the peer saw handshakes in {len(done)} run(s), expected {want}")
            return 1
        if a.mode == "unenrolled":
            with open(f"{a.log}.log", errors="replace") as f:
                n = f.read().count("[tunnel] not enrolled")
            if n != 1:
                print(f"tunnel: FAIL: 'not enrolled' logged {n} times, expected once")
                return 1
        print("tunnel: PASS")
        return 0


if __name__ == "__main__":
    sys.exit(main())
