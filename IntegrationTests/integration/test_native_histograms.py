"""Native histograms end to end (docs/SEMANTICS.md S31).

Debian's client_golang (1.14, `NativeHistogramBucketFactor`) pushes native histograms in
protobuf from several short "invocations" into one group; Gravel adds them exactly, reducing
the finer schema to the coarser one; Debian's Prometheus (2.42) started with
`--enable-feature=native-histograms` negotiates the protobuf scrape, and its
`histogram_quantile`, `histogram_count` and `histogram_sum` over the aggregated histogram
agree with all the observations: the count and sum exactly, the quantile within one bucket
of the coarsest schema. Text scrapes leave native-only families out and show the classic
buckets of histograms that have both.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
from pathlib import Path

import pytest

from go_programs import build_go_program
from conftest import parse_scrape, series

PROTOBUF = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
# What Prometheus 2.42 sends with --enable-feature=native-histograms.
PROMETHEUS_NATIVE_ACCEPT = (
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,"
    "application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.fixture(scope="session")
def gonative(tmp_path_factory) -> Path:
    """IntegrationTests/gonative, built once per session, offline, against Debian's Go packages."""
    return build_go_program("gonative", tmp_path_factory.mktemp("gonative"))


def invoke(gonative: Path, url: str, name: str, factor: float, values: list[float], *args: str) -> None:
    """One invocation: a fresh registry observes `values` and POSTs them to the group job="native"."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    r = subprocess.run(
        [str(gonative), "-url", url, "-job", "native", "-name", name, "-factor", str(factor),
         "-values", ",".join(repr(v) for v in values), *args],
        capture_output=True, text=True, timeout=30, env=env,
    )
    assert r.returncode == 0, f"{name}: {r.stderr}"


def schema_for(factor: float) -> int:
    """The schema client_golang picks: the coarsest whose growth factor is at most `factor`."""
    schema = -4
    while schema < 8 and 2 ** (2.0 ** -schema) > factor:
        schema += 1
    return schema


def latencies(rng: random.Random, n: int) -> list[float]:
    # Log-normal around 0.2 s with a long tail, and an occasional 0 (the zero bucket).
    return [0.0 if rng.random() < 0.02 else round(rng.lognormvariate(math.log(0.2), 1.2), 6) for _ in range(n)]


def assert_quantile(prometheus, expr: str, values: list[float], q: float, schema: int) -> None:
    """Prometheus interpolates inside the bucket that holds the q-quantile, so its answer
    is within one bucket (a factor 2^(2^-schema)) of the observations around that rank."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    factor = 2 ** (2.0 ** -schema)
    low, high = ordered[max(rank - 2, 0)] / factor, ordered[min(rank, len(ordered) - 1)] * factor
    result = prometheus.query(expr)
    assert len(result) == 1, result
    estimate = float(result[0]["value"][1])
    assert low <= estimate <= high, (
        f"{expr} = {estimate}, true {q}-quantile {ordered[rank - 1]} (schema {schema}: allowed {low}..{high})"
    )


def test_native_histograms_aggregate_exactly_and_prometheus_agrees(gateway, gonative, prometheus_server):
    rng = random.Random(20261201)
    # rpc_seconds: five invocations, three at schema 3 (factor 1.1), two at schema 1 (factor 1.5):
    # the aggregate is at schema 1. exact_seconds: every invocation at schema 3.
    rpc: list[float] = []
    exact: list[float] = []
    for i in range(5):
        factor = 1.1 if i < 3 else 1.5
        batch = latencies(rng, 300)
        rpc += batch
        invoke(gonative, gateway.url, "rpc_seconds", factor, batch)
        batch = latencies(rng, 200)
        exact += batch
        invoke(gonative, gateway.url, "exact_seconds", 1.1, batch)
    # both_seconds: native and classic buckets in every push.
    both = []
    for _ in range(2):
        batch = latencies(rng, 100)
        both += batch
        invoke(gonative, gateway.url, "both_seconds", 1.1, batch, "-classic")
    assert schema_for(1.1) == 3 and schema_for(1.5) == 1

    # Text scrapes (the default, and what the Pushgateway serves) have no native histograms:
    # native-only families are left out, the classic buckets of both_seconds add up.
    samples = parse_scrape(gateway.scrape_text())
    names = {name for name, _ in samples}
    assert not names & {"rpc_seconds_bucket", "rpc_seconds_count", "exact_seconds_count"}, sorted(names)
    assert samples[series("both_seconds_bucket", instance="", job="native", le="1")] == sum(v <= 1 for v in both)
    assert samples[series("both_seconds_count", instance="", job="native")] == len(both)

    # A scraper that asks for protobuf first gets it.
    status, headers, body = gateway.scrape_raw({"Accept": PROMETHEUS_NATIVE_ACCEPT})
    assert status == 200 and headers.get("Content-Type") == PROTOBUF, headers
    assert b"rpc_seconds" in body and b"gravel_gateway_scrapes_total" in body and b"push_time_seconds" in body

    prometheus = prometheus_server(gateway, flags=["--enable-feature=native-histograms"])
    prometheus.wait_for(
        'histogram_count(rpc_seconds{job="native"})',
        lambda r: len(r) == 1 and float(r[0]["value"][1]) == len(rpc),
    )
    assert float(prometheus.query('histogram_count(exact_seconds{job="native"})')[0]["value"][1]) == len(exact)
    assert math.isclose(float(prometheus.query('histogram_sum(rpc_seconds{job="native"})')[0]["value"][1]), sum(rpc), rel_tol=1e-9)
    for q in (0.5, 0.9, 0.99):
        assert_quantile(prometheus, f'histogram_quantile({q}, rpc_seconds{{job="native"}})', rpc, q, 1)
        assert_quantile(prometheus, f'histogram_quantile({q}, exact_seconds{{job="native"}})', exact, q, 3)
        assert_quantile(prometheus, f'histogram_quantile({q}, both_seconds{{job="native"}})', both, q, 3)
    # The series keep the Pushgateway's identity (no instance from the gateway's address),
    # and the rest of the scrape came through the protobuf format too.
    [stored] = prometheus.query('rpc_seconds{job="native"}')
    assert stored["metric"] == {"__name__": "rpc_seconds", "job": "native"}
    assert "histogram" in stored, stored
    assert prometheus.query('push_time_seconds{job="native"}')
    assert prometheus.query("gravel_gateway_scrapes_total")
