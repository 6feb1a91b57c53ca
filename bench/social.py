#!/usr/bin/env python3
"""Listening benchmark, run by hand against a release build on loopback.

1. Plays recorded through `POST /api/v1/plays/batch` (2,000 per batch, four connections,
   50 listeners, start times over the last 30 days) until 1,000,000 plays are stored: plays
   per second for each 100,000, and the median. Baseline in the same go: the same batches
   sent again, every play a retry (parsing, checks and idempotency lookups, no writes).
2. With the 1,000,000 plays stored: p50/p99 of track statistics, artist statistics and the
   charts (tracks, albums, artists; day, week, all). Baseline: `GET /healthz` on the same
   connection.
3. A playlist of 10,000 entries: p50/p99 of adding one track at a random position, moving a
   random entry to a random position and removing a random entry.

Latencies are measured --runs times (default 3) and the median of each figure is reported.

Usage: python3 bench/social.py [--runs N] [--plays N] [--bin PATH]
(needs ffmpeg; without --bin it uses target/release/musewave, which must be built). The
200 generated tracks are kept in bench/data/social/ (gitignored).
"""
import argparse
import datetime
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "musewave")
PASSWORD = "bench-password-123"
DATA = os.path.join(ROOT, "bench", "data", "social")
TRACKS = 200
ARTISTS = 20
LISTENERS = 50
BATCH = 2000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_music():
    """200 half-second MP3s: 20 artists, 40 albums of 5 tracks."""
    music = os.path.join(DATA, "music")
    done = os.path.join(DATA, "done")
    if os.path.exists(done):
        return music
    shutil.rmtree(music, ignore_errors=True)
    for i in range(TRACKS):
        artist, album = f"Artist {i % ARTISTS:02}", f"Album {i % (ARTISTS * 2):02}"
        d = os.path.join(music, artist, album)
        os.makedirs(d, exist_ok=True)
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
             f"sine=frequency={200 + i * 7}:sample_rate=22050:duration=0.5",
             "-metadata", f"artist={artist}", "-metadata", f"album_artist={artist}",
             "-metadata", f"album={album}", "-metadata", f"title=Track {i:03}",
             "-metadata", f"track={i // (ARTISTS * 2) + 1}", "-b:a", "32k",
             os.path.join(d, f"{i:03}.mp3")], check=True)
    open(done, "w").close()
    return music


