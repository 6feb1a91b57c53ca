#!/usr/bin/env python3
"""Subsonic API benchmark, run by hand against a release build on loopback.

Generates (or reuses) the tagged library of bench/library.py (default 100,000 tracks, cached
under bench/data/library-N/), scans it with `musewave scan`, serves it, makes an app password,
then measures with wrk (32 connections, two threads) the throughput and p99 of:
- `search3` returning 500 songs (`query=""`, random pages: how Symfonium syncs), and a word
  query returning up to 500 songs;
- `getAlbumList2` (newest, 50 albums) and `getAlbum` (random albums);
- baseline in the same go: `ping` with the same token authentication.

Every request carries token auth (`u`, `t`, `s`): the figures include the credential check.
Targets: search3 500 songs p99 < 20 ms; getAlbumList2 and getAlbum p99 < 5 ms.

Usage: python3 bench/subsonic.py [--tracks 100000] [--secs 10] [--bin PATH]
(needs ffmpeg and wrk; without --bin it uses target/release/musewave, which must be built).
"""
import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import library  # noqa: E402  (the shared library generator)

PASSWORD = library.PASSWORD


def wrk(url, secs, lua=None):
    """(requests/s, p99 ms) of wrk on `url`, with `lua` as its script when given."""
    cmd = ["wrk", "-t2", "-c32", f"-d{secs}s", "--latency"]
    script = None
    if lua:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write(lua)
        script.close()
        cmd += ["-s", script.name]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    if script:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} failed requests\n{out}")
    return rps, float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def rotating(paths):
    """A wrk script that sends the given paths in random order."""
    items = ",".join(json.dumps(p) for p in paths)
    return f"local paths = {{{items}}}\nmath.randomseed(os.time())\n" \
           "request = function() return wrk.format('GET', paths[math.random(#paths)]) end\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=100000)
    ap.add_argument("--secs", type=int, default=10)
    ap.add_argument("--bin")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin) if args.bin else os.path.join(ROOT, "target", "release", "musewave")
    if not os.path.exists(binary):
        raise SystemExit(f"{binary} is missing: build it with cargo build --release, or pass --bin")
    music = os.path.join(ROOT, "bench", "data", f"library-{args.tracks}")
    t0 = time.perf_counter()
    library.generate(args.tracks, music)
    print(f"library of {args.tracks} tracks ready in {time.perf_counter() - t0:.0f} s")
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data")
        library.scan(binary, data, music)
        port = library.free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEWAVE_")}
        env.update(MUSEWAVE_ADMIN_PASSWORD=PASSWORD, MUSEWAVE_LOG__LEVEL="warn")
        proc = subprocess.Popen([binary, "--data-dir", data, "serve", "--listen", f"127.0.0.1:{port}",
                                 "--media", music], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            run(port, args)
        finally:
            proc.terminate()
            proc.wait()


def run(port, args):
    base = f"http://127.0.0.1:{port}"
    library.wait_ready(base)
    token = library.admin_token(base)
    auth = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    while json.load(urllib.request.urlopen(urllib.request.Request(
            base + "/api/v1/library/scan", headers=auth)))["state"] != "idle":
        time.sleep(0.2)
    app_pw = json.load(urllib.request.urlopen(urllib.request.Request(
        base + "/api/v1/me/app-passwords", data=b'{"name": "bench"}', headers=auth)))["password"]
    salt = "b3nch5alt"
    creds = urllib.parse.urlencode({"u": "admin", "s": salt, "v": "1.16.1", "c": "bench", "f": "json",
                                    "t": hashlib.md5((app_pw + salt).encode()).hexdigest()})

    def rest(method, **params):
        q = creds + ("&" + urllib.parse.urlencode(params) if params else "")
        return f"/rest/{method}?{q}"

    def call(path):
        body = json.load(urllib.request.urlopen(base + path))["subsonic-response"]
        assert body["status"] == "ok", body
        return body

    albums = call(rest("getAlbumList2", type="random", size=500))["albumList2"]["album"]
    songs = call(rest("search3", query='""', songCount=500, artistCount=0, albumCount=0))
    assert len(songs["searchResult3"]["song"]) == 500, "the library is too small for 500-song pages"
    pages = max(1, args.tracks // 500)
    # Warm the cached sort orders.
    call(rest("getAlbumList2", type="newest", size=50))
    figures = [
        ("baseline ping", wrk(base + rest("ping"), args.secs)),
        ("search3 query=\"\" 500 songs", wrk(base, args.secs, rotating(
            [rest("search3", query='""', songCount=500, songOffset=500 * random.randrange(pages),
                  artistCount=0, albumCount=0) for _ in range(200)]))),
        ("search3 'love' 500 songs", wrk(base + rest("search3", query="love", songCount=500,
                                                      artistCount=0, albumCount=0), args.secs)),
        ("getAlbumList2 newest 50", wrk(base + rest("getAlbumList2", type="newest", size=50), args.secs)),
        ("getAlbum (random)", wrk(base, args.secs, rotating([rest("getAlbum", id=a["id"]) for a in albums]))),
    ]
    print(f"Subsonic API over {args.tracks} tracks, 32 connections, token auth on every request:")
    for name, (rps, p99) in figures:
        print(f"   {name:<30} {rps:>9,.0f} req/s  p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()
