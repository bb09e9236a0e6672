#!/usr/bin/env python3
"""What concurrent scrapes cost a loaded gateway: time of one scrape, and the memory that
four scrapes at once add over the loaded RSS.

    scrape_memory.py --bin .build/release --groups 1000 [--body scrape-group.txt] [--scrapers 4]

Starts gravel-gateway on a free loopback port, loads `groups` groups of the body (1,000
series each with the bench body: 1,000,000 series), then scrapes: one alone (timed), then
`scrapers` at once, sampling the process's RSS every 10 ms. Prints one JSON line:
series, loaded_rss_mb, scrape_seconds, concurrent_seconds, concurrent_peak_rss_mb,
added_mb (peak minus loaded). Stops the gateway at the end, whatever happens.
"""
import argparse
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def scrape(port: int, gzip: bool) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"} if gzip else {})
    resp = conn.getresponse()
    size = 0
    while True:
        chunk = resp.read(1 << 16)
        if not chunk:
            break
        size += len(chunk)
    conn.close()
    return size


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--groups", type=int, default=1000)
    ap.add_argument("--body")
    ap.add_argument("--scrapers", type=int, default=4)
    ap.add_argument("--gzip", action="store_true", help="scrape with Accept-Encoding: gzip")
    args = ap.parse_args()
    body = args.body
    if body is None:
        body = "/tmp/gravel-scrape-group.txt"
        with open(body, "wb") as f:
            subprocess.run([f"{args.bin}/gravel-bench", "body", "scrape", "--families", "10", "--per-family", "100"],
                           stdout=f, check=True, timeout=60)
    port = free_port()
    gw = subprocess.Popen([f"{args.bin}/gravel-gateway", "-l", f"127.0.0.1:{port}", "--max-series", "5000000"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        load = subprocess.run([sys.executable, str(ROOT / "scripts/bench/load.py"), "--port", str(port), "--body", body,
                               "--job", "scrape", "--groups", str(args.groups), "--concurrency", "2"],
                              capture_output=True, text=True, timeout=1800)
        if load.returncode != 0:
            print(load.stdout, load.stderr, file=sys.stderr)
            return 1
        time.sleep(2)
        loaded = rss_mb(gw.pid)
        start = time.monotonic()
        size = scrape(port, args.gzip)
        alone = time.monotonic() - start
        peak = [loaded]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_mb(gw.pid))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        threads = [threading.Thread(target=scrape, args=(port, args.gzip)) for _ in range(args.scrapers)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        concurrent = time.monotonic() - start
        done.set()
        sampler.join()
        series = args.groups * 1000
        print(json.dumps({
            "series": series, "bytes": size, "gzip": args.gzip, "loaded_rss_mb": round(loaded, 1),
            "scrape_seconds": round(alone, 3), "scrapers": args.scrapers, "concurrent_seconds": round(concurrent, 3),
            "concurrent_peak_rss_mb": round(peak[0], 1), "added_mb": round(peak[0] - loaded, 1),
            "rss_bytes_per_series": round(loaded * 1024 * 1024 / series),
        }))
        return 0
    finally:
        gw.terminate()
        try:
            gw.wait(timeout=15)
        except subprocess.TimeoutExpired:
            gw.kill()


if __name__ == "__main__":
    sys.exit(main())
