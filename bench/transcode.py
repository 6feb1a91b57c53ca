#!/usr/bin/env python3
"""Transcoding benchmark, run by hand, through the real server (release binary):
(a) real-time factor per core for Opus and MP3: seconds of audio per second of server CPU time
    (utime + stime of the server process, /proc/PID/stat) for one whole transcode of a
    ~3-minute generated FLAC on an otherwise idle server; median of --runs;
(b) time to the first transcoded byte: p50 and p99 of --requests requests per codec (each read
    to the end, so every one starts on an idle server), against the original stream's time to
    first byte measured the same way in the same run as the baseline.
The transcode cache is disabled (transcode.cache_max_mb = 0) so every request transcodes.

Usage: python3 bench/transcode.py [--runs 3] [--requests 20] [--bin PATH]
Needs ffmpeg (to make the source once, cached under bench/data/). Talks to 127.0.0.1 only.
Targets: Opus >= 50x real time per core, MP3 >= 30x, first transcoded byte < 300 ms.
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "bench-password-123"
SOURCE_SECS = 180
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def generate(out):
    """Three minutes of stereo 44.1 kHz FLAC: two tones, a sweep and some noise, so the encoders
    have something music-like to work on."""
    path = os.path.join(out, "song.flac")
    if not os.path.exists(path):
        os.makedirs(out, exist_ok=True)
        expr = ("0.3*sin(2*PI*220*t)+0.2*sin(2*PI*(330+100*sin(0.5*t))*t)"
                "+0.1*sin(2*PI*(500+2000*(t/7-floor(t/7)))*t)+0.05*(random(0)-0.5)")
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        f"aevalsrc={expr}|{expr}:s=44100:d={SOURCE_SECS}", "-sample_fmt", "s16",
                        path + ".tmp.flac"], check=True)
        os.rename(path + ".tmp.flac", path)
    return path


def cpu_secs(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def start(binary, data, music):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEWAVE_")}
    env.update({"MUSEWAVE_ADMIN_PASSWORD": PASSWORD, "MUSEWAVE_LOG__LEVEL": "warn",
                "MUSEWAVE_TRANSCODE__CACHE_MAX_MB": "0"})
    proc = subprocess.Popen([binary, "--data-dir", data, "serve", "--listen", f"127.0.0.1:{port}",
                             "--media", music], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "/healthz")
            break
        except OSError:
            time.sleep(0.05)
    req = urllib.request.Request(base + "/api/v1/auth/login", data=json.dumps(
        {"username": "admin", "password": PASSWORD}).encode(), headers={"content-type": "application/json"})
    token = json.load(urllib.request.urlopen(req))["access_token"]
    auth = {"authorization": f"Bearer {token}"}
    for _ in range(600):
        tracks = json.load(urllib.request.urlopen(
            urllib.request.Request(base + "/api/v1/tracks?limit=1", headers=auth)))
        if tracks["total"] == 1:
            break
        time.sleep(0.1)
    return proc, port, tracks["items"][0]["id"], auth


def fetch(port, path, auth):
    """(seconds to the first body byte, body length) of one GET read to the end."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    t0 = time.perf_counter()
    conn.request("GET", path, headers=auth)
    res = conn.getresponse()
    if res.status != 200:
        raise SystemExit(f"{path}: {res.status} {res.read()[:200]!r}")
    first = res.read(1)
    ttfb = time.perf_counter() - t0
    n = len(first) + len(res.read())
    conn.close()
    return ttfb, n


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, round(p / 100 * (len(v) - 1)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--bin")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin) if args.bin else os.path.join(ROOT, "target", "release", "musewave")
    if not args.bin:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    music = os.path.join(ROOT, "bench", "data", "transcode")
    src = generate(music)
    print(f"source: {SOURCE_SECS} s stereo 44.1 kHz FLAC, {os.path.getsize(src) / 1e6:.1f} MB; "
          f"{os.cpu_count()} CPUs; cache disabled")
    with tempfile.TemporaryDirectory() as tmp:
        proc, port, track, auth = start(binary, os.path.join(tmp, "data"), music)
        try:
            stream = f"/api/v1/tracks/{track}/stream"
            cases = [("opus 96k", "format=opus&bitrate=96", 50), ("mp3 192k", "format=mp3&bitrate=192", 30)]
            fetch(port, stream, auth)  # warm-up: page cache, allocator
            for _, q, _ in cases:
                fetch(port, f"{stream}?{q}", auth)
            for name, q, target in cases:
                rtfs = []
                for _ in range(args.runs):
                    c0 = cpu_secs(proc.pid)
                    _, n = fetch(port, f"{stream}?{q}", auth)
                    rtfs.append(SOURCE_SECS / (cpu_secs(proc.pid) - c0))
                print(f"(a) {name}: {statistics.median(rtfs):6.1f}x real time per core "
                      f"(median of {args.runs}: {', '.join(f'{r:.1f}' for r in rtfs)}; "
                      f"{n / 1e6:.2f} MB out; target >= {target}x)")
            base = [fetch(port, stream, auth)[0] * 1000 for _ in range(args.requests)]
            print(f"(b) original stream TTFB (baseline): p50 {pct(base, 50):6.2f} ms  p99 {pct(base, 99):6.2f} ms")
            for name, q, _ in cases:
                t = [fetch(port, f"{stream}?{q}", auth)[0] * 1000 for _ in range(args.requests)]
                print(f"(b) {name} first byte:              p50 {pct(t, 50):6.2f} ms  p99 {pct(t, 99):6.2f} ms "
                      f"(target < 300 ms)")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
