#!/usr/bin/env python3
"""Upload benchmark, run by hand: a 200 MB audio upload over loopback (MB/s and the server's
RSS growth while it streams to disk), with a baseline in the same go: the same bytes sent the
same way to a trivial receiver that reads and discards them. Then album create and edit
latency (p50, p99).

Usage: python3 bench/upload.py [--runs N] [--edits N] [--bin PATH]
(needs ffmpeg; without --bin it uses target/release/musewave, which must be built)
The 200 MB WAV is made once into bench/data/upload/ (gitignored). Everything is on 127.0.0.1.
"""
import argparse
import http.client
import json
import os
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
DATA = os.path.join(ROOT, "bench", "data", "upload")
BOUNDARY = "musewave-bench-boundary"
CHUNK = 1 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_audio():
    """A 200 MB stereo 16-bit WAV (about 19 minutes of tones)."""
    os.makedirs(DATA, exist_ok=True)
    path = os.path.join(DATA, "big.wav")
    if not os.path.exists(path):
        secs = 200_000_000 // (44100 * 4)
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
             f"sine=frequency=440:sample_rate=44100:duration={secs}", "-ac", "2",
             "-c:a", "pcm_s16le", path], check=True)
    return path


def start(data, port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEWAVE_")}
    env.update(MUSEWAVE_ADMIN_PASSWORD=PASSWORD, MUSEWAVE_LOG__LEVEL="warn")
    env.pop("RUST_LOG", None)
    proc = subprocess.Popen(
        [BIN, "--data-dir", os.path.join(data, "data"), "serve", "--listen", f"127.0.0.1:{port}",
         "--media", os.path.join(data, "music")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not start")


def request(conn, method, path, token=None, body=None):
    headers = {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    res = conn.getresponse()
    raw = res.read()
    if res.status >= 300:
        raise SystemExit(f"{method} {path}: {res.status} {raw[:300]!r}")
    return json.loads(raw) if raw else None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Sampler(threading.Thread):
    """The highest RSS of `pid` while running."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, False

    def run(self):
        while not self.stop:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.01)


def send_upload(port, path, token, file_path):
    """Streams a multipart body of one file in 1 MiB writes; returns (seconds, status, body)."""
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.wav\"\r\nContent-Type: audio/wav\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    size = os.path.getsize(file_path)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    conn.putrequest("POST", path)
    conn.putheader("content-type", f"multipart/form-data; boundary={BOUNDARY}")
    conn.putheader("content-length", str(len(head) + size + len(tail)))
    if token:
        conn.putheader("authorization", f"Bearer {token}")
    conn.endheaders()
    conn.send(head)
    with open(file_path, "rb") as f:
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                break
            conn.send(chunk)
    conn.send(tail)
    res = conn.getresponse()
    body = res.read()
    secs = time.perf_counter() - t0
    conn.close()
    return secs, res.status, body


def sink_server():
    """The baseline: an HTTP/1.1 receiver that reads the announced body and discards it."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)

    def serve():
        buf = bytearray(CHUNK)
        while True:
            conn, _ = srv.accept()
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, rest = data.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            left = length - len(rest)
            while left > 0:
                left -= conn.recv_into(buf, min(left, CHUNK))
            conn.sendall(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1]


def main():
    global BIN
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--edits", type=int, default=300)
    ap.add_argument("--bin", default=BIN)
    args = ap.parse_args()
    BIN = args.bin
    audio = make_audio()
    size_mb = os.path.getsize(audio) / 1e6
    tmp = tempfile.mkdtemp(prefix="musewave-upload-bench-")
    try:
        port = free_port()
        proc = start(tmp, port)
        conn = http.client.HTTPConnection("127.0.0.1", port)
        admin = request(conn, "POST", "/api/v1/auth/login",
                        body={"username": "admin", "password": PASSWORD})["access_token"]
        request(conn, "POST", "/api/v1/admin/users", admin,
                {"username": "bench", "password": PASSWORD, "role": "artist"})
        token = request(conn, "POST", "/api/v1/auth/login",
                        body={"username": "bench", "password": PASSWORD})["access_token"]
        sink = sink_server()

        base_mbs, mw_mbs, growth = [], [], []
        for _ in range(args.runs):
            # Interleaved, so both see the same machine load.
            secs, status, _ = send_upload(sink, "/", None, audio)
            assert status == 201
            base_mbs.append(size_mb / secs)
            before = rss_kib(proc.pid)
            sampler = Sampler(proc.pid)
            sampler.start()
            secs, status, body = send_upload(port, "/api/v1/uploads", token, audio)
            sampler.stop = True
            sampler.join()
            if status != 201:
                raise SystemExit(f"upload failed: {status} {body[:300]!r}")
            mw_mbs.append(size_mb / secs)
            growth.append((sampler.peak - before) / 1024)
            track = json.loads(body)["track_ids"][0]
            request(conn, "DELETE", f"/api/v1/studio/tracks/{track}", token)

        creates, edits = [], []
        album_ids = []
        for i in range(args.edits):
            t0 = time.perf_counter()
            a = request(conn, "POST", "/api/v1/studio/albums", token,
                        {"title": f"Album {i}", "kind": "ep", "genres": ["Test"]})
            creates.append((time.perf_counter() - t0) * 1000)
            album_ids.append(a["id"])
        for i, aid in enumerate(album_ids):
            t0 = time.perf_counter()
            request(conn, "PATCH", f"/api/v1/studio/albums/{aid}", token,
                    {"title": f"Album {i} (edited)", "release_date": "2024-01-02"})
            edits.append((time.perf_counter() - t0) * 1000)
        proc.terminate()
        proc.wait(timeout=30)

        def p(xs, q):
            xs = sorted(xs)
            return xs[min(len(xs) - 1, int(q * len(xs)))]

        print(f"upload of {size_mb:.0f} MB over loopback, {args.runs} runs (interleaved with the baseline)")
        print(f"  musewave POST /api/v1/uploads: median {statistics.median(mw_mbs):.0f} MB/s "
              f"(runs: {', '.join(f'{x:.0f}' for x in mw_mbs)})")
        print(f"  baseline, read-and-discard receiver: median {statistics.median(base_mbs):.0f} MB/s "
              f"(runs: {', '.join(f'{x:.0f}' for x in base_mbs)})")
        print(f"  server RSS growth during the upload: median {statistics.median(growth):.1f} MB, "
              f"max {max(growth):.1f} MB")
        print(f"album create ({len(creates)}): p50 {p(creates, 0.5):.2f} ms, p99 {p(creates, 0.99):.2f} ms")
        print(f"album edit ({len(edits)}): p50 {p(edits, 0.5):.2f} ms, p99 {p(edits, 0.99):.2f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
