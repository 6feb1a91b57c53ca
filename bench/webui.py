#!/usr/bin/env python3
"""Web app benchmark, run by hand: the release binary serves a library (default: the
10,000-track one that bench/library.py generates) and bench/webui.mjs measures in headless
Chromium on loopback:
- first load: HTML + JS + CSS bytes on the wire (compressed) for the sign-in page;
- sign-in page interactive (navigation start -> form ready), median of --runs fresh browsers,
  against the baseline of loading /healthz the same way;
- page switches (click -> page drawn and painted), median of --runs per page, against the
  baseline of fetching the same page's API data from inside the page.

Usage: python3 bench/webui.py [--media DIR] [--runs 15] [--bin PATH]
Needs Debian's chromium and `npm ci --prefix tests/e2e`. Talks to 127.0.0.1 only.
"""
import argparse
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "bench-password-123"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url, token=None, body=None):
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--media", default=os.path.join(ROOT, "bench/data/library-10000"))
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/musewave"))
    args = ap.parse_args()
    if not os.path.isdir(args.media):
        raise SystemExit(f"no library at {args.media}: run bench/library.py first, or pass --media")
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        base = f"http://127.0.0.1:{port}/"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEWAVE_")}
        env["MUSEWAVE_ADMIN_PASSWORD"] = PASSWORD
        proc = subprocess.Popen([args.bin, "--data-dir", os.path.join(d, "data"), "serve", "--listen",
                                 f"127.0.0.1:{port}", "--media", args.media],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 600
            while True:
                try:
                    token = call(base + "api/v1/auth/login", body={"username": "admin", "password": PASSWORD})["access_token"]
                    break
                except OSError:
                    time.sleep(0.2)
            while True:
                scan = call(base + "api/v1/library/scan", token)
                if scan["state"] == "idle" and scan["finished_at"]:
                    break
                if time.time() > deadline:
                    raise SystemExit("the scan did not finish")
                time.sleep(0.5)
            total = call(base + "api/v1/tracks?limit=1", token)["total"]
            print(f"library: {total} tracks from {args.media}")
            subprocess.run(["node", os.path.join(ROOT, "bench/webui.mjs"), base, PASSWORD, str(args.runs)],
                           check=True)
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
