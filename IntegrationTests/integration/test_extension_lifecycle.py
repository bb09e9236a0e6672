"""gravel-extension around Lambda's lifecycle, in the sandbox emulator: it never costs the
function (deadlines, billed waits, lost telemetry, bad settings, proxies) and never loses
or doubles a count (Idempotency-Key on retries after a freeze, function timeouts, SnapStart,
provisioned concurrency, region and account labels)."""

from __future__ import annotations

import gzip
import http.server
import shutil
import socket
import threading
import time

import pytest

from conftest import series
from test_extension_harness import extension_binary, extension_sandbox, function_samples, platform_labels  # noqa: F401

JOB = "lifecycle"


def pushing(ext, body: str = "# TYPE work counter\nwork 1\n", path: str = f"/metrics/job/{JOB}", pause: float = 0.0,
            delay: float = 0.0):
    def handler(ctx):
        time.sleep(delay)
        r = ext.push("POST", path, body)
        assert r.status_code == 200, r.text
        if pause:
            time.sleep(pause)
        return "ok"
    return handler


class Recorder:
    """A stand-in gateway (or proxy): records each request; `answer(n, request)` decides,
    for the n-th request, whether to answer 200 (True) or hang up without a response."""

    def __init__(self, answer=lambda n, request: True, hang_s: float = 2.0):
        self.requests: list[dict] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = {"method": self.command, "target": self.path, "body": body.decode(),
                           "key": self.headers.get("Idempotency-Key"), "time": time.monotonic()}
                recorder.requests.append(request)
                if not answer(len(recorder.requests), request):
                    # Applied, but the answer never comes (a freeze or a cut connection).
                    time.sleep(hang_s)
                    self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_POST
            do_DELETE = do_POST

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    made: list[Recorder] = []

    def make(**kw) -> Recorder:
        made.append(Recorder(**kw))
        return made[-1]

    yield make
    for r in made:
        r.close()


# ---------------------------------------------------------------------------- never cost the function


