#!/usr/bin/env python3
"""Streaming benchmark, run by hand: serves one ~100 MB WAV (made once with ffmpeg, cached under
bench/data/) from the release binary and, as the baseline in the same go, from nginx (sendfile)
on the same file, and measures:
(a) one whole-file GET over loopback: throughput (curl, median of --runs, alternating servers);
(b) random 16 KiB range requests on one keep-alive connection: p99 latency (wrk -c1), which for
    a 16 KiB body is time to first byte plus a few microseconds;
(c) 200 concurrent clients doing random range reads: p99 latency (wrk -c200), twice: with every
    client asking again as soon as it has its answer (the server and wrk saturate the two cores,
    so the p99 is mostly time spent queueing, for nginx as for musewave), and with each client
    pausing PACE_MS between its reads, as players that seek (an offered 10,000 reads/s);
(d) 500 concurrent streams that read like players (slowly): server RSS growth (/proc/PID/status).
(b) to (d) are repeated --runs times and the medians printed.

Usage: python3 bench/streaming.py [--runs 3] [--bin PATH] [--secs 5]
Needs ffmpeg, curl, wrk and nginx (`apt-get install -y nginx`; run here as a non-daemon on a
loopback port with a temporary config). Talks to 127.0.0.1 only.
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
PASSWORD = "bench-password-123"
RANGE_SPAN = 16 * 1024
PACE_MS = 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, tries=600):
    for _ in range(tries):
        try:
            urllib.request.urlopen(url)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} never answered")


def generate(out):
    """A 10-minute stereo 16-bit WAV: 105.8 MB of audio."""
    path = os.path.join(out, "long.wav")
    if not os.path.exists(path):
        os.makedirs(out, exist_ok=True)
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "sine=frequency=440:sample_rate=44100:duration=600", "-ac", "2", path + ".tmp.wav"],
                       check=True)
        os.rename(path + ".tmp.wav", path)
    return path


def start_musewave(binary, data, music):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEWAVE_")}
    env["MUSEWAVE_ADMIN_PASSWORD"] = PASSWORD
    env["MUSEWAVE_LOG__LEVEL"] = "warn"
    proc = subprocess.Popen([binary, "--data-dir", data, "serve", "--listen", f"127.0.0.1:{port}", "--media", music],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/healthz")
    req = urllib.request.Request(base + "/api/v1/auth/login", data=json.dumps(
        {"username": "admin", "password": PASSWORD}).encode(), headers={"content-type": "application/json"})
    token = json.load(urllib.request.urlopen(req))["access_token"]
    auth = {"authorization": f"Bearer {token}"}
    for _ in range(600):
        tracks = json.load(urllib.request.urlopen(urllib.request.Request(base + "/api/v1/tracks?limit=1", headers=auth)))
        if tracks["total"] == 1:
            break
        time.sleep(0.1)
    track = tracks["items"][0]["id"]
    # A stream token, so every client uses a plain URL as an <audio> element would.
    req = urllib.request.Request(base + f"/api/v1/tracks/{track}/stream-token", data=b"", headers=auth)
    url = json.load(urllib.request.urlopen(req))["stream_url"]
    return proc, port, url


def start_nginx(tmp, music):
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
daemon off;
worker_processes auto;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
        root {music};
    }}
}}
""")
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/")
    return proc, port


def rss_kb(pid):
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))


def whole_file(url):
    """Bytes per second of one whole-file GET."""
    o = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{speed_download}", url],
                       capture_output=True, text=True, check=True).stdout.split()
    assert o[0] == "200", o
    return float(o[1])


def wrk_p99(url, size, conns, secs, tmp, pace_ms=0):
    """p99 latency in ms and requests/s of random RANGE_SPAN reads, through wrk; with pace_ms,
    each connection waits that long after an answer before its next request."""
    host, path = url.split("/", 3)[2], "/" + url.split("/", 3)[3]
    script = os.path.join(tmp, "ranges.lua")
    with open(script, "w") as f:
        f.write(f"""
local counter = 0
setup = function(thread) thread:set("seed", counter); counter = counter + 1 end
init = function() math.randomseed(os.time() * 1000 + seed) end
request = function()
    local first = math.random(0, {size - RANGE_SPAN})
    return wrk.format("GET", "{path}", {{["Range"] = "bytes=" .. first .. "-" .. (first + {RANGE_SPAN - 1})}})
end
response = function(status, headers, body)
    if status ~= 206 then error("status " .. status) end
end
""")
        if pace_ms:
            f.write(f"delay = function() return {pace_ms} end\n")
    o = subprocess.run(["wrk", f"-t{min(conns, 2)}", f"-c{conns}", f"-d{secs}s", "--latency", "-s", script,
                        f"http://{host}"], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in o or "error" in o.lower().split("latency distribution")[-1]:
        raise SystemExit(o)
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", o)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", o).group(1))
    return p99, rps


