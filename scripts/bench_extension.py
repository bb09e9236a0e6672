#!/usr/bin/env python3
"""Measures gravel-extension against the targets of issue #5 and prints one JSON object.

    scripts/bench-extension.sh            # builds release binaries, then runs this
    python3 scripts/bench_extension.py --extension BIN --gateway BIN

A small fake Lambda API (Extensions + Telemetry, no 25 ms buffering) drives the real
binary on loopback, so the timings are the extension's own:
  push_rtt_us            p50/p99 of a keep-alive POST of a 10-series body to GRAVEL_LISTEN
  start_to_registered_ms exec → the register request arriving (median, p90 of N starts)
  rss_idle_mb, rss_10k_series_mb   VmRSS idle, and holding 10,000 series (gateway unreachable)
  runtime_done_to_next_ms  runtimeDone POSTed to the telemetry listener → /event/next arriving,
                           with GRAVEL_FLUSH=periodic,3600 (no flush at that freeze); 0 when
                           the extension was back in /next before runtimeDone, as it is when
                           it knows it will not flush
  flush_1000_series_ms   the same with GRAVEL_FLUSH=end and 1,000 series pushed, so it includes
                           the flush to a local gravel-gateway; also the extension's own "flushed ms="
  binary_bytes           the stripped release binary
  post_runtime_ms        per GRAVEL_FLUSH mode (end, periodic,10, adaptive): the billed time
                           between the runtime's answer and the extension's /event/next
                           (PostRuntimeExtensionsDuration), in the Lambda sandbox emulator of
                           IntegrationTests/lambda with its 25 ms telemetry buffering, one
                           10-series push per invocation, a local gravel-gateway
Every wait is bounded; every process started here is stopped.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import queue
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class FakeLambda:
    """Extensions API + Telemetry subscription; events are fed by the bench."""

    def __init__(self) -> None:
        self.events: queue.Queue = queue.Queue()
        self.registered_at: float | None = None
        self.next_arrivals: queue.Queue = queue.Queue()
        self.telemetry_port: int | None = None
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                # One write per response and no Nagle: otherwise delayed ACKs add 40 ms.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def reply(self, status=200, body=b"{}", headers=()):
                head = f"HTTP/1.1 {status} OK\r\nContent-Length: {len(body)}\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
                self.wfile.write(head.encode() + body)

            def body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def do_POST(self):
                data = self.body()
                if self.path.endswith("/extension/register"):
                    fake.registered_at = time.monotonic()
                    self.reply(200, b'{"functionName":"bench","functionVersion":"$LATEST","handler":"x"}',
                               [("Lambda-Extension-Identifier", "bench-id")])
                else:
                    self.reply(202, data and b"{}")

            def do_PUT(self):
                data = json.loads(self.body())
                fake.telemetry_port = int(data["destination"]["URI"].rsplit(":", 1)[1])
                self.reply(200, b'"OK"')

            def do_GET(self):
                fake.next_arrivals.put(time.monotonic())
                event = fake.events.get()
                self.reply(200, json.dumps(event).encode())

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a killed extension drops its blocked /event/next: expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()


def start_extension(binary: str, fake: FakeLambda, env: dict, log) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GRAVEL_")}
    full.update({
        "AWS_LAMBDA_RUNTIME_API": fake.address, "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "GRAVEL_TELEMETRY_HOST": "127.0.0.1", "GRAVEL_PLATFORM_METRICS": "0", "GRAVEL_LOG_LEVEL": "debug",
    })
    full.update(env)
    return subprocess.Popen([binary], env=full, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(0.001)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def body(series: int, offset: int = 0) -> bytes:
    lines = ["# TYPE bench_requests_total counter"]
    lines += [f'bench_requests_total{{route="/r{offset + i}"}} 1' for i in range(series)]
    return ("\n".join(lines) + "\n").encode()


def session(binary: str, env: dict, log):
    fake = FakeLambda()
    proc = start_extension(binary, fake, env, log)
    wait(lambda: fake.telemetry_port is not None or proc.poll() is not None, 10, "telemetry subscription")
    if proc.poll() is not None:
        raise SystemExit(f"bench: the extension exited with {proc.returncode}")
    wait(lambda: not fake.next_arrivals.empty(), 10, "the first /event/next")
    fake.next_arrivals.get()
    return fake, proc


def invoke(fake: FakeLambda, request_id: str, work) -> float:
    """One invocation: INVOKE, the function's work, runtimeDone; returns ms until /next."""
    fake.events.put({"eventType": "INVOKE", "requestId": request_id, "deadlineMs": int(time.time() * 1000) + 30000})
    work()
    done = json.dumps([{"time": "2026-01-01T00:00:00.000Z", "type": "platform.runtimeDone",
                        "record": {"requestId": request_id, "status": "success"}}]).encode()
    conn = http.client.HTTPConnection("127.0.0.1", fake.telemetry_port, timeout=10)
    t0 = time.monotonic()
    conn.request("POST", "/", body=done, headers={"Content-Type": "application/json"})
    conn.getresponse().read()
    conn.close()
    t1 = fake.next_arrivals.get(timeout=30)
    return max(0.0, (t1 - t0) * 1000)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--extension", required=True)
    ap.add_argument("--gateway", required=True)
    ap.add_argument("--starts", type=int, default=20)
    ap.add_argument("--pushes", type=int, default=3000)
    ap.add_argument("--invocations", type=int, default=200)
    args = ap.parse_args()
    out: dict = {"binary_bytes": os.path.getsize(args.extension)}
    tmp = Path(tempfile.mkdtemp(prefix="gravel-bench-"))
    log = open(tmp / "extension.log", "ab")
    dead_gateway = f"http://127.0.0.1:{free_port()}"

    # Start to registered.
    starts = []
    for _ in range(args.starts):
        fake = FakeLambda()
        listen = f"127.0.0.1:{free_port()}"
        t0 = time.monotonic()
        proc = start_extension(args.extension, fake, {"GRAVEL_GATEWAY_URL": dead_gateway, "GRAVEL_LISTEN": listen}, log)
        wait(lambda: fake.registered_at is not None, 10, "registration")
        starts.append((fake.registered_at - t0) * 1000)
        stop(proc)
        fake.close()
    out["start_to_registered_ms"] = {"p50": round(statistics.median(starts), 2), "p90": round(pct(starts, 90), 2)}

    # Push round trip, idle RSS, RSS with 10,000 series held (the gateway is unreachable).
    listen_port = free_port()
    fake, proc = session(args.extension, {"GRAVEL_GATEWAY_URL": dead_gateway, "GRAVEL_LISTEN": f"127.0.0.1:{listen_port}",
                                          "GRAVEL_FLUSH": "periodic,3600"}, log)
    time.sleep(0.3)
    out["rss_idle_mb"] = round(rss_mb(proc.pid), 1)
    conn = http.client.HTTPConnection("127.0.0.1", listen_port, timeout=10)
    ten = body(10)
    rtts = []
    for i in range(args.pushes):
        t0 = time.perf_counter()
        conn.request("POST", "/metrics/job/bench", body=ten, headers={"Content-Type": "text/plain; version=0.0.4"})
        r = conn.getresponse()
        r.read()
        rtts.append((time.perf_counter() - t0) * 1e6)
        assert r.status == 200, r.status
    warm = rtts[len(rtts) // 10:]
    out["push_rtt_us"] = {"p50": round(statistics.median(warm), 1), "p99": round(pct(warm, 99), 1), "series": 10,
                          "client": "python http.client, keep-alive"}
    for chunk in range(10):
        conn.request("POST", "/metrics/job/bench", body=body(1000, chunk * 1000))
        assert conn.getresponse().read() is not None
    time.sleep(0.2)
    out["rss_10k_series_mb"] = round(rss_mb(proc.pid), 1)
    conn.close()
    stop(proc)
    fake.close()

    # runtimeDone → /next without a flush (periodic), then with a 1,000-series flush (end).
    gateway_port = free_port()
    gateway = subprocess.Popen([args.gateway, "-l", f"127.0.0.1:{gateway_port}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait(lambda: _ready(f"http://127.0.0.1:{gateway_port}/-/ready"), 20, "the gateway")
        for strategy, series_count, key in (("periodic,3600", 10, "runtime_done_to_next_ms"), ("end", 1000, "flush_1000_series_ms")):
            listen_port = free_port()
            fake, proc = session(args.extension, {"GRAVEL_GATEWAY_URL": f"http://127.0.0.1:{gateway_port}",
                                                  "GRAVEL_LISTEN": f"127.0.0.1:{listen_port}", "GRAVEL_FLUSH": strategy}, log)
            push = http.client.HTTPConnection("127.0.0.1", listen_port, timeout=10)
            payload = body(series_count)

            def work():
                push.request("POST", "/metrics/job/bench", body=payload)
                push.getresponse().read()

            times = [invoke(fake, f"req-{key}-{i}", work) for i in range(args.invocations)]
            warm = times[5:]
            out[key] = {"p50": round(statistics.median(warm), 2), "p99": round(pct(warm, 99), 2), "series": series_count}
            push.close()
            stop(proc)
            fake.close()
        log.flush()
        flushed = [int(m) for m in re.findall(rb"groups=1 ms=(\d+)", (tmp / "extension.log").read_bytes())]
        if flushed:
            out["flush_1000_series_ms"]["extension_logged_p50"] = statistics.median(flushed[-args.invocations:])
    finally:
        gateway.kill()
        gateway.wait(timeout=10)
    out["post_runtime_ms"] = post_runtime_by_mode(args, log)
    out["targets"] = {"push_rtt_us.p99": 1000, "start_to_registered_ms": 10, "rss_idle_mb": 15, "rss_10k_series_mb": 40,
                      "runtime_done_to_next_ms.p50": 2, "flush_1000_series_ms": 10, "binary_bytes": 20 * 1024 * 1024}
    print(json.dumps(out, indent=2))


def post_runtime_by_mode(args, log) -> dict:
    """Billed post-runtime time per invocation in each flush mode, in the sandbox emulator."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "IntegrationTests" / "lambda"))
    from emulator import LambdaSandbox  # noqa: E402 - the repository's own emulator

    gateway_port = free_port()
    gateway = subprocess.Popen([args.gateway, "-l", f"127.0.0.1:{gateway_port}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    results = {}
    try:
        wait(lambda: _ready(f"http://127.0.0.1:{gateway_port}/-/ready"), 20, "the gateway")
        for mode in ("end", "periodic,10", "adaptive"):
            listen_port = free_port()
            env = {"GRAVEL_GATEWAY_URL": f"http://127.0.0.1:{gateway_port}", "GRAVEL_LISTEN": f"127.0.0.1:{listen_port}",
                   "GRAVEL_FLUSH": mode, "GRAVEL_LOG_LEVEL": "debug"}
            with LambdaSandbox(expected_extensions=1) as sb:
                proc = sb.spawn_extension([args.extension], name="gravel-extension", env=env)
                sb.wait_for_subscription(1, timeout=10)
                wait(lambda: _listening(listen_port), 10, "the push listener")
                push = http.client.HTTPConnection("127.0.0.1", listen_port, timeout=10)
                payload = body(10)

                def handler(ctx):
                    push.request("POST", "/metrics/job/bench", body=payload)
                    push.getresponse().read()

                times = []
                t_begin = time.monotonic()
                for _ in range(args.invocations):
                    r = sb.invoke(handler, timeout_s=5.0)
                    times.append(r.post_runtime_ms or 0.0)
                elapsed = time.monotonic() - t_begin
                push.close()
                sb.shutdown(deadline_ms=2000)
                stop(proc)
            results[mode] = {"p50": round(statistics.median(times), 2), "p99": round(pct(times, 99), 2),
                             "mean": round(statistics.fmean(times), 2), "invocations": len(times),
                             "invocations_per_s": round(len(times) / elapsed, 1)}
    finally:
        gateway.kill()
        gateway.wait(timeout=10)
    return results


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


if __name__ == "__main__":
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    main()