def test_flush_ends_before_the_invocation_deadline(extension_sandbox):
    """A gateway that accepts and never answers, a 5 s flush budget, a 1 s function timeout:
    the flush is cut at the invocation's deadline minus the margin, never past it."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    try:
        ext = extension_sandbox(f"http://127.0.0.1:{hole.getsockname()[1]}", flush="end", flush_timeout_ms="5000",
                                platform_metrics="0")
        for _ in range(3):
            r = ext.invoke(pushing(ext), timeout_s=1.0)
            assert not r.timed_out, r
            assert r.duration_ms < 1000, r.duration_ms
        assert ext.shutdown(deadline_ms=1000).exit_codes == {"gravel-extension": 0}
    finally:
        hole.close()


def test_an_invocation_that_will_not_flush_does_not_wait_for_runtime_done(gateway, extension_sandbox):
    """periodic mode with the period not over: back in /next before the runtime answers,
    so no post-runtime time is billed; `end` waits for runtimeDone (≥ the 25 ms buffer)."""
    ext = extension_sandbox(gateway.url, flush="periodic,300", platform_metrics="0")
    for _ in range(5):
        r = ext.invoke(pushing(ext, pause=0.1))
        assert r.post_runtime_ms == 0, r.post_runtime_ms
    assert series("work", job=JOB) not in function_samples(gateway.url, JOB)
    assert ext.shutdown().exit_codes == {"gravel-extension": 0}
    assert function_samples(gateway.url, JOB)[series("work", job=JOB)] == 5

    ext = extension_sandbox(gateway.url, flush="end", platform_metrics="0")
    r = ext.invoke(pushing(ext, pause=0.1))
    assert r.post_runtime_ms >= 25, r.post_runtime_ms
    assert function_samples(gateway.url, JOB)[series("work", job=JOB)] == 6


def test_a_missing_runtime_done_switches_to_flushing_at_invoke(gateway, extension_sandbox):
    ext = extension_sandbox(gateway.url, flush="end", flush_timeout_ms="300", platform_metrics="0")
    first = ext.invoke(pushing(ext), timeout_s=2.0, drop_runtime_done=True)
    assert not first.timed_out
    # The next invocations are not held: their flush is at the next INVOKE, before this
    # invocation pushes (the handler waits a little so the order is certain).
    for n in range(2, 5):
        r = ext.invoke(pushing(ext, delay=0.2), timeout_s=2.0, drop_runtime_done=True)
        assert not r.timed_out and r.post_runtime_ms < 200, r.post_runtime_ms
        # The INVOKE flushed the previous invocations' pushes.
        assert function_samples(gateway.url, JOB)[series("work", job=JOB)] == n - 1
    assert ext.shutdown().exit_codes == {"gravel-extension": 0}
    assert function_samples(gateway.url, JOB)[series("work", job=JOB)] == 4
    assert ext.log().count("no platform.runtimeDone before the invocation's deadline") == 1


def test_lambda_apis_bypass_the_proxy_and_the_flush_uses_it(recorder, extension_sandbox):
    """http_proxy/ALL_PROXY point at a recording proxy: registration, /next and the
    Telemetry subscription never go there; the flush to the gateway does."""
    proxy = recorder()
    env = {"http_proxy": proxy.url, "ALL_PROXY": proxy.url, "no_proxy": "", "NO_PROXY": ""}
    ext = extension_sandbox("http://gateway.invalid:4278", sandbox_kw={"function_env": env}, flush="end",
                            platform_metrics="0")
    r = ext.invoke(pushing(ext))
    assert not r.timed_out
    assert [q["target"] for q in proxy.requests] == [f"http://gateway.invalid:4278/metrics/job/{JOB}"]
    assert ext.shutdown().exit_codes == {"gravel-extension": 0}


def test_registers_under_the_executable_file_name(gateway, extension_sandbox, tmp_path):
    copy = tmp_path / "acme-metrics"
    shutil.copy2(extension_binary(), copy)
    ext = extension_sandbox(gateway.url, argv=[str(copy)], name="acme-metrics", flush="end")
    assert [r.name for r in ext.sb.registrations] == ["acme-metrics"]
    ext.invoke(pushing(ext))
    assert ext.shutdown().exit_codes == {"acme-metrics": 0}


# ---------------------------------------------------------------------------- never lose or double a count


def test_a_batch_cut_by_a_freeze_is_retried_with_its_idempotency_key(recorder, extension_sandbox):
    """The first request is received (the gateway applies it) but its answer never comes;
    the sandbox freezes with the flush in flight. After the thaw the same batch goes again
    with the same key, then the newer one with another key."""
    gw = recorder(answer=lambda n, request: n != 1, hang_s=1.5)
    ext = extension_sandbox(gw.url, sandbox_kw={"freeze_processes": True}, flush="end", flush_timeout_ms="300",
                            retry_max_backoff_ms="0", platform_metrics="0")
    ext.invoke(pushing(ext, "# TYPE work counter\nwork 1\n"))
    time.sleep(2.0)  # frozen; the gateway gives up on the first request meanwhile
    ext.invoke(pushing(ext, "# TYPE work counter\nwork 10\n"))
    assert ext.shutdown().exit_codes == {"gravel-extension": 0}

    keys = [q["key"] for q in gw.requests]
    assert all(keys), keys
    assert len(gw.requests) == 3, gw.requests
    first, retry, newer = gw.requests
    assert retry["key"] == first["key"] and retry["body"] == first["body"]
    assert 'work{job="lifecycle",clearmode="aggregate"} 1' in first["body"]
    assert newer["key"] != first["key"]
    assert 'work{job="lifecycle",clearmode="aggregate"} 10' in newer["body"]


def test_a_timed_out_invocation_is_counted_during_shutdown(gateway, extension_sandbox):
    """AWS may report a timed-out invocation's runtimeDone and report only in the Shutdown
    phase that resets the sandbox: they are waited for and flushed."""
    ext = extension_sandbox(gateway.url, sandbox_kw={"timeout_events": "shutdown"}, flush="end",
                            flush_timeout_ms="200")
    assert not ext.invoke(pushing(ext), timeout_s=2.0).timed_out
    slow = ext.invoke(pushing(ext, pause=1.6), timeout_s=1.0)
    assert slow.timed_out
    done = ext.shutdown(reason="timeout", deadline_ms=2000)
    assert done.deadline_met and done.exit_codes == {"gravel-extension": 0}
    labels = platform_labels(ext.sb)
    samples = gateway.samples()
    assert samples[series("lambda_invocations_total", **labels)] == 2
    assert samples[series("lambda_timeouts_total", **labels)] == 1
    assert samples[series("lambda_duration_seconds_count", **labels)] == 2
    assert function_samples(gateway.url, JOB)[series("work", job=JOB)] == 2


def test_snapstart_sends_init_pushes_before_the_snapshot_and_counts_the_restore(gateway, extension_sandbox):
    ext = extension_sandbox(gateway.url, sandbox_kw={"initialization_type": "snap-start"}, flush="end")
    # The function's init code pushes; its pushes are flushed when the runtime's init is
    # done, before the extension ends Init (and the snapshot is taken).
    assert ext.push("POST", f"/metrics/job/{JOB}", "# TYPE init_work counter\ninit_work 1\n").status_code == 200
    time.sleep(0.2)
    assert function_samples(gateway.url, JOB) == {}, "nothing is sent before the runtime's init is done"
    ext.sb.runtime_init_done()
    ext.sb.finish_init()
    assert function_samples(gateway.url, JOB) == {series("init_work", job=JOB): 1}
    # Restored sandboxes start with nothing buffered: the snapshot held an empty batch.
    ext.sb.restore(duration_ms=180)
    ext.invoke(pushing(ext))
    assert ext.shutdown().exit_codes == {"gravel-extension": 0}

    assert function_samples(gateway.url, JOB) == {series("init_work", job=JOB): 1, series("work", job=JOB): 1}
    labels = platform_labels(ext.sb)
    samples = gateway.samples()
    assert samples[series("lambda_cold_starts_total", **labels, initialization_type="snap-start")] == 1
    assert samples[series("lambda_restore_duration_seconds_count", **labels)] == 1
    assert samples[series("lambda_restore_duration_seconds_sum", **labels)] == pytest.approx(0.18)
    assert not any(name.startswith("lambda_init_duration_seconds") for name, _ in samples)


def test_provisioned_concurrency_init_is_labelled_and_not_a_cold_start(gateway, extension_sandbox):
    ext = extension_sandbox(gateway.url, sandbox_kw={"initialization_type": "provisioned-concurrency"}, flush="end")
    for _ in range(2):
        ext.invoke(pushing(ext))
    assert ext.shutdown().exit_codes == {"gravel-extension": 0}
    labels = platform_labels(ext.sb)
    samples = gateway.samples()
    typed = dict(labels, initialization_type="provisioned-concurrency")
    assert samples[series("lambda_init_duration_seconds_count", **typed)] == 1
    assert samples[series("lambda_cold_starts_total", **typed)] == 0
    assert samples[series("lambda_invocations_total", **labels)] == 2


def test_platform_metrics_carry_region_and_account(gateway, extension_sandbox):
    ext = extension_sandbox(gateway.url, sandbox_kw={"region": "eu-west-3", "account_id": "210987654321"}, flush="end")
    ext.invoke(pushing(ext))
    assert ext.shutdown().exit_codes == {"gravel-extension": 0}
    assert ext.sb.registrations[0].accept_features == ["accountId"]
    fn = ext.sb.function_name
    samples = gateway.samples()
    assert samples[series("lambda_invocations_total", job=fn, function_name=fn, region="eu-west-3",
                          account_id="210987654321")] == 1
