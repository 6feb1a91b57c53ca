#!/usr/bin/env python3
"""Foundation benchmark, run by hand: start-to-ready, login time, GET /api/v1/me throughput
and latency under wrk (GET /healthz in the same run as the baseline), release binary size.

Usage: python3 bench/foundation.py [--runs N] [--bin PATH]
(needs wrk; without --bin it builds and uses target/release/musewave)
Everything talks to 127.0.0.1 only.
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "musewave")
PASSWORD = "bench-password-123"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data, port, log_level="info"):
    """Starts the server; returns (process, seconds from exec to READY=1)."""
    sock_path = os.path.join(data, "notify.sock")
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEWAVE_")}
    env.update(NOTIFY_SOCKET=sock_path, MUSEWAVE_ADMIN_PASSWORD=PASSWORD, MUSEWAVE_LOG__LEVEL=log_level)
    env.pop("RUST_LOG", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [BIN, "--data-dir", os.path.join(data, "data"), "serve", "--listen", f"127.0.0.1:{port}",
         "--media", os.path.join(data, "music")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        msg = sock.recv(256).decode()
        if "READY=1" in msg:
            break
    ready = time.perf_counter() - t0
    sock.close()
    return proc, ready


def stop(proc):
    proc.terminate()
    proc.wait(timeout=30)


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def wrk(url, token=None, conns=64, secs=10):
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{secs}s", "--latency", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p99.group(1)) * scale, int(non2xx.group(1)) if non2xx else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--secs", type=int, default=10)
    ap.add_argument("--bin", help="a musewave binary to measure instead of building one")
    args = ap.parse_args()
    global BIN
    if args.bin:
        BIN = os.path.abspath(args.bin)
    else:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    readies = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as d:
            proc, ready = start(d, free_port())
            readies.append(ready * 1000)
            stop(proc)
    print(f"start to READY on an empty store (first run, admin created): median {statistics.median(readies):.1f} ms  runs {[round(r, 1) for r in readies]}")

    with tempfile.TemporaryDirectory() as d:
        readies = []
        for _ in range(args.runs):
            proc, ready = start(d, free_port())
            readies.append(ready * 1000)
            stop(proc)
        print(f"start to READY on an existing store: median {statistics.median(readies):.1f} ms")

    for level in ["info", "warn"]:
        with tempfile.TemporaryDirectory() as d:
            port = free_port()
            proc, _ = start(d, port, level)
            base = f"http://127.0.0.1:{port}"
            logins = []
            for i in range(args.runs * 4):
                t0 = time.perf_counter()
                tok = post(base + "/api/v1/auth/login", {"username": "admin", "password": PASSWORD})
                logins.append((time.perf_counter() - t0) * 1000)
            token = tok["access_token"]
            me, health = [], []
            for _ in range(args.runs):
                health.append(wrk(base + "/healthz", secs=args.secs))
                me.append(wrk(base + "/api/v1/me", token, secs=args.secs))
            stop(proc)
            med = lambda xs, i: statistics.median(x[i] for x in xs)
            print(f"[log level {level}] login: median {statistics.median(logins):.1f} ms (argon2id, m=19 MiB, t=2, p=1)")
            print(f"[log level {level}] GET /healthz (baseline): median {med(health, 0):,.0f} req/s, p99 {med(health, 1):.2f} ms")
            print(f"[log level {level}] GET /api/v1/me:          median {med(me, 0):,.0f} req/s, p99 {med(me, 1):.2f} ms, non-2xx {sum(x[2] for x in me)}")

    print(f"release binary: {os.path.getsize(BIN) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
