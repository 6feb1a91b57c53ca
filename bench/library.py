#!/usr/bin/env python3
"""Library benchmark, run by hand: generates N tagged three-second tracks with ffmpeg (mixed
mp3/flac/ogg/opus/m4a, cached under bench/data/), then measures with the release binary:
- first scan of the whole library (files/s, peak RSS), median of --runs fresh data dirs;
- rescan of the unchanged library (seconds);
- the walk-and-stat baseline (`find -printf`) of the same tree in the same go;
- watcher latency: file copied in -> visible through the API (median of 5).

Usage: python3 bench/library.py [--tracks 10000] [--runs 3] [--bin PATH]
Needs ffmpeg and GNU time (/usr/bin/time). Talks to 127.0.0.1 only.
"""
import argparse
import concurrent.futures
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
FORMATS = [("mp3", ["-c:a", "libmp3lame", "-b:a", "128k"]), ("flac", ["-c:a", "flac"]),
           ("ogg", ["-c:a", "libvorbis", "-q:a", "3"]), ("opus", ["-c:a", "libopus", "-b:a", "64k"]),
           ("m4a", ["-c:a", "aac", "-b:a", "96k"])]
PASSWORD = "bench-password-123"


def generate(n, out):
    """N tracks: 100 artists, 10 albums each, ~N/1000 tracks per album."""
    marker = os.path.join(out, ".complete")
    if os.path.exists(marker):
        return
    bases = os.path.join(out, ".bases")
    os.makedirs(bases, exist_ok=True)
    for ext, codec in FORMATS:
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "sine=frequency=440:sample_rate=44100:duration=3", "-ac", "2", *codec,
                        os.path.join(bases, f"base.{ext}")], check=True)

    def tags(i):
        artist, album = i % 100, (i // 100) % 10
        word = "love night dream fire".split()[i % 4]
        return ["-metadata", f"title=Track {i} {word}", "-metadata", f"artist=Artist {artist:03}",
                "-metadata", f"album_artist=Artist {artist:03}", "-metadata", f"album=Album {album:02} of {artist:03}",
                "-metadata", f"track={i % 100 + 1}", "-metadata", f"date={1970 + i % 50}",
                "-metadata", f"genre={['Rock', 'Jazz', 'Pop', 'Folk'][i % 4]}"]

    def path(i):
        ext = FORMATS[i % len(FORMATS)][0]
        d = os.path.join(out, f"Artist {i % 100:03}", f"Album {(i // 100) % 10:02}")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, f"{i:06} - Track {i}.{ext}")

    def batch(job):
        # One ffmpeg run writes many outputs: starting ffmpeg costs more than remuxing a file.
        ext, ids = job
        cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", os.path.join(bases, f"base.{ext}")]
        for i in ids:
            cmd += ["-map", "0", "-map_metadata", "-1", "-c", "copy", *tags(i), path(i)]
        subprocess.run(cmd, check=True)

    jobs = []
    for k, (ext, _) in enumerate(FORMATS):
        ids = list(range(k, n, len(FORMATS)))
        jobs += [(ext, ids[j:j + 200]) for j in range(0, len(ids), 200)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        list(ex.map(batch, jobs))
    shutil.rmtree(bases)
    open(marker, "w").close()


def scan(binary, data, music):
    """Runs `musewave scan`; returns (seconds, files/s, peak RSS in MB, summary line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEWAVE_")}
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", binary, "--data-dir", data, "scan"],
                       env={**env, "MUSEWAVE_LIBRARY__FOLDERS": music}, capture_output=True, text=True, check=True)
    secs = time.perf_counter() - t0
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024
    line = next(l for l in p.stdout.splitlines() if l.startswith("scanned"))
    rate = float(re.search(r"\(([\d.]+) files/s\)", line).group(1))
    return secs, rate, rss, line


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base, tries=600, pause=0.1):
    """Waits until the server at `base` answers /healthz."""
    for _ in range(tries):
        try:
            urllib.request.urlopen(base + "/healthz")
            return
        except OSError:
            time.sleep(pause)


def admin_token(base):
    """An access token for the admin account the benchmark created with PASSWORD."""
    req = urllib.request.Request(base + "/api/v1/auth/login", data=json.dumps(
        {"username": "admin", "password": PASSWORD}).encode(), headers={"content-type": "application/json"})
    return json.load(urllib.request.urlopen(req))["access_token"]


def watcher_latency(binary, music_src, runs=5):
    samples = []
    with tempfile.TemporaryDirectory() as d:
        music = os.path.join(d, "music")
        os.makedirs(music)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEWAVE_")}
        env["MUSEWAVE_ADMIN_PASSWORD"] = PASSWORD
        proc = subprocess.Popen([binary, "--data-dir", os.path.join(d, "data"), "serve", "--listen",
                                 f"127.0.0.1:{port}", "--media", music], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, tries=100, pause=0.05)
        token = admin_token(base)
        sources = [os.path.join(r, f) for r, _, fs in os.walk(music_src) for f in fs if not f.startswith(".")]
        for i in range(runs):
            dst = os.path.join(music, f"copy{i}" + os.path.splitext(sources[i])[1])
            shutil.copy(sources[i], dst)
            t0 = time.perf_counter()
            while True:
                r = urllib.request.Request(base + "/api/v1/tracks?limit=1", headers={"authorization": f"Bearer {token}"})
                if json.load(urllib.request.urlopen(r))["total"] == i + 1:
                    break
                time.sleep(0.02)
            samples.append(time.perf_counter() - t0)
        proc.terminate()
        proc.wait()
    return samples


def serve_figures(binary, data, music, secs):
    """Serves a scanned library; returns RSS and wrk figures for lists, details and search."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEWAVE_")}
    env["MUSEWAVE_ADMIN_PASSWORD"] = PASSWORD
    env["MUSEWAVE_LOG__LEVEL"] = "warn"
    proc = subprocess.Popen([binary, "--data-dir", data, "serve", "--listen", f"127.0.0.1:{port}", "--media", music],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base)
    token = admin_token(base)
    get = lambda p: json.load(urllib.request.urlopen(urllib.request.Request(base + p, headers={"authorization": f"Bearer {token}"})))
    while get("/api/v1/library/scan")["state"] != "idle":
        time.sleep(0.2)
    album = get("/api/v1/albums?limit=1")["items"][0]["id"]
    track = get("/api/v1/tracks?limit=1")["items"][0]["id"]
    get("/api/v1/tracks?limit=50")  # builds the cached orders
    get("/api/v1/albums?limit=50")
    rss = lambda: int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{proc.pid}/status").read()).group(1)) / 1024
    out = {"rss_mb": rss()}
    for name, path in [("baseline /healthz", "/healthz"), ("track list", "/api/v1/tracks?limit=50&offset=5000"),
                       ("album list", "/api/v1/albums?limit=50&sort=year"), ("album detail", f"/api/v1/albums/{album}"),
                       ("track detail", f"/api/v1/tracks/{track}"), ("search 'love'", "/api/v1/search?q=love"),
                       ("search 'track 12'", "/api/v1/search?q=track%2012")]:
        o = subprocess.run(["wrk", "-t2", "-c32", f"-d{secs}s", "--latency", "-H", f"Authorization: Bearer {token}",
                            base + path], capture_output=True, text=True, check=True).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", o).group(1))
        m = re.search(r"99%\s+([\d.]+)(us|ms|s)", o)
        out[name] = (rps, float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)])
    out["rss_after_mb"] = rss()
    proc.terminate()
    proc.wait()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bin")
    ap.add_argument("--serve", action="store_true", help="also measure serving the scanned library (wrk, 32 connections)")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin) if args.bin else os.path.join(ROOT, "target", "release", "musewave")
    if not args.bin:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    music = os.path.join(ROOT, "bench", "data", f"library-{args.tracks}")
    t0 = time.perf_counter()
    generate(args.tracks, music)
    print(f"library of {args.tracks} tracks ready in {time.perf_counter() - t0:.0f} s at {music}")
    subprocess.run(["cat"], stdin=subprocess.Popen(["find", music, "-type", "f"], stdout=subprocess.PIPE).stdout,
                   stdout=subprocess.DEVNULL)  # warm the page cache

    walks, firsts, rescans = [], [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        subprocess.run(["find", music, "-type", "f", "-printf", "%s %T@\n"], stdout=subprocess.DEVNULL, check=True)
        walks.append(time.perf_counter() - t0)
        with tempfile.TemporaryDirectory() as d:
            firsts.append(scan(binary, os.path.join(d, "data"), music))
            rescans.append(scan(binary, os.path.join(d, "data"), music))
    med = lambda xs, i: statistics.median(x[i] for x in xs)
    print(f"baseline walk+stat (find -printf): median {statistics.median(walks):.3f} s")
    print(f"first scan:  median {med(firsts, 1):,.0f} tracks/s ({med(firsts, 0):.2f} s with process start), peak RSS median {med(firsts, 2):.0f} MB")
    print(f"   e.g. {firsts[0][3]}")
    print(f"rescan unchanged: median {med(rescans, 0):.3f} s with process start and store open, peak RSS {med(rescans, 2):.0f} MB")
    if args.serve:
        with tempfile.TemporaryDirectory() as d:
            scan(binary, os.path.join(d, "data"), music)
            fig = serve_figures(binary, os.path.join(d, "data"), music, 8)
        print(f"serving {args.tracks} tracks: RSS {fig.pop('rss_mb'):.0f} MB before the load below, "
              f"{fig.pop('rss_after_mb'):.0f} MB after it")
        for name, (rps, p99) in fig.items():
            print(f"   {name:<20} {rps:>9,.0f} req/s  p99 {p99:.2f} ms")
    lat = watcher_latency(binary, music)
    print(f"watcher, copied -> visible in the API: median {statistics.median(lat):.2f} s, max {max(lat):.2f} s")


if __name__ == "__main__":
    main()