def start(binary, data, music, port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEWAVE_")}
    env.update(MUSEWAVE_ADMIN_PASSWORD=PASSWORD, MUSEWAVE_LOG__LEVEL="warn",
               MUSEWAVE_SERVER__MAX_JSON_BODY_BYTES=str(4 << 20))
    env.pop("RUST_LOG", None)
    proc = subprocess.Popen(
        [binary, "--data-dir", os.path.join(data, "data"), "serve", "--listen", f"127.0.0.1:{port}",
         "--media", music],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not start")


class Client:
    def __init__(self, port, token=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.token = token

    def raw(self, method, path, body=None):
        headers = {}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["content-type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        res = self.conn.getresponse()
        return res.status, res.read()

    def call(self, method, path, body=None):
        status, raw = self.raw(method, path, body)
        if status >= 300:
            raise SystemExit(f"{method} {path}: {status} {raw[:300]!r}")
        return json.loads(raw) if raw else None

    def timed(self, method, path, body=None):
        t0 = time.perf_counter()
        self.call(method, path, body)
        return (time.perf_counter() - t0) * 1000


def login(port, user):
    return Client(port).call("POST", "/api/v1/auth/login",
                             {"username": user, "password": PASSWORD})["access_token"]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def wait_for_catalog(admin):
    for _ in range(1200):
        if admin.call("GET", "/api/v1/tracks?limit=1")["total"] == TRACKS:
            return
        time.sleep(0.1)
    raise SystemExit("the catalog did not fill")


def batches(track_ids, n_plays, seed):
    """Bodies of `BATCH` plays each (as bytes), with their user index."""
    rng = random.Random(seed)
    now = datetime.datetime.now(datetime.timezone.utc)
    out = []
    for b in range(n_plays // BATCH):
        plays = []
        for i in range(BATCH):
            started = now - datetime.timedelta(seconds=rng.randrange(30 * 86400))
            plays.append({
                "track_id": rng.choice(track_ids),
                "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "seconds_played": rng.randrange(1, 300),
                "completed": rng.random() < 0.5,
                "source": "radio",
                "idempotency_key": f"{seed}-{b}-{i}",
            })
        out.append((b % LISTENERS, json.dumps({"plays": plays}).encode()))
    return out


def send_all(port, tokens, bodies, conns=4):
    """Sends the batches over `conns` connections; returns seconds taken."""
    queue = list(bodies)
    lock = threading.Lock()

    def worker():
        clients = {}
        while True:
            with lock:
                if not queue:
                    return
                user, body = queue.pop()
            c = clients.setdefault(user, Client(port, tokens[user]))
            c.call("POST", "/api/v1/plays/batch", body)

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--plays", type=int, default=1_000_000)
    ap.add_argument("--bin", default=BIN)
    args = ap.parse_args()
    music = make_music()
    work = tempfile.mkdtemp(prefix="musewave-bench-social-")
    port = free_port()
    proc = start(args.bin, work, music, port)
    try:
        admin = Client(port, login(port, "admin"))
        wait_for_catalog(admin)
        tracks = admin.call("GET", "/api/v1/tracks?limit=500")["items"]
        track_ids = [t["id"] for t in tracks]
        artist_ids = sorted({a for t in tracks for a in t["artist_ids"]})
        for i in range(LISTENERS):
            admin.call("POST", "/api/v1/admin/users",
                       {"username": f"listener{i}", "password": PASSWORD, "role": "listener"})
        tokens = [login(port, f"listener{i}") for i in range(LISTENERS)]

        # 1. Recording plays.
        step = 100_000
        rates, dup_rates = [], []
        stored = 0
        while stored < args.plays:
            n = min(step, args.plays - stored)
            bodies = batches(track_ids, n, stored)
            secs = send_all(port, tokens, bodies)
            rates.append(n / secs)
            stored += n
            if len(dup_rates) < 3:
                dup_rates.append(n / send_all(port, tokens, bodies))
            print(f"  {stored:>9,} plays stored: {n / secs:,.0f} plays/s", flush=True)
        print(f"batch plays/s: median {statistics.median(rates):,.0f} "
              f"(min {min(rates):,.0f}, max {max(rates):,.0f}); "
              f"baseline, all retries: median {statistics.median(dup_rates):,.0f}")

        # 2. Statistics and charts with the plays stored.
        rng = random.Random(7)
        figures = {}

        def measure(name, paths, n=1000):
            c = Client(port, admin.token)
            for p in paths[:50]:
                c.call("GET", p)
            ts = [c.timed("GET", rng.choice(paths)) for _ in range(n)]
            figures.setdefault(name, []).append((pct(ts, 0.5), pct(ts, 0.99)))

        # 3. A playlist of 10,000 entries.
        def playlist_run():
            c = Client(port, tokens[0])
            pl = c.call("POST", "/api/v1/playlists", {"name": "Big"})["id"]
            for _ in range(10):
                c.call("POST", f"/api/v1/playlists/{pl}/entries",
                       {"track_ids": [rng.choice(track_ids) for _ in range(1000)]})
            entries = []
            offset = 0
            while True:
                page = c.call("GET", f"/api/v1/playlists/{pl}?offset={offset}&limit=500")["entries"]
                if not page:
                    break
                entries += [e["entry_id"] for e in page]
                offset += len(page)
            adds, moves, removes = [], [], []
            for _ in range(500):
                t0 = time.perf_counter()
                added = c.call("POST", f"/api/v1/playlists/{pl}/entries",
                               {"track_ids": [rng.choice(track_ids)],
                                "position": rng.randrange(len(entries))})
                adds.append((time.perf_counter() - t0) * 1000)
                entries.append(added["entries"][0]["entry_id"])
                e = rng.choice(entries)
                moves.append(c.timed("POST", f"/api/v1/playlists/{pl}/entries/{e}/move",
                                     {"position": rng.randrange(len(entries))}))
                e = entries.pop(rng.randrange(len(entries)))
                removes.append(c.timed("DELETE", f"/api/v1/playlists/{pl}/entries/{e}"))
            for name, xs in [("playlist add (10,000 entries)", adds),
                             ("playlist move (10,000 entries)", moves),
                             ("playlist remove (10,000 entries)", removes)]:
                figures.setdefault(name, []).append((pct(xs, 0.5), pct(xs, 0.99)))
            c.call("DELETE", f"/api/v1/playlists/{pl}")

        for run in range(args.runs):
            measure("baseline GET /healthz", ["/healthz"])
            measure("track stats (30 days)", [f"/api/v1/stats/tracks/{t}" for t in track_ids])
            measure("artist stats", [f"/api/v1/stats/artists/{a}" for a in artist_ids])
            measure("charts", [f"/api/v1/charts/{k}?period={p}"
                               for k in ("tracks", "albums", "artists")
                               for p in ("day", "week", "all")])
            playlist_run()
            print(f"  run {run + 1} done", flush=True)
        print(f"with {stored:,} plays stored, medians of {args.runs} runs:")
        for name, runs in figures.items():
            p50 = statistics.median(r[0] for r in runs)
            p99 = statistics.median(r[1] for r in runs)
            print(f"  {name:34} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
