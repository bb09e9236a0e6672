#!/usr/bin/env python3
"""A minimal external Lambda extension, used to test the sandbox emulator.

It registers, subscribes to the Telemetry API with its own listener, loops on
/event/next and appends what it sees to a JSON-lines record file (one object
per line, flushed at once, with `mono` = time.monotonic(), which is the same
clock in every process on Linux).

Record kinds: "registered", "subscribed", "event", "telemetry", "runtime_done_wait",
"error_reported", "exit".

Only the standard library; reads AWS_LAMBDA_RUNTIME_API like a real extension.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request


class Recorder:
    def __init__(self, path: str) -> None:
        self.lock = threading.Lock()
        self.f = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the process

    def write(self, kind: str, **data: object) -> None:
        line = json.dumps({"kind": kind, "mono": time.monotonic(), "wall": time.time(), **data})
        with self.lock:
            self.f.write(line + "\n")
            self.f.flush()


class Telemetry:
    """Collects telemetry batches; lets the main loop wait for runtimeDone."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.cond = threading.Condition()
        self.runtime_done: set[str] = set()

    def received(self, events: list[dict]) -> None:
        self.recorder.write("telemetry", events=events)
        with self.cond:
            for ev in events:
                if ev.get("type") == "platform.runtimeDone":
                    self.runtime_done.add(ev.get("record", {}).get("requestId"))
            self.cond.notify_all()

    def wait_runtime_done(self, request_id: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while request_id not in self.runtime_done:
                rem = deadline - time.monotonic()
                if rem <= 0:
                    return False
                self.cond.wait(rem)
            return True


def start_listener(host: str, port: int, telemetry: Telemetry, reply_status: int) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                events = json.loads(raw)
            except ValueError:
                events = []
            if reply_status == 200:
                telemetry.received(events if isinstance(events, list) else [])
            self.send_response(reply_status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def call(
    method: str, url: str, headers: dict[str, str], body: object = None, timeout: float | None = 5.0
) -> tuple[int, dict[str, str], object]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status, hdrs = resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        raw = err.read()
        status, hdrs = err.code, dict(err.headers)
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return status, hdrs, parsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--record", required=True, help="JSON-lines file to append observations to")
    ap.add_argument("--name", default="fake-extension")
    ap.add_argument("--events", default="INVOKE,SHUTDOWN")
    ap.add_argument("--no-telemetry", action="store_true")
    ap.add_argument("--telemetry-host", default="0.0.0.0")
    ap.add_argument("--telemetry-port", type=int, default=0)
    ap.add_argument("--telemetry-reply-status", type=int, default=200)
    ap.add_argument("--buffering-timeout-ms", type=int, default=25)
    ap.add_argument("--wait-runtime-done", action="store_true", help="after INVOKE wait for platform.runtimeDone")
    ap.add_argument("--runtime-done-timeout-ms", type=int, default=3000)
    ap.add_argument("--post-runtime-sleep-ms", type=int, default=0, help="sleep before calling /next again")
    ap.add_argument("--shutdown-sleep-ms", type=int, default=0)
    ap.add_argument("--exit-code", type=int, default=0)
    ap.add_argument("--init-error", default=None, help="report this init error type and exit 1")
    ap.add_argument("--exit-error-on-shutdown", default=None, help="report this exit error type at SHUTDOWN")
    args = ap.parse_args()

    rec = Recorder(args.record)
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    base = f"http://{api}/2020-01-01/extension"

    events = [e for e in args.events.split(",") if e]
    status, hdrs, body = call("POST", f"{base}/register", {"Lambda-Extension-Name": args.name}, {"events": events})
    ident = hdrs.get("Lambda-Extension-Identifier", "")
    rec.write("registered", status=status, identifier=ident, body=body)
    if status != 200:
        return 2
    idh = {"Lambda-Extension-Identifier": ident}

    if args.init_error:
        status, _, body = call(
            "POST",
            f"{base}/init/error",
            {**idh, "Lambda-Extension-Function-Error-Type": args.init_error},
            {"errorMessage": "fake init failure", "errorType": args.init_error, "stackTrace": []},
        )
        rec.write("error_reported", which="init", status=status, body=body)
        rec.write("exit", code=1)
        return 1

    telemetry = Telemetry(rec)
    if not args.no_telemetry:
        listener = start_listener(args.telemetry_host, args.telemetry_port, telemetry, args.telemetry_reply_status)
        port = listener.server_address[1]
        sub = {
            "schemaVersion": "2022-12-13",
            "types": ["platform"],
            "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": args.buffering_timeout_ms},
            "destination": {"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{port}"},
        }
        status, _, body = call("PUT", f"http://{api}/2022-07-01/telemetry", idh, sub)
        rec.write("subscribed", status=status, body=body, port=port)

    while True:
        try:
            # No client timeout on /next, as the Extensions API asks.
            status, hdrs, event = call("GET", f"{base}/event/next", idh, timeout=None)
        except (OSError, urllib.error.URLError) as exc:
            rec.write("exit", code=3, error=repr(exc))
            return 3
        if status != 200 or not isinstance(event, dict):
            rec.write("exit", code=4, status=status, body=event)
            return 4
        rec.write("event", event=event, event_id=hdrs.get("Lambda-Extension-Event-Identifier"))
        kind = event.get("eventType")
        if kind == "INVOKE":
            if args.wait_runtime_done:
                ok = telemetry.wait_runtime_done(event["requestId"], args.runtime_done_timeout_ms / 1000.0)
                rec.write("runtime_done_wait", request_id=event["requestId"], ok=ok)
            if args.post_runtime_sleep_ms:
                time.sleep(args.post_runtime_sleep_ms / 1000.0)
        elif kind == "SHUTDOWN":
            if args.shutdown_sleep_ms:
                time.sleep(args.shutdown_sleep_ms / 1000.0)
            if args.exit_error_on_shutdown:
                status, _, body = call(
                    "POST",
                    f"{base}/exit/error",
                    {**idh, "Lambda-Extension-Function-Error-Type": args.exit_error_on_shutdown},
                    {"errorMessage": "fake exit failure", "errorType": args.exit_error_on_shutdown},
                )
                rec.write("error_reported", which="exit", status=status, body=body)
            rec.write("exit", code=args.exit_code)
            return args.exit_code


if __name__ == "__main__":
    sys.exit(main())
