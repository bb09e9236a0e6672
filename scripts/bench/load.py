#!/usr/bin/env python3
"""Loads series into a gateway: PUTs one body into many groups over keep-alive connections.

    load.py --port 4278 --body scrape-group.txt --job scrape --groups 1000 [--concurrency 2]
    load.py --port 4278 --body push.txt --method POST --path /metrics/job/bench --groups 2000

Group g is /metrics/job/<job>/instance/g<00000>; the body's series get those two path
labels, so the same body in every group gives distinct series (the gravel-bench render
benchmark builds the same ones). With --path, every request goes to that one path (a
fixed number of pushes, for profiles). Prints one JSON line: groups, seconds, failures.
Exits 1 if any request was not answered 2xx.
"""
import argparse
import http.client
import json
import sys
import threading
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--body", required=True)
    ap.add_argument("--job", default="scrape")
    ap.add_argument("--groups", type=int, required=True, help="number of requests")
    ap.add_argument("--method", default="PUT")
    ap.add_argument("--path", help="one path for every request instead of a group each")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=120.0, help="per request, seconds")
    args = ap.parse_args()

    with open(args.body, "rb") as f:
        body = f.read()
    headers = {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
    lock = threading.Lock()
    next_group = [0]
    failures = []

    def worker() -> None:
        conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
        while True:
            with lock:
                g = next_group[0]
                if g >= args.groups or failures:
                    break
                next_group[0] += 1
            path = args.path or f"/metrics/job/{args.job}/instance/g{g:05d}"
            try:
                conn.request(args.method, path, body=body, headers=headers)
                resp = conn.getresponse()
                text = resp.read()
                if not 200 <= resp.status < 300:
                    with lock:
                        failures.append(f"{path}: {resp.status} {text[:300]!r}")
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    failures.append(f"{path}: {e!r}")
                conn.close()
                conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
        conn.close()

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(max(1, args.concurrency))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    print(json.dumps({"groups": args.groups, "seconds": round(elapsed, 3), "failures": failures[:5]}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
