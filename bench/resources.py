#!/usr/bin/env python3
"""Resource figures for sizing a machine, run by hand: memory and disk for a library of N
tracks, with the release binary.

The library is made of small MP3 files: the audio frames of a test fixture behind an ID3v2.3
tag written here, different for every file (title, artist, album, album artist, track number,
year, genre): 100 tracks an album, 10 albums an artist. It is cached under bench/data/. The
audio is short because memory and the store grow with the number of tracks and the size of
their tags, not with the length of the audio.

For each size (and for an empty library, the baseline, in the same go), each run starts the
server on a fresh data directory and measures:
- peak RSS while the first scan runs (VmHWM once the catalog holds every track);
- RSS while serving, under load: 8 client threads for --load-secs, each looping over a track
  page, an album page, an album, a track, a search, a suggestion and a 64 KiB stream range;
  the highest RSS sampled during the load and the peak over the process's life;
- disk: the data directory (du) and, within it, the store.
Medians of --runs runs are printed as a Markdown table.

Usage: python3 bench/resources.py [--tracks 10000,100000] [--runs 3] [--load-secs 20] [--bin PATH]
Talks to 127.0.0.1 only.
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "tests", "fixtures", "audio", "id3v23.mp3")
PASSWORD = "bench-password-123"
GENRES = ["Rock", "Jazz", "Pop", "Folk", "Electronic", "Classical", "Hip-Hop", "Ambient"]
WORDS = "love night dream fire river glass morning summer shadow light".split()


def audio_frames(path):
    """The file's audio: what follows its ID3v2 tag (and precedes an ID3v1 one)."""
    data = open(path, "rb").read()
    if data[:3] == b"ID3":
        size = 0
        for b in data[6:10]:
            size = (size << 7) | (b & 0x7F)
        data = data[10 + size:]
    if data[-128:-125] == b"TAG":
        data = data[:-128]
    return data


def id3(fields):
    """An ID3v2.3 tag of text frames (ISO-8859-1)."""
    frames = b""
    for fid, text in fields:
        body = b"\x00" + text.encode("latin-1")
        frames += fid.encode() + len(body).to_bytes(4, "big") + b"\x00\x00" + body
    n = len(frames)
    size = bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])
    return b"ID3\x03\x00\x00" + size + frames


