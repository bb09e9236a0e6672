"""A Lambda execution-environment emulator for driving a real extension in tests.

`LambdaSandbox` plays the part of the Lambda service towards external extensions:

* the Extensions API (`/2020-01-01/extension/...`): register, event/next,
  init/error, exit/error;
* the Telemetry API (`PUT /2022-07-01/telemetry`) with buffered delivery of
  `platform.*` events (schema 2022-12-13 shapes) to each subscriber's HTTP
  destination;
* freeze semantics: an invocation ends when the function handler has returned
  and every extension registered for INVOKE is blocked in `/event/next` again.
  The time between the two (AWS's PostRuntimeExtensionsDuration) is measured
  per invocation;
* shutdown: SHUTDOWN events, a deadline, then SIGKILL like Lambda.

The function itself is a Python callable run in the test process (it can push
metrics to the extension over HTTP). Extensions run as real subprocesses that
the test starts with `spawn_extension` or hands over with `attach_process`.

Everything here is bounded by timeouts and stays on loopback. Standard library
only.

Example::

    with LambdaSandbox(expected_extensions=1) as sb:
        sb.spawn_extension([binary], name="gravel-extension",
                           env={"GRAVEL_GATEWAY_URL": gateway_url})
        sb.wait_for_registration(1, timeout=5)
        r = sb.invoke(lambda ctx: push_metrics(), timeout_s=3)
        assert not r.timed_out and r.post_runtime_ms < 500
        s = sb.shutdown()
        assert s.deadline_met and s.exit_codes["gravel-extension"] == 0
"""

from __future__ import annotations

import http.client
import http.server
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import urlsplit

__all__ = [
    "LambdaSandbox",
    "SandboxError",
    "Registration",
    "Subscription",
    "RecordedError",
    "TelemetryDelivery",
    "InvocationContext",
    "InvocationResult",
    "ShutdownResult",
    "ProcessOutcome",
]

EXTENSION_PREFIX = "/2020-01-01/extension"
TELEMETRY_PATH = "/2022-07-01/telemetry"

SCHEMA_VERSIONS = ("2022-07-01", "2022-12-13", "2025-01-29")
TELEMETRY_TYPES = ("platform", "function", "extension")
EVENT_TYPES = ("INVOKE", "SHUTDOWN")
STATUSES = ("success", "error", "failure", "timeout")
INITIALIZATION_TYPES = ("on-demand", "provisioned-concurrency", "snap-start")

# (minimum, maximum) per buffering key, from the Telemetry API reference.
BUFFERING_LIMITS = {
    "timeoutMs": (25, 30_000),
    "maxBytes": (262_144, 1_048_576),
    "maxItems": (1_000, 10_000),
}
# Defaults from the Telemetry API guide ("Configuring memory usage and buffering").
BUFFERING_DEFAULTS = {"timeoutMs": 1_000, "maxBytes": 262_144, "maxItems": 10_000}

RESERVED_PORT = 9001
MAX_EXTENSIONS = 10

# Runtime-only variables that Lambda does not pass to extensions.
HIDDEN_FROM_EXTENSIONS = (
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
    "_AWS_XRAY_DAEMON_ADDRESS",
    "_AWS_XRAY_DAEMON_PORT",
    "_HANDLER",
)

H_NAME = "Lambda-Extension-Name"
H_ID = "Lambda-Extension-Identifier"
H_EVENT_ID = "Lambda-Extension-Event-Identifier"
H_ERROR_TYPE = "Lambda-Extension-Function-Error-Type"
H_ACCEPT_FEATURE = "Lambda-Extension-Accept-Feature"


class SandboxError(RuntimeError):
    """The sandbox was used in a way Lambda would not allow (or it is stopped)."""


# --------------------------------------------------------------------------
# Records exposed to tests
# --------------------------------------------------------------------------


@dataclass
class Registration:
    identifier: str
    name: str
    events: list[str]
    time: float  # wall clock, seconds
    accept_features: list[str] = field(default_factory=list)


@dataclass
class Subscription:
    identifier: str
    extension_name: str
    schema_version: str
    types: list[str]
    buffering: dict[str, int]  # with defaults filled in
    destination: dict[str, Any]
    time: float
    during_init: bool
    request_body: dict[str, Any]


@dataclass
class RecordedError:
    kind: str  # "init" or "exit"
    identifier: str
    extension_name: str
    error_type: str
    body: Any  # parsed JSON when possible, else text, else None
    time: float


@dataclass
class TelemetryDelivery:
    extension_name: str
    uri: str
    events: list[dict[str, Any]]
    time: float  # wall clock of the final attempt
    monotonic: float
    attempts: int
    ok: bool
    status: int | None
    error: str | None


@dataclass
class InvocationContext:
    """What the handler gets, shaped like a Lambda context object."""

    request_id: str
    deadline_ms: int
    invoked_function_arn: str
    function_name: str
    function_version: str
    memory_limit_in_mb: int
    trace_header: str
    payload: Any = None

    @property
    def aws_request_id(self) -> str:
        return self.request_id

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


@dataclass
class InvocationResult:
    request_id: str
    status: str  # platform.runtimeDone status
    report_status: str  # platform.report status
    error_type: str | None
    handler_result: Any
    handler_exception: BaseException | None
    handler_duration_ms: float
    # Time from runtimeDone until the last extension was back in /next. When
    # timed_out is true it is a lower bound (time until the deadline).
    post_runtime_ms: float | None
    timed_out: bool
    duration_ms: float
    billed_duration_ms: int
    init_duration_ms: float | None
    deadline_ms: int
    extensions_waited: list[str]
    extensions_not_back: list[str]
    crashed_extensions: list[str]
    report: dict[str, Any]
    late_report: bool
    t_start: float  # monotonic
    t_runtime_done: float
    t_frozen: float | None


@dataclass
class ProcessOutcome:
    pid: int
    name: str | None
    exit_code: int | None
    killed: bool


@dataclass
class ShutdownResult:
    reason: str
    deadline_ms: int
    deadline_met: bool
    duration_ms: float
    notified: list[str]  # extensions that were sent SHUTDOWN
    acknowledged: list[str]  # of those, the ones that read it from /next
    processes: list[ProcessOutcome]

    @property
    def exit_codes(self) -> dict[Any, int | None]:
        """Exit code per process, keyed by extension name when known, else pid."""
        return {(p.name if p.name is not None else p.pid): p.exit_code for p in self.processes}

    @property
    def killed(self) -> list[Any]:
        return [(p.name if p.name is not None else p.pid) for p in self.processes if p.killed]


# --------------------------------------------------------------------------
# Internal state
# --------------------------------------------------------------------------


@dataclass
class _Queued:
    seq: int
    event_id: str
    payload: dict[str, Any]


