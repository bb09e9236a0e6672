"""gravel-extension when things go wrong: the gateway down or hanging, bad pushes,
shutdown with a pending batch, no Telemetry API, a broken configuration."""

from __future__ import annotations

import socket
import time

import pytest
from prometheus_client import CollectorRegistry, Counter, pushadd_to_gateway

from conftest import series
from test_extension_harness import platform_labels, extension_sandbox, function_samples, restart_gateway, stop  # noqa: F401

JOB = "fn"
FLUSH_TIMEOUT_MS = 300
# Lambda buffers telemetry 25 ms before runtimeDone reaches the extension; the rest is
# slack for a loaded CI machine (Python emulator, two cores).
TELEMETRY_BUFFER_MS = 25
SLACK_MS = 150


def counting_handler(listen: str):
    def handler(ctx):
        registry = CollectorRegistry()
        Counter("work", "Work done.", registry=registry).inc()
        pushadd_to_gateway(listen, job=JOB, registry=registry)

    return handler


def wait_total(gateway_url: str, ext, expected: int, timeout: float = 40.0) -> None:
    """Invokes until the gateway shows `expected` (bounded); each invocation adds one."""
    deadline = time.monotonic() + timeout
    total = expected
    while True:
        got = function_samples(gateway_url, JOB).get(series("work_total", job=JOB))
        if got == total:
            return
        assert got is None or got < total, f"the gateway counted {got}, more than the {total} pushed"
        if time.monotonic() > deadline:
            pytest.fail(f"the gateway shows {got} after {timeout} s, want {total}")
        ext.invoke(counting_handler(ext.listen))
        total += 1
        time.sleep(0.2)


def test_gateway_down_for_twenty_invocations(gateway, extension_sandbox, tmp_path):
    ext = extension_sandbox(gateway.url, flush="end", flush_timeout_ms=str(FLUSH_TIMEOUT_MS),
                            retry_max_backoff_ms="1000", platform_metrics="0")
    for _ in range(5):
        ext.invoke(counting_handler(ext.listen))
    assert function_samples(gateway.url, JOB)[series("work_total", job=JOB)] == 5

    gateway.stop()
    for _ in range(20):
        r = ext.invoke(counting_handler(ext.listen))
        assert not r.timed_out
        assert r.post_runtime_ms < FLUSH_TIMEOUT_MS + TELEMETRY_BUFFER_MS + SLACK_MS, r.post_runtime_ms

    restarted = restart_gateway(gateway, tmp_path)
    try:
        # The restarted gateway (no --data-dir) starts empty: it must end up with the 20
        # increments the extension kept, plus those of the invocations that follow.
        wait_total(gateway.url, ext, 20)
        assert ext.shutdown().exit_codes == {"gravel-extension": 0}
    finally:
        stop(restarted)


def test_hanging_gateway_never_holds_a_freeze_past_the_timeout(extension_sandbox):
    # A listener that accepts nothing: connections hang until the flush timeout.
    hole = socket.socket()
    hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    port = hole.getsockname()[1]
    ext = extension_sandbox(f"http://127.0.0.1:{port}", flush="end", flush_timeout_ms=str(FLUSH_TIMEOUT_MS),
                            retry_max_backoff_ms="500", platform_metrics="0")
    try:
        for _ in range(8):
            r = ext.invoke(counting_handler(ext.listen))
            assert not r.timed_out
            assert r.post_runtime_ms < FLUSH_TIMEOUT_MS + TELEMETRY_BUFFER_MS + SLACK_MS, r.post_runtime_ms
        done = ext.shutdown(deadline_ms=2000)
        assert done.deadline_met and done.exit_codes == {"gravel-extension": 0}
    finally:
        hole.close()


def test_shutdown_delivers_a_pending_batch(gateway, extension_sandbox):
    ext = extension_sandbox(gateway.url, flush="periodic,60", platform_metrics="1")
    for _ in range(3):
        ext.invoke(counting_handler(ext.listen))
    assert series("work_total", job=JOB) not in function_samples(gateway.url, JOB)
    done = ext.shutdown(deadline_ms=2000)
    assert done.deadline_met and done.exit_codes == {"gravel-extension": 0}
    assert function_samples(gateway.url, JOB)[series("work_total", job=JOB)] == 3
    labels = platform_labels(ext.sb)
    platform = gateway.samples()
    assert platform[series("lambda_invocations_total", **labels)] == 3
    # The last invocation's report arrives only at shutdown; it is waited for.
    assert platform[series("lambda_duration_seconds_count", **labels)] == 3


def test_bad_pushes_get_400_and_do_not_poison_the_batch(gateway, extension_sandbox):
    ext = extension_sandbox(gateway.url, flush="end", platform_metrics="0")
    answers = {}

    def handler(ctx):
        answers["good"] = ext.push("POST", "/metrics/job/fn", "# TYPE hits counter\nhits 1\n")
        answers["syntax"] = ext.push("POST", "/metrics/job/fn", "# TYPE hits counter\nhits 1\nhits{ 2\n")
        answers["type"] = ext.push("POST", "/metrics/job/other", "# TYPE hits gauge\nhits 1\n")
        answers["clearmode"] = ext.push("POST", "/metrics/job/fn", 'x{clearmode="sometimes"} 1\n')
        answers["path"] = ext.push("POST", "/metrics/job", "x 1\n")
        answers["negative"] = ext.push("POST", "/metrics/job/fn", "# TYPE hits counter\nhits -1\n")
        answers["good2"] = ext.push("POST", "/metrics/job/fn", "# TYPE hits counter\nhits 2\n# TYPE g gauge\ng 4\n")

    ext.invoke(handler)
    assert answers["good"].status_code == 200 and answers["good2"].status_code == 200
    for bad in ("syntax", "type", "clearmode", "path", "negative"):
        assert answers[bad].status_code == 400, (bad, answers[bad].text)
        assert answers[bad].text.strip(), bad
    assert "line 3" in answers["syntax"].text
    assert function_samples(gateway.url, JOB) == {series("hits", job=JOB): 3, series("g", job=JOB): 4}
    assert function_samples(gateway.url, "other") == {}
    assert "gravel_extension_dropped_total" not in gateway.scrape_text()


def test_without_telemetry_flushes_at_next_invoke_and_shutdown(gateway, extension_sandbox):
    ext = extension_sandbox(gateway.url, flush="end", telemetry="0", platform_metrics="0")
    ext.invoke(counting_handler(ext.listen))
    ext.invoke(counting_handler(ext.listen))
    # The second INVOKE flushed the first invocation's push.
    assert function_samples(gateway.url, JOB)[series("work_total", job=JOB)] >= 1
    assert ext.shutdown().exit_codes == {"gravel-extension": 0}
    assert function_samples(gateway.url, JOB)[series("work_total", job=JOB)] == 2


def test_bad_configuration_never_fails_the_function(extension_sandbox):
    """A broken GRAVEL_* setting is logged once, loudly; the extension registers and
    follows events without metrics (an init/error would make Lambda fail every invoke)."""
    ext = extension_sandbox("ftp://nowhere", expect_running=False, flush="never")
    for _ in range(3):
        result = ext.invoke(lambda ctx: "ok")
        assert not result.timed_out and result.handler_result == "ok"
    assert ext.sb.init_errors == [] and ext.sb.errors == []
    done = ext.shutdown()
    assert done.deadline_met and done.exit_codes == {"gravel-extension": 0}
    log = ext.log()
    assert log.count("invalid configuration") == 1, log
    assert "GRAVEL_GATEWAY_URL=ftp://nowhere" in log and "GRAVEL_FLUSH=never" in log
