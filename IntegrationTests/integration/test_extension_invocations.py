"""gravel-extension end to end: a Python prometheus_client function in the Lambda
sandbox emulator pushes to the extension, which flushes to a real gateway."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, push_to_gateway, pushadd_to_gateway

from conftest import buckets, series
from test_extension_harness import extension_sandbox, function_samples, platform_labels  # noqa: F401  (fixture)

JOB = "checkout"


def handler_for(listen: str, n: int):
    """One invocation's pushes, as a function with a fresh registry per invocation writes them."""

    def handler(ctx):
        registry = CollectorRegistry()
        Counter("orders", "Orders taken.", registry=registry).inc()
        Gauge("queue_depth", "Items waiting.", registry=registry).set(n)
        Histogram("latency_seconds", "Handler latency.", buckets=(0.1, 0.5, 1.0), registry=registry).observe(0.05 * (n % 20))
        Gauge("app_version", "Deployed version.", ["version", "clearmode"], registry=registry).labels(
            version=f"1.0.{n // 10}", clearmode="family").set(1)
        pushadd_to_gateway(listen, job=JOB, registry=registry)
        return "ok"

    return handler


def test_hundred_invocations_flush_before_each_freeze(gateway, extension_sandbox):
    ext = extension_sandbox(gateway.url, flush="end", flush_timeout_ms="1000", platform_metrics="1")
    for n in range(1, 101):
        result = ext.invoke(handler_for(ext.listen, n), timeout_s=5.0)
        assert not result.timed_out
        assert result.post_runtime_ms is not None and result.post_runtime_ms < 1000
        # The freeze happened: this invocation's data is already at the gateway.
        samples = function_samples(gateway.url, JOB)
        assert samples[series("orders_total", job=JOB)] == n
        assert samples[series("queue_depth", job=JOB)] == n
        assert samples[series("latency_seconds_count", job=JOB)] == n
        versions = {dict(labels)["version"] for (name, labels) in samples if name == "app_version"}
        assert versions == {f"1.0.{n // 10}"}, f"invocation {n}"

    samples = function_samples(gateway.url, JOB)
    expected_sum = sum(0.05 * (n % 20) for n in range(1, 101))
    assert abs(samples[series("latency_seconds_sum", job=JOB)] - expected_sum) < 1e-9
    observations = [0.05 * (n % 20) for n in range(1, 101)]
    got = buckets(samples, "latency_seconds", job=JOB)
    assert got == {b: sum(1 for o in observations if o <= b) for b in (0.1, 0.5, 1.0)} | {float("inf"): 100}

    done = ext.shutdown()
    assert done.deadline_met and done.exit_codes == {"gravel-extension": 0}
    # Platform metrics arrived through the same batches; the last report came at shutdown.
    text = gateway.scrape_text()
    platform = {k: v for k, v in gateway.samples().items() if dict(k[1]).get("function_name")}
    labels = platform_labels(ext.sb)
    assert platform[series("lambda_invocations_total", **labels)] == 100
    assert platform[series("lambda_errors_total", **labels)] == 0
    assert platform[series("lambda_cold_starts_total", **labels, initialization_type="on-demand")] == 1
    assert platform[series("lambda_duration_seconds_count", **labels)] == 100
    assert series("lambda_max_memory_used_bytes", **labels) in platform
    assert "gravel_extension_dropped_total" not in text


def test_cumulative_registry_is_converted_to_deltas(gateway, extension_sandbox):
    """GRAVEL_CUMULATIVE=1: a long-lived registry pushed with push_to_gateway (PUT) from two
    sandboxes still sums right at the gateway."""
    totals = 0
    for sandbox in range(2):
        ext = extension_sandbox(gateway.url, flush="end", cumulative="1", platform_metrics="0")
        registry = CollectorRegistry()
        counter = Counter("jobs", "Jobs done.", registry=registry)
        hist = Histogram("size_bytes", "Sizes.", buckets=(10, 100), registry=registry)

        def handler(ctx, k=sandbox):
            counter.inc(3)
            hist.observe(50)
            push_to_gateway(ext.listen, job=JOB, registry=registry)

        for _ in range(5):
            ext.invoke(handler)
            totals += 3
            assert function_samples(gateway.url, JOB)[series("jobs_total", job=JOB)] == totals
        assert ext.shutdown().exit_codes == {"gravel-extension": 0}
    samples = function_samples(gateway.url, JOB)
    assert samples[series("size_bytes_count", job=JOB)] == 10
    assert buckets(samples, "size_bytes", job=JOB) == {10.0: 0, 100.0: 10, float("inf"): 10}