class _Extension:
    def __init__(self, identifier: str, name: str, events: list[str]) -> None:
        self.id = identifier
        self.name = name
        self.events = events
        self.queue: deque[_Queued] = deque()
        self.next_calls = 0
        self.waiting = False
        self.last_next_arrival: float | None = None
        self.last_delivery: float = -1.0
        self.delivered_seq = 0  # set just before the response is written
        self.handed_seq = 0  # set once the response was written
        self.errored: str | None = None
        self.process: subprocess.Popen | None = None


def _iso(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _trace_header() -> str:
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=0"


class _Subscriber:
    """One telemetry subscription: a buffer and a delivery thread."""

    def __init__(self, sandbox: "LambdaSandbox", sub: Subscription) -> None:
        self.sandbox = sandbox
        self.sub = sub
        self.types = set(sub.types)
        self.timeout_s = sub.buffering["timeoutMs"] / 1000.0
        self.max_items = sub.buffering["maxItems"]
        self.max_bytes = sub.buffering["maxBytes"]
        parts = urlsplit(sub.destination["URI"])
        self.uri = sub.destination["URI"]
        self.netloc = parts.netloc
        self.host = sandbox.host_map.get(parts.hostname or "", parts.hostname or "")
        self.port = parts.port or 80
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.cond = threading.Condition()
        self.buffer: list[tuple[dict[str, Any], int]] = []
        self.buffer_bytes = 0
        self.first_at: float | None = None
        self.closed = False
        self.dropped = 0
        self.thread = threading.Thread(
            target=self._run, name=f"telemetry-{sub.extension_name}", daemon=True
        )

    def push(self, event: dict[str, Any]) -> None:
        size = len(json.dumps(event, separators=(",", ":")))
        with self.cond:
            if self.closed:
                return
            self.buffer.append((event, size))
            self.buffer_bytes += size
            if self.first_at is None:
                self.first_at = time.monotonic()
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _take_batch(self) -> list[dict[str, Any]] | None:
        with self.cond:
            while not self.closed and not self.buffer:
                self.cond.wait(0.5)
            if self.closed:
                return None
            # Deliver when timeoutMs passed since the first buffered event, or
            # when a size limit is reached.
            while not self.closed:
                waited = time.monotonic() - (self.first_at or time.monotonic())
                if (
                    waited >= self.timeout_s
                    or len(self.buffer) >= self.max_items
                    or self.buffer_bytes >= self.max_bytes
                ):
                    break
                self.cond.wait(self.timeout_s - waited)
            if self.closed:
                return None
            batch: list[dict[str, Any]] = []
            size = 0
            while self.buffer and len(batch) < self.max_items:
                ev, n = self.buffer[0]
                if batch and size + n > self.max_bytes:
                    break
                self.buffer.pop(0)
                self.buffer_bytes -= n
                batch.append(ev)
                size += n
            if not self.buffer:
                self.first_at = None
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            # Nothing is delivered while the sandbox is frozen.
            while not self.closed and not self.sandbox._thawed.wait(0.1):
                pass
            if self.closed:
                return
            self._deliver(batch)

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        sb = self.sandbox
        body = json.dumps(events).encode()
        attempts = 0
        status: int | None = None
        error: str | None = None
        ok = False
        for attempt in range(1 + sb.delivery_retries):
            if self.closed:
                break
            attempts += 1
            conn = http.client.HTTPConnection(self.host, self.port, timeout=sb.delivery_timeout_s)
            try:
                conn.request(
                    "POST",
                    self.path,
                    body=body,
                    headers={"Host": self.netloc, "Content-Type": "application/json"},
                )
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                if 200 <= status < 300:
                    ok = True
                    error = None
                    break
                error = f"HTTP {status}"
            except (OSError, http.client.HTTPException) as exc:
                status = None
                error = f"{type(exc).__name__}: {exc}"
            finally:
                conn.close()
            if attempt < sb.delivery_retries:
                with self.cond:
                    if self.closed:
                        break
                    self.cond.wait(sb.delivery_backoff_s * (2**attempt))
        if not ok:
            self.dropped += len(events)
        sb._record_delivery(
            TelemetryDelivery(
                extension_name=self.sub.extension_name,
                uri=self.uri,
                events=events,
                time=time.time(),
                monotonic=time.monotonic(),
                attempts=attempts,
                ok=ok,
                status=status,
                error=error,
            )
        )


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr, handler, sandbox: "LambdaSandbox") -> None:
        self.sandbox = sandbox
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(addr, handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LambdaSandboxEmulator/1.0"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; with Nagle the body would wait for the
        # client's delayed ACK (40 ms on Linux), a delay Lambda's API does not add.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.conn_lock:  # type: ignore[attr-defined]
            self.server.connections.add(self.connection)  # type: ignore[attr-defined]

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.conn_lock:  # type: ignore[attr-defined]
                self.server.connections.discard(self.connection)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self.server.sandbox._dispatch(self, "GET")  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        self.server.sandbox._dispatch(self, "POST")  # type: ignore[attr-defined]

    def do_PUT(self) -> None:
        self.server.sandbox._dispatch(self, "PUT")  # type: ignore[attr-defined]

    def do_DELETE(self) -> None:
        self.server.sandbox._dispatch(self, "DELETE")  # type: ignore[attr-defined]


def _read_body(h: http.server.BaseHTTPRequestHandler) -> bytes:
    if "chunked" in h.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        while True:
            line = h.rfile.readline(65537)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(h.rfile.read(size))
            h.rfile.readline(65537)
        return b"".join(chunks)
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length > 0 else b""


def _send(
    h: http.server.BaseHTTPRequestHandler,
    status: int,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> None:
    data = b"" if body is None else json.dumps(body).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    if data:
        h.wfile.write(data)
    h.wfile.flush()


def _err(message: str, error_type: str) -> dict[str, str]:
    return {"errorMessage": message, "errorType": error_type}


# --------------------------------------------------------------------------
# The sandbox
# --------------------------------------------------------------------------


class LambdaSandbox:
    """Emulates one Lambda execution environment for external extensions.

    Parameters (all keyword):
      function_name, function_version, handler_name, region, account_id,
      memory_size_mb: what registration answers and what goes into events.
      expected_extensions: the first invoke (end of Init) waits for this many
        registrations before it closes registration.
      init_timeout_s: bound on waiting for extensions to finish Init.
      late_report: deliver platform.report of invocation N only after the
        INVOKE of N+1 was handed out (or at shutdown). Default True, as real
        Lambda often does. invoke(late_report=...) overrides per call.
      host_map: host name -> address used when delivering telemetry.
        Default {"sandbox.localdomain": "127.0.0.1"}.
      allow_any_destination_host: accept destination hosts not in host_map.
      delivery_retries, delivery_backoff_s, delivery_timeout_s: a failed POST
        is retried this many times with exponential backoff, then its events
        are counted as dropped.
      freeze_processes: SIGSTOP attached processes while the sandbox is frozen
        (between invocations) and SIGCONT them on thaw; telemetry delivery
        also pauses while frozen.
      emit_lifecycle_events: also emit platform.extension on registration and
        platform.telemetrySubscription on subscription, as Lambda does.
      max_memory_used_mb: fixed value for platform.report; by default the peak
        RSS of attached processes plus runtime_memory_mb, capped at memory size.
      function_env: extra variables for extension_env()/spawn_extension().
      initialization_type: "on-demand" (default), "provisioned-concurrency" or
        "snap-start": what init events and AWS_LAMBDA_INITIALIZATION_TYPE say.
        With "snap-start", call restore() after Init (before the first invoke)
        to emit the restore events of a sandbox resumed from the snapshot.
      timeout_events: when a timed-out invocation's runtimeDone and report are
        emitted: "invoke" (default, at the timeout) or "shutdown" (only after
        the SHUTDOWN that resets the sandbox was handed out, as AWS may do).
    """

    def __init__(
        self,
        *,
        function_name: str = "gravel-test-function",
        function_version: str = "$LATEST",
        handler_name: str = "index.handler",
        region: str = "us-east-1",
        account_id: str = "123456789012",
        memory_size_mb: int = 128,
        runtime_version: str = "python:3.11.v1",
        expected_extensions: int = 0,
        init_timeout_s: float = 10.0,
        late_report: bool = True,
        host_map: dict[str, str] | None = None,
        allow_any_destination_host: bool = False,
        delivery_retries: int = 3,
        delivery_backoff_s: float = 0.05,
        delivery_timeout_s: float = 1.0,
        freeze_processes: bool = False,
        emit_lifecycle_events: bool = True,
        max_memory_used_mb: int | None = None,
        runtime_memory_mb: int = 30,
        function_env: dict[str, str] | None = None,
        bind_host: str = "127.0.0.1",
        initialization_type: str = "on-demand",
        timeout_events: str = "invoke",
    ) -> None:
        if initialization_type not in INITIALIZATION_TYPES:
            raise ValueError(f"initialization_type must be one of {INITIALIZATION_TYPES}")
        if timeout_events not in ("invoke", "shutdown"):
            raise ValueError('timeout_events must be "invoke" or "shutdown"')
        self.initialization_type = initialization_type
        self.timeout_events = timeout_events
        self._deferred_timeout_events: list[tuple[str, dict[str, Any]]] = []
        self._restored = False
        self._restore_duration_ms = 0.0
        self._runtime_init_done = False
        self.function_name = function_name
        self.function_version = function_version
        self.handler_name = handler_name
        self.region = region
        self.account_id = account_id
        self.memory_size_mb = memory_size_mb
        self.runtime_version = runtime_version
        self.expected_extensions = expected_extensions
        self.init_timeout_s = init_timeout_s
        self.late_report = late_report
        self.host_map = dict(host_map or {"sandbox.localdomain": "127.0.0.1"})
        self.allow_any_destination_host = allow_any_destination_host
        self.delivery_retries = delivery_retries
        self.delivery_backoff_s = delivery_backoff_s
        self.delivery_timeout_s = delivery_timeout_s
        self.freeze_processes = freeze_processes
        self.emit_lifecycle_events = emit_lifecycle_events
        self.max_memory_used_mb = max_memory_used_mb
        self.runtime_memory_mb = runtime_memory_mb
        self.function_env = dict(function_env or {})
        self.bind_host = bind_host

        self._cond = threading.Condition()  # extension + lifecycle state
        self._tlock = threading.Lock()  # telemetry log + subscribers
        self._invoke_lock = threading.Lock()  # one invoke/shutdown at a time
        self._thawed = threading.Event()
        self._thawed.set()

        self._extensions: dict[str, _Extension] = {}
        self._registrations: list[Registration] = []
        self._subscriptions: list[Subscription] = []
        self._subscribers: dict[str, _Subscriber] = {}
        self._errors: list[RecordedError] = []
        self._deliveries: list[TelemetryDelivery] = []
        self._telemetry_log: list[tuple[str, dict[str, Any]]] = []
        self._requests: list[dict[str, Any]] = []
        self._processes: list[tuple[subprocess.Popen, str | None]] = []
        self._invocations: list[InvocationResult] = []
        self._pending_report: dict[str, Any] | None = None
        self._event_seq = 0

        self._server: _Server | None = None
        self._server_thread: threading.Thread | None = None
        self._started = False
        self._stopping = False
        self._init_done = False
        self._init_duration_ms: float | None = None
        self._cold = True
        self._shut_down = False
        self._frozen = False
        self._t_start = 0.0

    # ------------------------------------------------------------ lifecycle

    def start(self) -> "LambdaSandbox":
        """Bind 127.0.0.1:<free port>, serve the APIs and begin Init."""
        if self._started:
            return self
        self._server = _Server((self.bind_host, 0), _Handler, self)
        self._server_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="lambda-sandbox-api",
            daemon=True,
        )
        self._server_thread.start()
        self._started = True
        self._t_start = time.monotonic()
        self._emit(
            "platform.initStart",
            {
                "initializationType": self.initialization_type,
                "phase": "init",
                "runtimeVersion": self.runtime_version,
                "runtimeVersionArn": (
                    f"arn:aws:lambda:{self.region}::runtime:{secrets.token_hex(32)}"
                ),
                "functionName": self.function_name,
                "functionVersion": self.function_version,
            },
        )
        return self

    def stop(self, kill_timeout_s: float = 3.0) -> None:
        """Stop serving, stop telemetry, SIGKILL attached processes still alive."""
        if not self._started or self._stopping:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thawed.set()
        with self._tlock:
            subs = list(self._subscribers.values())
        for s in subs:
            s.close()
        for proc, _ in list(self._processes):
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGCONT)
                    proc.kill()
                except ProcessLookupError:
                    pass
        for proc, _ in list(self._processes):
            try:
                proc.wait(timeout=kill_timeout_s)
            except subprocess.TimeoutExpired:
                pass
        assert self._server is not None
        self._server.shutdown()
        with self._server.conn_lock:
            conns = list(self._server.connections)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        if self._server_thread is not None:
            self._server_thread.join(timeout=2.0)
        for s in subs:
            s.thread.join(timeout=2.0)

    def __enter__(self) -> "LambdaSandbox":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        self._require_started()
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def runtime_api(self) -> str:
        """Value for AWS_LAMBDA_RUNTIME_API: "127.0.0.1:<port>"."""
        return f"{self.bind_host}:{self.port}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    def extension_env(self, extra: dict[str, str] | None = None, inherit: bool = True) -> dict[str, str]:
        """The environment Lambda gives an extension process."""
        env = dict(os.environ) if inherit else {}
        for k in HIDDEN_FROM_EXTENSIONS:
            env.pop(k, None)
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": self.runtime_api,
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": self.function_version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_size_mb),
                "AWS_LAMBDA_INITIALIZATION_TYPE": self.initialization_type,
            }
        )
        env.update(self.function_env)
        env.update(extra or {})
        return env

    # ------------------------------------------------------------ processes

    def attach_process(self, proc: subprocess.Popen, name: str | None = None) -> None:
        """Hand over an extension process so shutdown can wait for/kill it.

        `name` is its Lambda-Extension-Name; it ties the process to the
        registration (so a crash ends the freeze wait). With one unnamed
        process and one extension they are tied automatically.
        """
        self._processes.append((proc, name))
        with self._cond:
            self._link_processes_locked()

    def spawn_extension(
        self,
        argv: list[str],
        *,
        name: str | None = None,
        env: dict[str, str] | None = None,
        log_path: str | os.PathLike | None = None,
        cwd: str | None = None,
    ) -> subprocess.Popen:
        """Start an extension like Lambda does (its env from extension_env) and attach it."""
        self._require_started()
        out = None
        if log_path is not None:
            out = open(log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            proc = subprocess.Popen(
                argv,
                env=self.extension_env(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                cwd=cwd,
            )
        finally:
            if out is not None:
                out.close()
        self.attach_process(proc, name)
        return proc

    def _link_processes_locked(self) -> None:
        for proc, name in self._processes:
            if name is None:
                continue
            for ext in self._extensions.values():
                if ext.name == name and ext.process is None:
                    ext.process = proc
        unnamed = [p for p, n in self._processes if n is None]
        unlinked = [e for e in self._extensions.values() if e.process is None]
        if len(unnamed) == 1 and len(unlinked) == 1 and len(self._extensions) == 1:
            unlinked[0].process = unnamed[0]

    def _process_name(self, proc: subprocess.Popen, name: str | None) -> str | None:
        if name is not None:
            return name
        with self._cond:
            for ext in self._extensions.values():
                if ext.process is proc:
                    return ext.name
        return None

    # ------------------------------------------------------------ waiting

    def wait_for_registration(self, n: int = 1, timeout: float = 5.0) -> list[Registration]:
        """Wait until at least n extensions registered; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._registrations) < n:
                self._check_processes_alive_for_wait("registration")
                rem = deadline - time.monotonic()
                if rem <= 0:
                    raise TimeoutError(
                        f"{len(self._registrations)} of {n} extensions registered after {timeout}s"
                    )
                self._cond.wait(min(rem, 0.05))
            return list(self._registrations)

    def wait_for_subscription(self, n: int = 1, timeout: float = 5.0) -> list[Subscription]:
        """Wait until at least n telemetry subscriptions were accepted."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._subscriptions) < n:
                self._check_processes_alive_for_wait("subscription")
                rem = deadline - time.monotonic()
                if rem <= 0:
                    raise TimeoutError(
                        f"{len(self._subscriptions)} of {n} telemetry subscriptions after {timeout}s"
                    )
                self._cond.wait(min(rem, 0.05))
            return list(self._subscriptions)

    def _check_processes_alive_for_wait(self, what: str) -> None:
        if self._processes and all(p.poll() is not None for p, _ in self._processes):
            codes = [p.returncode for p, _ in self._processes]
            raise SandboxError(f"every attached process exited (codes {codes}) while waiting for {what}")

    def runtime_init_done(self, status: str = "success") -> None:
        """The runtime finished its Init (the function's init code ran): emit
        platform.initRuntimeDone now. Extensions may still be initialising;
        finish_init() ends the phase. finish_init() calls this if no one did."""
        self._require_started()
        with self._cond:
            if self._runtime_init_done:
                return
            self._runtime_init_done = True
        self._emit(
            "platform.initRuntimeDone",
            {"initializationType": self.initialization_type, "phase": "init", "status": status},
        )

    def finish_init(self, timeout: float | None = None) -> float:
        """End the Init phase: emit initRuntimeDone (unless runtime_init_done()
        did), wait for expected registrations and for every registered
        extension to block in /next, then emit initReport and close
        registration. Returns the init duration in ms. invoke() calls this on
        its first use."""
        self._require_started()
        if self._init_done:
            return self._init_duration_ms or 0.0
        self.runtime_init_done()
        timeout = self.init_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                exts = list(self._extensions.values())
                enough = len(exts) >= self.expected_extensions
                ready = all(
                    e.next_calls > 0 or e.errored or (e.process is not None and e.process.poll() is not None)
                    for e in exts
                )
                if enough and ready:
                    break
                rem = deadline - time.monotonic()
                if rem <= 0:
                    waiting = [e.name for e in exts if e.next_calls == 0 and not e.errored]
                    raise TimeoutError(
                        f"Init not complete after {timeout}s: {len(exts)}/{self.expected_extensions} "
                        f"registered, not yet in /next: {waiting}"
                    )
                self._cond.wait(min(rem, 0.05))
            self._init_done = True
            self._init_duration_ms = (time.monotonic() - self._t_start) * 1000.0
            init_status = "error" if any(e.kind == "init" for e in self._errors) else "success"
        self._emit(
            "platform.initReport",
            {
                "initializationType": self.initialization_type,
                "phase": "init",
                "status": init_status,
                "metrics": {"durationMs": round(self._init_duration_ms, 3)},
            },
        )
        self._freeze()
        return self._init_duration_ms

    def restore(self, duration_ms: float = 180.0) -> None:
        """SnapStart: the sandbox resumes from the snapshot taken after Init.
        Emits platform.restoreStart, restoreRuntimeDone and restoreReport
        (durationMs), as a restored sandbox's telemetry shows before its first
        invoke. Needs initialization_type="snap-start"; ends Init first."""
        if self.initialization_type != "snap-start":
            raise SandboxError('restore() needs initialization_type="snap-start"')
        self._require_started()
        with self._invoke_lock:
            if not self._init_done:
                self.finish_init()
            if self._restored:
                raise SandboxError("already restored")
            self._restored = True
            self._restore_duration_ms = duration_ms
            self._thaw()
            self._emit(
                "platform.restoreStart",
                {"runtimeVersion": self.runtime_version, "functionName": self.function_name,
                 "functionVersion": self.function_version},
            )
            self._emit("platform.restoreRuntimeDone", {"status": "success"})
            self._emit("platform.restoreReport", {"status": "success", "metrics": {"durationMs": duration_ms}})
            self._freeze()

    def wait_for_event(
        self,
        type_: str,
        request_id: str | None = None,
        extension: str | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Wait until a telemetry event of this type (and requestId) was delivered."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self._delivered_locked(extension):
                    if ev.get("type") != type_:
                        continue
                    rec = ev.get("record")
                    if request_id is None or (isinstance(rec, dict) and rec.get("requestId") == request_id):
                        return ev
                rem = deadline - time.monotonic()
                if rem <= 0:
                    raise TimeoutError(f"no {type_} (requestId={request_id}) delivered in {timeout}s")
                self._cond.wait(min(rem, 0.05))

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.02) -> None:
        """Poll predicate until true; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met in {timeout}s")
            time.sleep(interval)

    # ------------------------------------------------------------ invoke

    def invoke(
        self,
        handler: Callable[[InvocationContext], Any] | None = None,
        request_id: str | None = None,
        timeout_s: float = 3.0,
        status: str = "success",
        *,
        error_type: str | None = None,
        payload: Any = None,
        late_report: bool | None = None,
        drop_runtime_done: bool = False,
    ) -> InvocationResult:
        """Run one invocation: INVOKE to extensions, handler, runtimeDone,
        then wait (bounded by timeout_s from the start) until every INVOKE
        extension is back in /next.

        `status` forces the runtimeDone status for a handler that returns
        normally (to simulate "error", "failure", "timeout"); a handler that
        raises gives "error", one that overruns timeout_s gives "timeout".

        The report's durationMs runs from the INVOKE hand-out to the freeze, so
        it includes the extensions' post-runtime time, as on AWS. After a
        timed-out invoke AWS resets the sandbox; do the same with
        shutdown(reason="timeout") and a new LambdaSandbox.

        `drop_runtime_done` emits no platform.runtimeDone for this invocation
        (lost telemetry); the report still follows.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        self._require_started()
        with self._invoke_lock:
            if self._shut_down:
                raise SandboxError("the sandbox was shut down; start a new one")
            if not self._init_done:
                self.finish_init()
            late = self.late_report if late_report is None else late_report
            request_id = request_id or str(uuid.uuid4())
            self._thaw()

            t0 = time.monotonic()
            wall0 = time.time()
            deadline_ms = int(wall0 * 1000 + timeout_s * 1000)
            deadline = t0 + timeout_s
            trace = _trace_header()
            event = {
                "eventType": "INVOKE",
                "deadlineMs": deadline_ms,
                "requestId": request_id,
                "invokedFunctionArn": self.invoked_function_arn,
                "tracing": {"type": "X-Amzn-Trace-Id", "value": trace},
            }
            with self._cond:
                participants = [
                    e for e in self._extensions.values() if "INVOKE" in e.events and self._alive_locked(e)
                ]
                seqs = {e.id: self._queue_locked(e, event) for e in participants}
            tracing = {"spanId": secrets.token_hex(8), "type": "X-Amzn-Trace-Id", "value": trace}
            self._emit(
                "platform.start",
                {"requestId": request_id, "version": self.function_version, "tracing": tracing},
                when=wall0,
            )
            if self._pending_report is not None:
                # The previous report goes out only once this INVOKE was handed out.
                self._wait_handed_out(participants, seqs, min(deadline, time.monotonic() + 1.0))
                pending, self._pending_report = self._pending_report, None
                self._emit("platform.report", pending["record"], when=pending["time"])

            ctx = InvocationContext(
                request_id=request_id,
                deadline_ms=deadline_ms,
                invoked_function_arn=self.invoked_function_arn,
                function_name=self.function_name,
                function_version=self.function_version,
                memory_limit_in_mb=self.memory_size_mb,
                trace_header=trace,
                payload=payload,
            )
            h_result, h_exc, h_timed_out = self._run_handler(handler, ctx, deadline)
            t_rd = time.monotonic()
            wall_rd = time.time()
            handler_ms = (t_rd - t0) * 1000.0

            rt_status, rt_error = status, error_type
            if h_timed_out:
                rt_status, rt_error = "timeout", "Sandbox.Timedout"
            elif h_exc is not None:
                rt_status, rt_error = "error", error_type or f"Runtime.{type(h_exc).__name__}"
            elif rt_status != "success" and rt_error is None:
                rt_error = {"error": "Runtime.Error", "failure": "Runtime.ExitError", "timeout": "Sandbox.Timedout"}[
                    rt_status
                ]
            rd_record: dict[str, Any] = {"requestId": request_id, "status": rt_status}
            if rt_error is not None and rt_status != "success":
                rd_record["errorType"] = rt_error
            rd_record["metrics"] = {
                "durationMs": round(handler_ms, 3),
                "producedBytes": self._produced_bytes(h_result),
            }
            rd_record["spans"] = [
                {"name": "responseLatency", "start": _iso(wall_rd), "durationMs": 0.0},
                {"name": "responseDuration", "start": _iso(wall_rd), "durationMs": 0.0},
            ]
            rd_record["tracing"] = tracing
            defer_timeout = h_timed_out and self.timeout_events == "shutdown"
            if defer_timeout:
                self._deferred_timeout_events.append(("platform.runtimeDone", rd_record))
            elif not drop_runtime_done:
                self._emit("platform.runtimeDone", rd_record, when=wall_rd)

            back, not_back, crashed = self._wait_back_in_next(participants, seqs, deadline)
            timed_out = h_timed_out or bool(not_back)
            t_frozen: float | None
            if timed_out:
                t_frozen = None
                end = max(time.monotonic(), t_rd)
                post_ms: float | None = (end - t_rd) * 1000.0
            else:
                t_frozen = max(back.values()) if back else t_rd
                end = max(t_frozen, t_rd)
                post_ms = (end - t_rd) * 1000.0
            duration_ms = (end - t0) * 1000.0

            report_status = "timeout" if timed_out else rt_status
            metrics: dict[str, Any] = {
                "durationMs": round(duration_ms, 3),
                "billedDurationMs": max(1, math.ceil(duration_ms)),
                "memorySizeMB": self.memory_size_mb,
                "maxMemoryUsedMB": self._max_memory_used(),
            }
            init_ms = None
            if self._cold and self._restored:
                # A restored sandbox's first report gives the restore, not the snapshot's init.
                metrics["restoreDurationMs"] = self._restore_duration_ms
                self._cold = False
            elif self._cold and self.initialization_type == "on-demand":
                init_ms = self._init_duration_ms
                if init_ms is not None:
                    metrics["initDurationMs"] = round(init_ms, 3)
                self._cold = False
            report: dict[str, Any] = {"requestId": request_id, "status": report_status}
            if report_status != "success":
                report["errorType"] = "Sandbox.Timedout" if timed_out else (rt_error or "Runtime.Error")
            report["metrics"] = metrics
            report["tracing"] = tracing
            if defer_timeout:
                self._deferred_timeout_events.append(("platform.report", report))
            elif late:
                self._pending_report = {"record": report, "time": time.time()}
            else:
                self._emit("platform.report", report)

            result = InvocationResult(
                request_id=request_id,
                status=rt_status,
                report_status=report_status,
                error_type=rt_error if rt_status != "success" else None,
                handler_result=h_result,
                handler_exception=h_exc,
                handler_duration_ms=handler_ms,
                post_runtime_ms=post_ms,
                timed_out=timed_out,
                duration_ms=duration_ms,
                billed_duration_ms=metrics["billedDurationMs"],
                init_duration_ms=init_ms,
                deadline_ms=deadline_ms,
                extensions_waited=[e.name for e in participants],
                extensions_not_back=[e.name for e in not_back],
                crashed_extensions=[e.name for e in crashed],
                report=report,
                late_report=late,
                t_start=t0,
                t_runtime_done=t_rd,
                t_frozen=t_frozen,
            )
            self._invocations.append(result)
            if not timed_out:
                self._freeze()
            return result

    def _run_handler(
        self, handler: Callable[[InvocationContext], Any] | None, ctx: InvocationContext, deadline: float
    ) -> tuple[Any, BaseException | None, bool]:
        if handler is None:
            return None, None, False
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["result"] = handler(ctx)
            except BaseException as exc:  # noqa: BLE001 - reported, not swallowed
                box["exc"] = exc

        t = threading.Thread(target=run, name=f"handler-{ctx.request_id}", daemon=True)
        t.start()
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            return None, None, True
        return box.get("result"), box.get("exc"), False

    @staticmethod
    def _produced_bytes(result: Any) -> int:
        if result is None:
            return 0
        if isinstance(result, (bytes, bytearray)):
            return len(result)
        if isinstance(result, str):
            return len(result.encode())
        try:
            return len(json.dumps(result).encode())
        except (TypeError, ValueError):
            return len(repr(result).encode())

    def _max_memory_used(self) -> int:
        if self.max_memory_used_mb is not None:
            return self.max_memory_used_mb
        kb = 0
        for proc, _ in self._processes:
            try:
                with open(f"/proc/{proc.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            kb += int(line.split()[1])
            except (OSError, ValueError):
                pass
        return min(self.memory_size_mb, self.runtime_memory_mb + math.ceil(kb / 1024))

    # ------------------------------------------------------------ shutdown

    def shutdown(self, reason: str = "spindown", deadline_ms: int = 2000) -> ShutdownResult:
        """Send SHUTDOWN to extensions registered for it, wait for attached
        processes to exit until the deadline, then SIGKILL the rest.

        `reason` is sent as given (AWS docs show both SPINDOWN and spindown).
        Without attached processes it waits until every notified extension
        read SHUTDOWN and called /next again, or the deadline.
        """
        self._require_started()
        with self._invoke_lock:
            if self._shut_down:
                raise SandboxError("already shut down")
            if not self._init_done:
                try:
                    self.finish_init(timeout=min(self.init_timeout_s, deadline_ms / 1000.0))
                except TimeoutError:
                    with self._cond:
                        self._init_done = True
            self._thaw()
            if self._pending_report is not None:
                pending, self._pending_report = self._pending_report, None
                self._emit("platform.report", pending["record"], when=pending["time"])
            t0 = time.monotonic()
            deadline_abs_ms = int(time.time() * 1000) + deadline_ms
            end = t0 + deadline_ms / 1000.0
            event = {"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline_abs_ms}
            with self._cond:
                self._shut_down = True
                targets = [
                    e for e in self._extensions.values() if "SHUTDOWN" in e.events and not e.errored
                ]
                seqs = {e.id: self._queue_locked(e, event) for e in targets}
            if self._deferred_timeout_events:
                # A timed-out invocation's events, reported only during the Shutdown phase.
                self._wait_handed_out(targets, seqs, min(end, time.monotonic() + 1.0))
                time.sleep(0.05)
                for type_, record in self._deferred_timeout_events:
                    self._emit(type_, record)
                self._deferred_timeout_events.clear()
            procs = list(self._processes)
            if procs:
                while time.monotonic() < end and any(p.poll() is None for p, _ in procs):
                    time.sleep(0.01)
                met = all(p.poll() is not None for p, _ in procs)
            else:
                _, not_back, _ = self._wait_back_in_next(targets, seqs, end)
                met = not not_back
            duration_ms = (time.monotonic() - t0) * 1000.0
            outcomes: list[ProcessOutcome] = []
            for proc, name in procs:
                killed = False
                if proc.poll() is None:
                    killed = True
                    try:
                        proc.kill()
                    except ProcessLookupError:
                        pass
                try:
                    proc.wait(timeout=3.0)
                except subprocess.TimeoutExpired:
                    pass
                outcomes.append(
                    ProcessOutcome(
                        pid=proc.pid,
                        name=self._process_name(proc, name),
                        exit_code=proc.returncode,
                        killed=killed,
                    )
                )
            with self._cond:
                acked = [e.name for e in targets if e.delivered_seq >= seqs[e.id]]
            return ShutdownResult(
                reason=reason,
                deadline_ms=deadline_abs_ms,
                deadline_met=met,
                duration_ms=duration_ms,
                notified=[e.name for e in targets],
                acknowledged=acked,
                processes=outcomes,
            )

    # ------------------------------------------------------------ records

    @property
    def registrations(self) -> list[Registration]:
        with self._cond:
            return list(self._registrations)

    @property
    def subscriptions(self) -> list[Subscription]:
        with self._cond:
            return list(self._subscriptions)

    @property
    def errors(self) -> list[RecordedError]:
        """init/error and exit/error calls, in order."""
        with self._cond:
            return list(self._errors)

    @property
    def init_errors(self) -> list[RecordedError]:
        return [e for e in self.errors if e.kind == "init"]

    @property
    def exit_errors(self) -> list[RecordedError]:
        return [e for e in self.errors if e.kind == "exit"]

    @property
    def deliveries(self) -> list[TelemetryDelivery]:
        """Every telemetry POST batch (successful or dropped), in order."""
        with self._cond:
            return list(self._deliveries)

    def delivered_events(self, extension: str | None = None) -> list[dict[str, Any]]:
        """Events successfully delivered (to one extension's listener, if named)."""
        with self._cond:
            return self._delivered_locked(extension)

    def _delivered_locked(self, extension: str | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for d in self._deliveries:
            if d.ok and (extension is None or d.extension_name == extension):
                out.extend(d.events)
        return out

    @property
    def dropped_events(self) -> int:
        with self._tlock:
            return sum(s.dropped for s in self._subscribers.values())

    @property
    def emitted_events(self) -> list[dict[str, Any]]:
        """Every telemetry event the platform produced, delivered or not."""
        with self._tlock:
            return [ev for _, ev in self._telemetry_log]

    @property
    def invocations(self) -> list[InvocationResult]:
        return list(self._invocations)

    @property
    def post_runtime_durations_ms(self) -> list[float | None]:
        return [r.post_runtime_ms for r in self._invocations]

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every API request: method, path, extension name, status, time."""
        with self._cond:
            return list(self._requests)

    @property
    def init_done(self) -> bool:
        return self._init_done

    @property
    def frozen(self) -> bool:
        return self._frozen

    def emit_log(self, line: str, type_: str = "function") -> None:
        """Emit a `function` or `extension` log line to subscribers of that type."""
        if type_ not in ("function", "extension"):
            raise ValueError("type_ must be 'function' or 'extension'")
        self._emit(type_, line, category=type_)

    # ------------------------------------------------------------ internals

    def _require_started(self) -> None:
        if not self._started:
            raise SandboxError("call start() first")
        if self._stopping:
            raise SandboxError("the sandbox is stopped")

    def _alive_locked(self, e: _Extension) -> bool:
        return not e.errored and (e.process is None or e.process.poll() is None)

    def _queue_locked(self, e: _Extension, payload: dict[str, Any]) -> int:
        self._event_seq += 1
        e.queue.append(_Queued(self._event_seq, str(uuid.uuid4()), payload))
        self._cond.notify_all()
        return self._event_seq

    def _wait_handed_out(self, participants: list[_Extension], seqs: dict[str, int], deadline: float) -> None:
        with self._cond:
            while any(e.handed_seq < seqs[e.id] and self._alive_locked(e) for e in participants):
                rem = deadline - time.monotonic()
                if rem <= 0:
                    return
                self._cond.wait(min(rem, 0.05))

    def _wait_back_in_next(
        self, participants: list[_Extension], seqs: dict[str, int], deadline: float
    ) -> tuple[dict[str, float], list[_Extension], list[_Extension]]:
        back: dict[str, float] = {}
        crashed: list[_Extension] = []
        with self._cond:
            while True:
                pending: list[_Extension] = []
                for e in participants:
                    if e.id in back or e in crashed:
                        continue
                    if (
                        e.delivered_seq >= seqs[e.id]
                        and e.last_next_arrival is not None
                        and e.last_next_arrival > e.last_delivery
                    ):
                        back[e.id] = e.last_next_arrival
                    elif e.errored or (e.process is not None and e.process.poll() is not None):
                        crashed.append(e)
                    else:
                        pending.append(e)
                if not pending:
                    return back, [], crashed
                rem = deadline - time.monotonic()
                if rem <= 0:
                    return back, pending, crashed
                self._cond.wait(min(rem, 0.02))

    def _freeze(self) -> None:
        self._frozen = True
        if not self.freeze_processes:
            return
        self._thawed.clear()
        for proc, _ in self._processes:
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGSTOP)
                except ProcessLookupError:
                    pass

    def _thaw(self) -> None:
        self._frozen = False
        if self.freeze_processes:
            for proc, _ in self._processes:
                if proc.poll() is None:
                    try:
                        os.kill(proc.pid, signal.SIGCONT)
                    except ProcessLookupError:
                        pass
        self._thawed.set()

    def _emit(
        self, type_: str, record: Any, category: str = "platform", when: float | None = None
    ) -> dict[str, Any]:
        event = {"time": _iso(time.time() if when is None else when), "type": type_, "record": record}
        with self._tlock:
            self._telemetry_log.append((category, event))
            for s in self._subscribers.values():
                if category in s.types:
                    s.push(event)
        return event

    def _record_delivery(self, d: TelemetryDelivery) -> None:
        with self._cond:
            self._deliveries.append(d)
            self._cond.notify_all()

    def _log_request(self, method: str, path: str, ext: _Extension | None, status: int) -> None:
        with self._cond:
            self._requests.append(
                {
                    "method": method,
                    "path": path,
                    "extension": ext.name if ext else None,
                    "status": status,
                    "time": time.time(),
                }
            )

    # ------------------------------------------------------------ HTTP

    def _dispatch(self, h: _Handler, method: str) -> None:
        path = h.path.split("?", 1)[0].rstrip("/") or "/"
        routes: dict[str, dict[str, Callable[[_Handler], int]]] = {
            f"{EXTENSION_PREFIX}/register": {"POST": self._h_register},
            f"{EXTENSION_PREFIX}/event/next": {"GET": self._h_next},
            f"{EXTENSION_PREFIX}/init/error": {"POST": lambda x: self._h_error(x, "init")},
            f"{EXTENSION_PREFIX}/exit/error": {"POST": lambda x: self._h_error(x, "exit")},
            TELEMETRY_PATH: {"PUT": self._h_telemetry},
        }
        try:
            if path not in routes:
                _read_body(h)
                _send(h, 404, _err(f"no route {method} {path}", "InvalidRequest"))
                self._log_request(method, path, None, 404)
                return
            fn = routes[path].get(method)
            if fn is None:
                _read_body(h)
                _send(h, 405, _err(f"method {method} not allowed on {path}", "MethodNotAllowed"))
                self._log_request(method, path, None, 405)
                return
            fn(h)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a bug here must not hang the client
            h.close_connection = True
            try:
                _send(h, 500, _err(f"emulator error: {exc!r}", "Emulator.InternalError"))
            except OSError:
                pass

    def _identify(self, h: _Handler, method: str, path: str) -> _Extension | None:
        ident = h.headers.get(H_ID)
        if not ident:
            _send(h, 403, _err(f"missing {H_ID} header", "Extension.MissingExtensionIdentifier"))
            self._log_request(method, path, None, 403)
            return None
        with self._cond:
            ext = self._extensions.get(ident.strip())
        if ext is None:
            _send(h, 403, _err(f"unknown extension identifier {ident!r}", "Extension.InvalidExtensionIdentifier"))
            self._log_request(method, path, None, 403)
            return None
        if ext.errored:
            _send(
                h,
                403,
                _err(f"extension {ext.name} reported {ext.errored}; no further calls succeed", "Extension.Errored"),
            )
            self._log_request(method, path, ext, 403)
            return None
        return ext

    def _h_register(self, h: _Handler) -> int:
        path = f"{EXTENSION_PREFIX}/register"
        raw = _read_body(h)
        name = (h.headers.get(H_NAME) or "").strip()

        def fail(status: int, msg: str, etype: str) -> int:
            _send(h, status, _err(msg, etype))
            self._log_request("POST", path, None, status)
            return status

        if not name:
            return fail(400, f"missing {H_NAME} header", "Extension.InvalidExtensionName")
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return fail(400, "register body is not JSON", "InvalidRequestFormat")
        if not isinstance(body, dict):
            return fail(400, "register body must be a JSON object", "InvalidRequestFormat")
        events = body.get("events", [])
        if not isinstance(events, list) or any(ev not in EVENT_TYPES for ev in events):
            return fail(400, f"events must be a list drawn from {list(EVENT_TYPES)}, got {events!r}", "InvalidEventType")
        features = [f.strip() for f in (h.headers.get(H_ACCEPT_FEATURE) or "").split(",") if f.strip()]
        with self._cond:
            if self._init_done:
                status, msg, etype = 403, "registration is only allowed during Init", "Extension.RegistrationNotAllowed"
            elif any(e.name == name for e in self._extensions.values()):
                status, msg, etype = 400, f"extension {name!r} is already registered", "Extension.AlreadyRegistered"
            elif len(self._extensions) >= MAX_EXTENSIONS:
                status, msg, etype = 400, f"at most {MAX_EXTENSIONS} extensions", "Extension.TooManyExtensions"
            else:
                status = 200
                ident = str(uuid.uuid4())
                ext = _Extension(ident, name, list(events))
                self._extensions[ident] = ext
                reg = Registration(ident, name, list(events), time.time(), features)
                self._registrations.append(reg)
                self._link_processes_locked()
                self._cond.notify_all()
        if status != 200:
            return fail(status, msg, etype)
        resp: dict[str, Any] = {
            "functionName": self.function_name,
            "functionVersion": self.function_version,
            "handler": self.handler_name,
        }
        if "accountId" in features:
            resp["accountId"] = self.account_id
        _send(h, 200, resp, {H_ID: ident})
        self._log_request("POST", path, ext, 200)
        if self.emit_lifecycle_events:
            self._emit("platform.extension", {"name": name, "state": "Ready", "events": list(events)})
        return 200

    def _h_next(self, h: _Handler) -> int:
        path = f"{EXTENSION_PREFIX}/event/next"
        _read_body(h)
        ext = self._identify(h, "GET", path)
        if ext is None:
            return 403
        with self._cond:
            ext.next_calls += 1
            ext.last_next_arrival = time.monotonic()
            ext.waiting = True
            self._cond.notify_all()
            while not ext.queue and not self._stopping:
                self._cond.wait(0.5)
            ext.waiting = False
            if self._stopping:
                item = None
            else:
                item = ext.queue.popleft()
                prev = (ext.delivered_seq, ext.last_delivery)
                ext.delivered_seq = item.seq
                ext.last_delivery = time.monotonic()
                self._cond.notify_all()
        if item is None:
            h.close_connection = True
            _send(h, 500, _err("the sandbox is stopping", "Emulator.Stopped"))
            self._log_request("GET", path, ext, 500)
            return 500
        try:
            _send(h, 200, item.payload, {H_EVENT_ID: item.event_id, H_ID: ext.id})
        except OSError:
            with self._cond:
                ext.queue.appendleft(item)
                ext.delivered_seq, ext.last_delivery = prev
                self._cond.notify_all()
            raise
        with self._cond:
            ext.handed_seq = max(ext.handed_seq, item.seq)
            self._cond.notify_all()
        self._log_request("GET", path, ext, 200)
        return 200

    def _h_error(self, h: _Handler, kind: str) -> int:
        path = f"{EXTENSION_PREFIX}/{kind}/error"
        raw = _read_body(h)
        ext = self._identify(h, "POST", path)
        if ext is None:
            return 403
        etype = (h.headers.get(H_ERROR_TYPE) or "").strip()
        if not etype:
            _send(h, 400, _err(f"missing {H_ERROR_TYPE} header", "InvalidRequestFormat"))
            self._log_request("POST", path, ext, 400)
            return 400
        body: Any = None
        if raw.strip():
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                body = raw.decode("utf-8", "replace")
        with self._cond:
            self._errors.append(RecordedError(kind, ext.id, ext.name, etype, body, time.time()))
            ext.errored = f"{kind}/error {etype}"
            self._cond.notify_all()
        _send(h, 202, {"status": "OK"}, {H_ID: ext.id})
        self._log_request("POST", path, ext, 202)
        return 202

    def _h_telemetry(self, h: _Handler) -> int:
        path = TELEMETRY_PATH
        raw = _read_body(h)
        ext = self._identify(h, "PUT", path)
        if ext is None:
            return 403

        def invalid(msg: str) -> int:
            _send(h, 400, _err(msg, "ValidationError"))
            self._log_request("PUT", path, ext, 400)
            return 400

        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return invalid("request body is not JSON")
        if not isinstance(body, dict):
            return invalid("request body must be a JSON object")
        problems: list[str] = []
        schema = body.get("schemaVersion")
        if schema not in SCHEMA_VERSIONS:
            problems.append(f"schemaVersion must be one of {list(SCHEMA_VERSIONS)}, got {schema!r}")
        types = body.get("types")
        if not isinstance(types, list) or not types:
            problems.append("types should not be empty")
        elif any(t not in TELEMETRY_TYPES for t in types):
            problems.append(f"types must be drawn from {list(TELEMETRY_TYPES)}, got {types!r}")
        buffering = dict(BUFFERING_DEFAULTS)
        b = body.get("buffering", {})
        if b is None:
            b = {}
        if not isinstance(b, dict):
            problems.append("buffering must be an object")
        else:
            for key, val in b.items():
                if key not in BUFFERING_LIMITS:
                    problems.append(f"unknown buffering key {key!r}")
                    continue
                lo, hi = BUFFERING_LIMITS[key]
                if not isinstance(val, int) or isinstance(val, bool) or not lo <= val <= hi:
                    problems.append(f"buffering.{key} must be an integer in [{lo}, {hi}], got {val!r}")
                else:
                    buffering[key] = val
        dest = body.get("destination")
        if not isinstance(dest, dict):
            problems.append("destination is required")
        else:
            proto = dest.get("protocol")
            uri = dest.get("URI")
            if proto == "TCP":
                problems.append("destination.protocol TCP is valid in AWS but not supported by this emulator")
            elif proto != "HTTP":
                problems.append(f"destination.protocol must be HTTP or TCP, got {proto!r}")
            if not isinstance(uri, str) or not uri:
                problems.append("destination.URI is required")
            else:
                try:
                    parts = urlsplit(uri)
                    port = parts.port
                except ValueError as exc:
                    problems.append(f"destination.URI is invalid: {exc}")
                else:
                    if parts.scheme != "http":
                        problems.append(f"destination.URI must use http (Lambda supports only HTTP), got {uri!r}")
                    if not parts.hostname:
                        problems.append("destination.URI host is not provided")
                    elif parts.hostname not in self.host_map and not self.allow_any_destination_host:
                        problems.append(
                            f"destination.URI host {parts.hostname!r} is not inside the execution environment "
                            f"(use one of {sorted(self.host_map)})"
                        )
                    if port is None:
                        problems.append("URI port is not provided")
                    elif port == RESERVED_PORT:
                        problems.append(f"URI port {RESERVED_PORT} is reserved by Lambda")
        if problems:
            return invalid("; ".join(problems))
        assert isinstance(dest, dict) and isinstance(types, list)
        with self._cond:
            during_init = not self._init_done
        sub = Subscription(
            identifier=ext.id,
            extension_name=ext.name,
            schema_version=str(schema),
            types=list(types),
            buffering=buffering,
            destination=dict(dest),
            time=time.time(),
            during_init=during_init,
            request_body=body,
        )
        subscriber = _Subscriber(self, sub)
        with self._tlock:
            old = self._subscribers.pop(ext.id, None)
            self._subscribers[ext.id] = subscriber
            # Events since the start of Init are buffered for a new subscriber.
            for category, ev in self._telemetry_log:
                if category in subscriber.types:
                    subscriber.push(ev)
        if old is not None:
            old.close()
        subscriber.thread.start()
        with self._cond:
            self._subscriptions.append(sub)
            self._cond.notify_all()
        _send(h, 200, "OK")
        self._log_request("PUT", path, ext, 200)
        if self.emit_lifecycle_events:
            self._emit(
                "platform.telemetrySubscription",
                {"name": ext.name, "state": "Subscribed", "types": list(types)},
            )
        return 200


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port on host (for extension listeners in tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]