def many_streams(rss, port, path, n=500, hold=5.0, read_per_tick=16 * 1024, tick=0.1):
    """Opens n streams that each read like a player (read_per_tick bytes every tick, ~160 KB/s)
    and holds them for `hold` seconds; returns (RSS before, peak RSS while streaming) in kB,
    `rss()` giving the server's RSS."""
    before = rss()
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        socks.append(s)
    peak, received = before, 0
    end = time.perf_counter() + hold
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        for s in socks:
            s.setblocking(False)
            try:
                received += len(s.recv(read_per_tick))
            except BlockingIOError:
                pass
        peak = max(peak, rss())
        time.sleep(max(0.0, tick - (time.perf_counter() - t0)))
    for s in socks:
        s.close()
    assert received > n * read_per_tick, "the streams did not flow"
    return before, peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--bin")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin) if args.bin else os.path.join(ROOT, "target", "release", "musewave")
    if not args.bin:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    if not shutil.which("nginx"):
        raise SystemExit("nginx is needed for the baseline: apt-get install -y nginx")
    music = os.path.join(ROOT, "bench", "data", "streaming")
    wav = generate(music)
    size = os.path.getsize(wav)
    subprocess.run(["cat", wav], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    print(f"file: {size / 1e6:.1f} MB WAV; {args.runs} runs each, medians")

    with tempfile.TemporaryDirectory() as tmp:
        mw, mw_port, mw_path = start_musewave(binary, os.path.join(tmp, "data"), music)
        ngx, ngx_port = start_nginx(tmp, music)
        try:
            mw_url = f"http://127.0.0.1:{mw_port}{mw_path}"
            ngx_url = f"http://127.0.0.1:{ngx_port}/long.wav"
            whole_file(mw_url), whole_file(ngx_url)  # warm-up
            mw_tp, ngx_tp = [], []
            for _ in range(max(args.runs, 5)):
                mw_tp.append(whole_file(mw_url))
                ngx_tp.append(whole_file(ngx_url))
            m, n = statistics.median(mw_tp), statistics.median(ngx_tp)
            print(f"(a) whole file:  musewave {m / 1e6:8.0f} MB/s   nginx {n / 1e6:8.0f} MB/s   ratio {m / n:.2f} (target >= 0.7)")

            for label, conns, pace, target in [
                    ("(b) keep-alive ranges, 1 conn", 1, 0, 2.0),
                    ("(c) random ranges, 200 conns, saturating", 200, 0, 10.0),
                    (f"(c) random ranges, 200 conns, {PACE_MS} ms apart", 200, PACE_MS, 10.0)]:
                res = {"musewave": [], "nginx": []}
                for _ in range(args.runs):
                    res["musewave"].append(wrk_p99(mw_url, size, conns, args.secs, tmp, pace))
                    res["nginx"].append(wrk_p99(ngx_url, size, conns, args.secs, tmp, pace))
                line = []
                for name, xs in res.items():
                    p99 = statistics.median(x[0] for x in xs)
                    rps = statistics.median(x[1] for x in xs)
                    line.append(f"{name} p99 {p99:6.2f} ms ({rps:8,.0f} req/s)")
                print(f"{label}: {'   '.join(line)}   (target musewave p99 < {target} ms)")

            def streams(rss, port, path):
                # Growth is counted from the RSS before the first run: memory the allocator
                # keeps after a run would otherwise hide the next run's growth.
                first, growth = rss(), []
                for _ in range(args.runs):
                    _, peak = many_streams(rss, port, path)
                    growth.append((peak - first) / 1024)
                    time.sleep(1)
                return first / 1024, growth

            mw_first, mw_growth = streams(lambda: rss_kb(mw.pid), mw_port, mw_path)
            workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(ngx.pid)], capture_output=True,
                                                      text=True).stdout.split()]
            _, ngx_growth = streams(lambda: sum(rss_kb(p) for p in workers), ngx_port, "/long.wav")
            print(f"(d) 500 player-paced streams: musewave RSS {mw_first:.0f} MB before, peak growth median "
                  f"+{statistics.median(mw_growth):.1f} MB (runs: {', '.join(f'{g:.1f}' for g in mw_growth)}; "
                  f"target < 100 MB)   nginx workers +{statistics.median(ngx_growth):.1f} MB")
        finally:
            mw.terminate()
            ngx.terminate()
            mw.wait()
            ngx.wait()


if __name__ == "__main__":
    main()
