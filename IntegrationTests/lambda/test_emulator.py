"""Tests of the Lambda sandbox emulator, driven with fake_extension.py.

Everything runs on loopback; every wait is bounded; every process started
here is killed by LambdaSandbox.stop() at the latest.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

import pytest

from emulator import LambdaSandbox, SandboxError, free_port

HERE = Path(__file__).resolve().parent
FAKE = HERE / "fake_extension.py"


# ----------------------------------------------------------------- helpers


@pytest.fixture
def make_sandbox():
    made: list[LambdaSandbox] = []

    def make(**kwargs: Any) -> LambdaSandbox:
        kwargs.setdefault("expected_extensions", 1)
        sb = LambdaSandbox(**kwargs).start()
        made.append(sb)
        return sb

    yield make
    for sb in made:
        sb.stop()


@pytest.fixture
def sandbox(make_sandbox):
    return make_sandbox()


def spawn(sb: LambdaSandbox, tmp_path: Path, *args: str, name: str = "fake-extension") -> tuple[Any, Path]:
    record = tmp_path / f"{name}.jsonl"
    proc = sb.spawn_extension(
        [sys.executable, str(FAKE), "--record", str(record), "--name", name, *args],
        name=name,
        log_path=tmp_path / f"{name}.log",
    )
    return proc, record


def records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def wait_record(path: Path, pred: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in records(path):
            if pred(r):
                return r
        time.sleep(0.02)
    raise AssertionError(f"no matching record in {path} after {timeout}s: {records(path)}")


def events_of(path: Path, kind: str) -> list[dict[str, Any]]:
    return [r["event"] for r in records(path) if r["kind"] == "event" and r["event"]["eventType"] == kind]


def telemetry_events(path: Path) -> list[dict[str, Any]]:
    return [ev for r in records(path) if r["kind"] == "telemetry" for ev in r["events"]]


def http(
    method: str, url: str, headers: dict[str, str] | None = None, body: Any = None, raw: bytes | None = None
) -> tuple[int, dict[str, str], Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            status, hdrs, content = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, hdrs, content = err.code, dict(err.headers), err.read()
    return status, hdrs, (json.loads(content) if content else None)


def register(sb: LambdaSandbox, name: str = "manual", events: list[str] | None = None) -> str:
    status, hdrs, body = http(
        "POST",
        f"http://{sb.runtime_api}/2020-01-01/extension/register",
        {"Lambda-Extension-Name": name},
        {"events": events if events is not None else ["INVOKE", "SHUTDOWN"]},
    )
    assert status == 200, body
    return hdrs["Lambda-Extension-Identifier"]


def valid_subscription(port: int) -> dict[str, Any]:
    return {
        "schemaVersion": "2022-12-13",
        "types": ["platform"],
        "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
        "destination": {"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{port}"},
    }


# ----------------------------------------------------------------- registration


def test_registration_is_recorded_and_answered(sandbox, tmp_path):
    _, rec = spawn(sandbox, tmp_path)
    regs = sandbox.wait_for_registration(1, timeout=5)
    assert [r.name for r in regs] == ["fake-extension"]
    assert regs[0].events == ["INVOKE", "SHUTDOWN"]

    r = wait_record(rec, lambda r: r["kind"] == "registered")
    assert r["status"] == 200
    assert r["identifier"] == regs[0].identifier
    assert r["body"] == {
        "functionName": sandbox.function_name,
        "functionVersion": "$LATEST",
        "handler": sandbox.handler_name,
    }
    sub = sandbox.wait_for_subscription(1, timeout=5)[0]
    assert sub.extension_name == "fake-extension"
    assert sub.buffering == {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}
    assert sub.during_init
    assert wait_record(rec, lambda r: r["kind"] == "subscribed")["body"] == "OK"


def test_registration_after_init_is_forbidden(sandbox, tmp_path):
    spawn(sandbox, tmp_path)
    sandbox.wait_for_registration(1)
    sandbox.finish_init(timeout=5)
    status, _, body = http(
        "POST",
        f"http://{sandbox.runtime_api}/2020-01-01/extension/register",
        {"Lambda-Extension-Name": "late"},
        {"events": ["INVOKE"]},
    )
    assert status == 403
    assert "errorType" in body


def test_next_without_identifier_is_403(sandbox):
    status, _, body = http("GET", f"http://{sandbox.runtime_api}/2020-01-01/extension/event/next")
    assert status == 403
    assert body["errorType"] and body["errorMessage"]
    status, _, _ = http(
        "GET",
        f"http://{sandbox.runtime_api}/2020-01-01/extension/event/next",
        {"Lambda-Extension-Identifier": "not-a-real-id"},
    )
    assert status == 403


# ----------------------------------------------------------------- invoke + freeze


def test_invoke_event_delivered(sandbox, tmp_path):
    _, rec = spawn(sandbox, tmp_path)
    sandbox.wait_for_registration(1)
    seen: list[Any] = []

    def handler(ctx):
        seen.append((ctx.request_id, ctx.get_remaining_time_in_millis()))
        return {"ok": True}

    before = int(time.time() * 1000)
    res = sandbox.invoke(handler, request_id="req-1", timeout_s=3.0)
    assert not res.timed_out
    assert res.request_id == "req-1" and res.status == "success"
    assert res.handler_result == {"ok": True}
    assert seen and seen[0][0] == "req-1" and 0 < seen[0][1] <= 3000
    assert res.extensions_waited == ["fake-extension"]

    inv = events_of(rec, "INVOKE")
    assert len(inv) == 1
    ev = inv[0]
    assert ev["requestId"] == "req-1"
    assert ev["invokedFunctionArn"] == sandbox.invoked_function_arn
    assert before + 2900 <= ev["deadlineMs"] <= int(time.time() * 1000) + 3000
    assert ev["tracing"]["type"] == "X-Amzn-Trace-Id" and ev["tracing"]["value"].startswith("Root=1-")
    event_ids = [r["event_id"] for r in records(rec) if r["kind"] == "event"]
    assert event_ids[0]


def test_freeze_waits_for_extension_post_runtime_work(sandbox, tmp_path):
    _, rec = spawn(sandbox, tmp_path, "--wait-runtime-done", "--post-runtime-sleep-ms", "200")
    sandbox.wait_for_registration(1)
    sandbox.wait_for_subscription(1)
    t0 = time.monotonic()
    res = sandbox.invoke(lambda ctx: "done", timeout_s=5.0)
    elapsed = time.monotonic() - t0
    assert not res.timed_out
    assert res.post_runtime_ms is not None
    # runtimeDone reaches the extension after >= 25 ms of buffering, then it sleeps 200 ms.
    assert 200 <= res.post_runtime_ms < 2000, res.post_runtime_ms
    assert elapsed * 1000 >= res.post_runtime_ms
    assert res.duration_ms >= res.post_runtime_ms
    assert wait_record(rec, lambda r: r["kind"] == "runtime_done_wait")["ok"] is True
    assert sandbox.post_runtime_durations_ms == [res.post_runtime_ms]

    # The next INVOKE is handed out only after the freeze.
    res2 = sandbox.invoke(lambda ctx: None, timeout_s=5.0)
    assert not res2.timed_out and res2.post_runtime_ms >= 200
    marks = [r for r in records(rec) if r["kind"] in ("event", "runtime_done_wait")]
    assert [m["kind"] for m in marks] == ["event", "runtime_done_wait", "event", "runtime_done_wait"]


def test_extension_that_does_not_wait_adds_no_post_runtime_time(sandbox, tmp_path):
    spawn(sandbox, tmp_path)
    sandbox.wait_for_registration(1)
    res = sandbox.invoke(lambda ctx: time.sleep(0.05), timeout_s=3.0)
    assert not res.timed_out
    assert res.post_runtime_ms is not None and res.post_runtime_ms < 100


def test_extension_holding_the_invoke_times_out(sandbox, tmp_path):
    spawn(sandbox, tmp_path, "--post-runtime-sleep-ms", "5000")
    sandbox.wait_for_registration(1)
    t0 = time.monotonic()
    res = sandbox.invoke(lambda ctx: None, timeout_s=0.8)
    assert time.monotonic() - t0 < 2.0
    assert res.timed_out
    assert res.extensions_not_back == ["fake-extension"]
    assert res.report_status == "timeout"
    assert res.post_runtime_ms is not None and res.post_runtime_ms >= 700


def test_handler_exception_gives_error_status(sandbox, tmp_path):
    _, rec = spawn(sandbox, tmp_path)
    sandbox.wait_for_registration(1)
    sandbox.wait_for_subscription(1)

    def boom(ctx):
        raise ValueError("nope")

    res = sandbox.invoke(boom, late_report=False)
    assert isinstance(res.handler_exception, ValueError)
    assert res.status == "error" and res.error_type == "Runtime.ValueError"
    done = sandbox.wait_for_event("platform.runtimeDone", request_id=res.request_id)
    assert done["record"]["status"] == "error"
    assert done["record"]["errorType"] == "Runtime.ValueError"
    report = sandbox.wait_for_event("platform.report", request_id=res.request_id)
    assert report["record"]["status"] == "error"


def test_forced_status_is_reported(sandbox, tmp_path):
    spawn(sandbox, tmp_path)
    sandbox.wait_for_registration(1)
    sandbox.wait_for_subscription(1)
    res = sandbox.invoke(lambda ctx: None, status="failure", late_report=False)
    assert res.status == "failure"
    done = sandbox.wait_for_event("platform.runtimeDone", request_id=res.request_id)
    assert done["record"]["status"] == "failure" and done["record"]["errorType"]


# ----------------------------------------------------------------- telemetry


def test_telemetry_shapes_and_late_report(make_sandbox, tmp_path):
    sb = make_sandbox(late_report=True)
    # The extension stays up 300 ms after SHUTDOWN to receive the last report.
    _, rec = spawn(sb, tmp_path, "--wait-runtime-done", "--shutdown-sleep-ms", "300")
    sb.wait_for_registration(1)
    sb.wait_for_subscription(1)
    r1 = sb.invoke(lambda ctx: "x" * 10, request_id="req-1")
    r2 = sb.invoke(lambda ctx: None, request_id="req-2")
    assert not r1.timed_out and not r2.timed_out
    sb.wait_for_event("platform.report", request_id="req-1")

    evs = telemetry_events(rec)
    types = [e["type"] for e in evs]
    for t in ("platform.initStart", "platform.initRuntimeDone", "platform.initReport", "platform.start",
              "platform.runtimeDone", "platform.report"):
        assert t in types, (t, types)
    for e in evs:
        assert e["time"].endswith("Z") and "T" in e["time"]

    by_type = {}
    for e in evs:
        by_type.setdefault(e["type"], []).append(e["record"])
    init_start = by_type["platform.initStart"][0]
    assert init_start["initializationType"] == "on-demand" and init_start["phase"] == "init"
    init_report = by_type["platform.initReport"][0]
    assert init_report["metrics"]["durationMs"] > 0 and init_report["phase"] == "init"
    start1 = next(r for r in by_type["platform.start"] if r["requestId"] == "req-1")
    assert start1["version"] == "$LATEST"
    done1 = next(r for r in by_type["platform.runtimeDone"] if r["requestId"] == "req-1")
    assert done1["status"] == "success"
    assert done1["metrics"]["producedBytes"] == 10 and done1["metrics"]["durationMs"] >= 0
    rep1 = next(r for r in by_type["platform.report"] if r["requestId"] == "req-1")
    m = rep1["metrics"]
    assert rep1["status"] == "success"
    assert set(m) >= {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB", "initDurationMs"}
    assert m["memorySizeMB"] == 128 and 0 < m["maxMemoryUsedMB"] <= 128
    assert m["billedDurationMs"] >= m["durationMs"]

    # Late: report(req-1) arrived in a batch after the extension got INVOKE req-2.
    recs = records(rec)
    invoke2_at = next(i for i, r in enumerate(recs)
                      if r["kind"] == "event" and r["event"].get("requestId") == "req-2")
    report1_at = next(i for i, r in enumerate(recs) if r["kind"] == "telemetry" and any(
        e["type"] == "platform.report" and e["record"]["requestId"] == "req-1" for e in r["events"]))
    assert report1_at > invoke2_at

    # The last report is still pending; shutdown releases it.
    assert not any(e["type"] == "platform.report" and e["record"]["requestId"] == "req-2"
                   for e in sb.emitted_events)
    out = sb.shutdown(deadline_ms=2000)
    assert out.deadline_met
    rep2 = sb.wait_for_event("platform.report", request_id="req-2", timeout=1)
    assert "initDurationMs" not in rep2["record"]["metrics"]
    assert any(e["type"] == "platform.report" and e["record"]["requestId"] == "req-2"
               for e in telemetry_events(rec))


def test_immediate_report_mode(make_sandbox, tmp_path):
    sb = make_sandbox(late_report=False)
    spawn(sb, tmp_path, "--wait-runtime-done")
    sb.wait_for_registration(1)
    sb.wait_for_subscription(1)
    res = sb.invoke(lambda ctx: None)
    ev = sb.wait_for_event("platform.report", request_id=res.request_id, timeout=3)
    assert ev["record"]["metrics"]["durationMs"] == pytest.approx(res.duration_ms, abs=0.01)


def test_buffering_timeout_is_honoured(make_sandbox, tmp_path):
    sb = make_sandbox(late_report=False)
    spawn(sb, tmp_path, "--buffering-timeout-ms", "300")
    sb.wait_for_registration(1)
    sb.wait_for_subscription(1)
    sb.finish_init()
    time.sleep(0.5)  # let the Init batch go out
    n = len(sb.deliveries)
    res = sb.invoke(lambda ctx: None)
    t_emit = time.monotonic()
    sb.wait_for_event("platform.runtimeDone", request_id=res.request_id, timeout=3)
    later = [d for d in sb.deliveries[n:] if d.ok]
    first = later[0]
    # Nothing went out before timeoutMs had passed since the first buffered event (platform.start).
    assert (first.monotonic - res.t_start) * 1000 >= 290
    assert first.monotonic - t_emit < 1.0


def test_failed_delivery_is_retried_then_dropped(make_sandbox):
    sb = make_sandbox(expected_extensions=0, delivery_retries=2, delivery_backoff_s=0.01)
    ident = register(sb)
    closed_port = free_port()
    status, _, body = http(
        "PUT",
        f"http://{sb.runtime_api}/2022-07-01/telemetry",
        {"Lambda-Extension-Identifier": ident, "Content-Type": "application/json"},
        valid_subscription(closed_port),
    )
    assert status == 200 and body == "OK"
    sb.wait_until(lambda: sb.dropped_events > 0, timeout=5)
    failed = [d for d in sb.deliveries if not d.ok]
    assert failed and failed[0].attempts == 3 and failed[0].error


def test_non_2xx_listener_counts_as_failure(make_sandbox, tmp_path):
    sb = make_sandbox(delivery_retries=1, delivery_backoff_s=0.01)
    spawn(sb, tmp_path, "--telemetry-reply-status", "500")
    sb.wait_for_registration(1)
    sb.wait_for_subscription(1)
    sb.wait_until(lambda: sb.dropped_events > 0, timeout=5)
    d = [d for d in sb.deliveries if not d.ok][0]
    assert d.status == 500 and d.attempts == 2


# ----------------------------------------------------------------- subscription validation


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.update(schemaVersion="2021-01-01"),
        lambda b: b.update(types=[]),
        lambda b: b.update(types=["platform", "metrics"]),
        lambda b: b["buffering"].update(timeoutMs=10),
        lambda b: b["buffering"].update(timeoutMs=30001),
        lambda b: b["buffering"].update(maxBytes=1000),
        lambda b: b["buffering"].update(maxBytes=2_000_000),
        lambda b: b["buffering"].update(maxItems=999),
        lambda b: b["buffering"].update(maxItems=10001),
        lambda b: b["buffering"].update(maxItems="1000"),
        lambda b: b["destination"].update(protocol="HTTPS"),
        lambda b: b["destination"].update(URI="http://sandbox.localdomain"),
        lambda b: b["destination"].update(URI="http://sandbox.localdomain:9001"),
        lambda b: b["destination"].update(URI="https://sandbox.localdomain:8080"),
        lambda b: b["destination"].update(URI="http://example.com:8080"),
        lambda b: b.pop("destination"),
        lambda b: b.pop("schemaVersion"),
    ],
)
def test_invalid_subscription_is_400(make_sandbox, mutate):
    sb = make_sandbox(expected_extensions=0)
    ident = register(sb)
    body = valid_subscription(8080)
    mutate(body)
    status, _, resp = http(
        "PUT",
        f"http://{sb.runtime_api}/2022-07-01/telemetry",
        {"Lambda-Extension-Identifier": ident, "Content-Type": "application/json"},
        body,
    )
    assert status == 400, resp
    assert resp["errorType"] == "ValidationError" and resp["errorMessage"]
    assert sb.subscriptions == []


def test_subscription_edge_cases(make_sandbox):
    sb = make_sandbox(expected_extensions=0)
    url = f"http://{sb.runtime_api}/2022-07-01/telemetry"
    ident = register(sb)
    hdrs = {"Lambda-Extension-Identifier": ident}
    status, _, _ = http("PUT", url, hdrs, raw=b"{not json")
    assert status == 400
    status, _, _ = http("PUT", url, {}, valid_subscription(8080))
    assert status == 403
    body = valid_subscription(8080)
    del body["buffering"]
    status, _, resp = http("PUT", url, hdrs, body)
    assert status == 200 and resp == "OK"
    assert sb.subscriptions[0].buffering == {"timeoutMs": 1000, "maxBytes": 262144, "maxItems": 10000}
    # The limits themselves are valid.
    body = valid_subscription(8080)
    body["buffering"] = {"timeoutMs": 30000, "maxBytes": 1048576, "maxItems": 10000}
    assert http("PUT", url, hdrs, body)[0] == 200


# ----------------------------------------------------------------- errors


def test_init_error_is_recorded(sandbox, tmp_path):
    proc, rec = spawn(sandbox, tmp_path, "--init-error", "Extension.ConfigInvalid")
    sandbox.wait_for_registration(1)
    r = wait_record(rec, lambda r: r["kind"] == "error_reported")
    assert r["status"] == 202
    assert proc.wait(timeout=5) == 1
    errs = sandbox.init_errors
    assert len(errs) == 1
    assert errs[0].extension_name == "fake-extension"
    assert errs[0].error_type == "Extension.ConfigInvalid"
    assert errs[0].body["errorMessage"] == "fake init failure"


def test_exit_error_is_recorded(sandbox, tmp_path):
    proc, rec = spawn(sandbox, tmp_path, "--exit-error-on-shutdown", "Extension.FlushFailed")
    sandbox.wait_for_registration(1)
    sandbox.invoke(lambda ctx: None)
    res = sandbox.shutdown()
    assert res.deadline_met
    assert [e.error_type for e in sandbox.exit_errors] == ["Extension.FlushFailed"]
    assert wait_record(rec, lambda r: r["kind"] == "error_reported")["status"] == 202


# ----------------------------------------------------------------- shutdown


def test_shutdown_event_and_clean_exit(sandbox, tmp_path):
    proc, rec = spawn(sandbox, tmp_path, "--shutdown-sleep-ms", "100")
    sandbox.wait_for_registration(1)
    sandbox.invoke(lambda ctx: None)
    t_before = int(time.time() * 1000)
    res = sandbox.shutdown(reason="spindown", deadline_ms=2000)
    assert res.deadline_met
    assert res.notified == ["fake-extension"] and res.acknowledged == ["fake-extension"]
    assert res.exit_codes == {"fake-extension": 0}
    assert res.killed == []
    assert 100 <= res.duration_ms < 2000
    ev = events_of(rec, "SHUTDOWN")[0]
    assert ev["shutdownReason"] == "spindown"
    assert t_before + 1900 <= ev["deadlineMs"] <= t_before + 2100
    with pytest.raises(SandboxError):
        sandbox.invoke(lambda ctx: None)


def test_shutdown_deadline_then_sigkill(sandbox, tmp_path):
    proc, rec = spawn(sandbox, tmp_path, "--shutdown-sleep-ms", "10000")
    sandbox.wait_for_registration(1)
    t0 = time.monotonic()
    res = sandbox.shutdown(reason="timeout", deadline_ms=300)
    assert time.monotonic() - t0 < 3.0
    assert not res.deadline_met
    assert res.killed == ["fake-extension"]
    assert res.exit_codes == {"fake-extension": -9}
    assert events_of(rec, "SHUTDOWN")[0]["shutdownReason"] == "timeout"


def test_extension_not_registered_for_shutdown_is_killed(sandbox, tmp_path):
    proc, rec = spawn(sandbox, tmp_path, "--events", "INVOKE")
    sandbox.wait_for_registration(1)
    sandbox.invoke(lambda ctx: None)
    res = sandbox.shutdown(deadline_ms=200)
    assert res.notified == []
    assert res.killed == ["fake-extension"]
    assert events_of(rec, "SHUTDOWN") == []


# ----------------------------------------------------------------- freeze_processes


def _proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_freeze_processes_stops_and_resumes(make_sandbox, tmp_path):
    sb = make_sandbox(freeze_processes=True)
    proc, rec = spawn(sb, tmp_path, "--wait-runtime-done")
    sb.wait_for_registration(1)
    sb.wait_for_subscription(1)
    res = sb.invoke(lambda ctx: None)
    assert not res.timed_out and sb.frozen
    sb.wait_until(lambda: _proc_state(proc.pid) == "T", timeout=2)
    res2 = sb.invoke(lambda ctx: None)
    assert not res2.timed_out
    out = sb.shutdown()
    assert out.deadline_met and out.exit_codes == {"fake-extension": 0}


# ----------------------------------------------------------------- two extensions


def test_freeze_waits_for_the_slowest_of_two(make_sandbox, tmp_path):
    sb = make_sandbox(expected_extensions=2)
    spawn(sb, tmp_path, name="fast")
    spawn(sb, tmp_path, "--wait-runtime-done", "--post-runtime-sleep-ms", "150", name="slow")
    sb.wait_for_registration(2)
    res = sb.invoke(lambda ctx: None, timeout_s=5)
    assert not res.timed_out
    assert sorted(res.extensions_waited) == ["fast", "slow"]
    assert res.post_runtime_ms >= 150
    out = sb.shutdown()
    assert out.exit_codes == {"fast": 0, "slow": 0}


def test_crashed_extension_ends_the_wait(sandbox, tmp_path):
    proc, _ = spawn(sandbox, tmp_path, "--post-runtime-sleep-ms", "5000")
    sandbox.wait_for_registration(1)

    def handler(ctx):
        proc.kill()

    t0 = time.monotonic()
    res = sandbox.invoke(handler, timeout_s=4)
    assert time.monotonic() - t0 < 2.0
    assert res.crashed_extensions == ["fake-extension"]


# ----------------------------------------------------------------- HTTP details


def test_keep_alive_and_chunked_bodies(make_sandbox):
    import http.client

    sb = make_sandbox(expected_extensions=0)
    conn = http.client.HTTPConnection("127.0.0.1", sb.port, timeout=5)
    try:
        def chunks(data: bytes):
            yield data[:5]
            yield data[5:]

        conn.request(
            "POST",
            "/2020-01-01/extension/register",
            body=chunks(json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode()),
            headers={"Lambda-Extension-Name": "chunky", "Lambda-Extension-Accept-Feature": "accountId"},
            encode_chunked=True,
        )
        resp = conn.getresponse()
        body = json.loads(resp.read())
        assert resp.status == 200 and body["accountId"] == sb.account_id
        ident = resp.getheader("Lambda-Extension-Identifier")
        # Same connection, a second request.
        conn.request(
            "PUT",
            "/2022-07-01/telemetry",
            body=json.dumps(valid_subscription(8080)).encode(),
            headers={"Lambda-Extension-Identifier": ident, "Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read()) == "OK"
        conn.request("GET", "/2020-01-01/extension/nope")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 404
    finally:
        conn.close()
    assert sb.registrations[0].events == ["INVOKE", "SHUTDOWN"]
    # The emulator logs a request after answering it: give the last one a moment.
    deadline = time.monotonic() + 2
    while len(sb.requests) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [r["status"] for r in sb.requests] == [200, 200, 404]


# ----------------------------------------------------------------- lifecycle variants


def emitted(sb: LambdaSandbox, type_: str) -> list[dict[str, Any]]:
    return [e["record"] for e in sb.emitted_events if e["type"] == type_]


def test_dropped_runtime_done_is_never_emitted(make_sandbox, tmp_path):
    sb = make_sandbox(late_report=False)
    spawn(sb, tmp_path)
    sb.wait_for_registration(1)
    sb.wait_for_subscription(1)
    kept = sb.invoke(lambda ctx: None)
    lost = sb.invoke(lambda ctx: None, drop_runtime_done=True)
    done = [r["requestId"] for r in emitted(sb, "platform.runtimeDone")]
    assert kept.request_id in done and lost.request_id not in done
    assert lost.request_id in [r["requestId"] for r in emitted(sb, "platform.report")]


def test_timeout_events_can_come_only_during_shutdown(make_sandbox, tmp_path):
    sb = make_sandbox(late_report=False, timeout_events="shutdown")
    spawn(sb, tmp_path)
    sb.wait_for_registration(1)
    sb.wait_for_subscription(1)
    slow = sb.invoke(lambda ctx: time.sleep(0.5), timeout_s=0.2)
    assert slow.timed_out
    assert slow.request_id not in [r["requestId"] for r in emitted(sb, "platform.runtimeDone")]
    sb.shutdown(reason="timeout", deadline_ms=1000)
    done = [r for r in emitted(sb, "platform.runtimeDone") if r["requestId"] == slow.request_id]
    assert [r["status"] for r in done] == ["timeout"]
    report = [r for r in emitted(sb, "platform.report") if r["requestId"] == slow.request_id]
    assert [r["status"] for r in report] == ["timeout"]


def test_snapstart_restore_events(make_sandbox, tmp_path):
    sb = make_sandbox(late_report=False, initialization_type="snap-start")
    assert sb.extension_env()["AWS_LAMBDA_INITIALIZATION_TYPE"] == "snap-start"
    spawn(sb, tmp_path)
    sb.wait_for_registration(1)
    sb.wait_for_subscription(1)
    sb.restore(duration_ms=123.0)
    with pytest.raises(SandboxError):
        sb.restore()
    first = sb.invoke(lambda ctx: None)
    assert emitted(sb, "platform.initStart")[0]["initializationType"] == "snap-start"
    assert emitted(sb, "platform.initReport")[0]["initializationType"] == "snap-start"
    assert len(emitted(sb, "platform.restoreStart")) == 1
    assert emitted(sb, "platform.restoreReport")[0]["metrics"]["durationMs"] == 123.0
    report = next(r for r in emitted(sb, "platform.report") if r["requestId"] == first.request_id)
    assert report["metrics"]["restoreDurationMs"] == 123.0 and "initDurationMs" not in report["metrics"]


def test_restore_needs_snapstart(sandbox):
    with pytest.raises(SandboxError):
        sandbox.restore()


def test_provisioned_concurrency_init_events(make_sandbox, tmp_path):
    sb = make_sandbox(late_report=False, initialization_type="provisioned-concurrency")
    spawn(sb, tmp_path)
    sb.wait_for_registration(1)
    sb.wait_for_subscription(1)
    first = sb.invoke(lambda ctx: None)
    assert emitted(sb, "platform.initReport")[0]["initializationType"] == "provisioned-concurrency"
    report = next(r for r in emitted(sb, "platform.report") if r["requestId"] == first.request_id)
    assert "initDurationMs" not in report["metrics"]