def generate(n, out):
    marker = os.path.join(out, ".complete")
    if os.path.exists(marker):
        return
    shutil.rmtree(out, ignore_errors=True)
    audio = audio_frames(SOURCE)
    for i in range(n):
        artist, album = i // 1000, (i // 100) % 10
        d = os.path.join(out, f"Artist {artist:04}", f"Album {album:02}")
        if i % 100 == 0:
            os.makedirs(d, exist_ok=True)
        title = f"{WORDS[i % 10].title()} {WORDS[(i // 10) % 10]} {i}"
        tag = id3([
            ("TIT2", title), ("TPE1", f"Artist {artist:04}"), ("TPE2", f"Artist {artist:04}"),
            ("TALB", f"Album {album:02} of {artist:04}"), ("TRCK", str(i % 100 + 1)),
            ("TYER", str(1960 + (i // 100) % 60)), ("TCON", GENRES[(i // 100) % len(GENRES)]),
        ])
        with open(os.path.join(d, f"{i % 100 + 1:02} - {title}.mp3"), "wb") as f:
            f.write(tag + audio)
    open(marker, "w").close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kb(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def du(path):
    return int(subprocess.run(["du", "-sb", path], capture_output=True, text=True, check=True).stdout.split()[0])


class Client:
    def __init__(self, base):
        self.base = base
        req = urllib.request.Request(base + "/api/v1/auth/login", data=json.dumps(
            {"username": "admin", "password": PASSWORD}).encode(), headers={"content-type": "application/json"})
        self.token = json.load(urllib.request.urlopen(req))["access_token"]

    def get(self, path, headers=None, raw=False):
        h = {"authorization": f"Bearer {self.token}", **(headers or {})}
        with urllib.request.urlopen(urllib.request.Request(self.base + path, headers=h)) as r:
            body = r.read()
        return body if raw else json.loads(body)


def measure(binary, music, n, load_secs):
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEWAVE_")}
        env.update(MUSEWAVE_ADMIN_PASSWORD=PASSWORD, MUSEWAVE_LOG__LEVEL="warn",
                   MUSEWAVE_TRANSCODE__CACHE_MAX_MB="0")
        proc = subprocess.Popen([binary, "--data-dir", data, "serve", "--listen", f"127.0.0.1:{port}",
                                 "--media", music], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    urllib.request.urlopen(base + "/healthz")
                    break
                except OSError:
                    time.sleep(0.05)
            c = Client(base)
            t0 = time.perf_counter()
            while True:
                scan = c.get("/api/v1/library/scan")
                if scan["state"] == "idle" and c.get("/api/v1/tracks?limit=1")["total"] == n:
                    break
                time.sleep(0.2)
            scan_secs = time.perf_counter() - t0
            out = {"scan_peak": status_kb(proc.pid, "VmHWM") / 1024, "idle": status_kb(proc.pid, "VmRSS") / 1024,
                   "scan_secs": scan_secs}
            paths = ["/api/v1/tracks?limit=50&offset=0", "/api/v1/albums?limit=50&sort=year",
                     "/api/v1/search?q=love", "/api/v1/search/suggest?q=riv", "/api/v1/artists?limit=50"]
            if n:
                album = c.get("/api/v1/albums?limit=1")["items"][0]["id"]
                tracks = [t["id"] for t in c.get(f"/api/v1/tracks?limit=100&offset={n // 2}")["items"]]
                paths += [f"/api/v1/albums/{album}"] + [f"/api/v1/tracks/{t}" for t in tracks[:5]]
            stop = time.perf_counter() + load_secs
            count = [0]
            lock = threading.Lock()

            def worker(k):
                i = k
                while time.perf_counter() < stop:
                    p = paths[i % len(paths)]
                    if n and i % 7 == 0:
                        c.get(f"/api/v1/tracks/{tracks[i % len(tracks)]}/stream", {"range": "bytes=0-65535"}, raw=True)
                    elif p.startswith("/api/v1/tracks?"):
                        c.get(f"/api/v1/tracks?limit=50&offset={(i * 37) % max(n, 1)}")
                    else:
                        c.get(p)
                    i += 1
                    with lock:
                        count[0] += 1

            peak_load = 0
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                futs = [ex.submit(worker, k) for k in range(8)]
                while not all(f.done() for f in futs):
                    peak_load = max(peak_load, status_kb(proc.pid, "VmRSS"))
                    time.sleep(0.1)
                for f in futs:
                    f.result()
            out["load"] = peak_load / 1024
            out["peak"] = status_kb(proc.pid, "VmHWM") / 1024
            out["rps"] = count[0] / load_secs
        finally:
            proc.terminate()
            proc.wait()
        out["disk"] = du(data) / 1e6
        out["store"] = du(os.path.join(data, "db")) / 1e6
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", default="10000,100000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--load-secs", type=float, default=20)
    ap.add_argument("--bin")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin) if args.bin else os.path.join(ROOT, "target", "release", "musewave")
    if not args.bin:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    sizes = [0] + [int(x) for x in args.tracks.split(",")]
    rows = []
    for n in sizes:
        if n:
            music = os.path.join(ROOT, "bench", "data", f"resources-{n}")
            t0 = time.perf_counter()
            generate(n, music)
            print(f"library of {n} tracks ready in {time.perf_counter() - t0:.0f} s ({du(music) / 1e6:.0f} MB)")
        else:
            music = tempfile.mkdtemp()
        runs = [measure(binary, music, n, args.load_secs) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"{n} tracks: " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()), flush=True)
        rows.append((n, med))
    print()
    print("| tracks | first scan | peak RSS during scan | RSS idle after scan | RSS under load (max) | "
          "peak RSS overall | data dir on disk | of which store |")
    print("|---|---|---|---|---|---|---|---|")
    for n, m in rows:
        label = f"{n:,}" if n else "0 (baseline)"
        print(f"| {label} | {m['scan_secs']:.1f} s | {m['scan_peak']:.0f} MB | {m['idle']:.0f} MB | "
              f"{m['load']:.0f} MB ({m['rps']:.0f} req/s) | {m['peak']:.0f} MB | {m['disk']:.1f} MB | {m['store']:.1f} MB |")


if __name__ == "__main__":
    main()
