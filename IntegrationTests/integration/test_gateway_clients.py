"""Real clients against gravel-gateway: Python's prometheus_client.

- `push_to_gateway` (PUT) replaces the group, `pushadd_to_gateway` (POST)
  merges into it (a Counter pushed twice sums), `delete_from_gateway` (DELETE)
  removes it. Grouping keys with a `/` go through the client's base64 path.
- Round trip (docs/SEMANTICS.md S18): what `generate_latest` writes
  (text 0.0.4) and what `prometheus_client.openmetrics.exposition.generate_latest`
  writes (OpenMetrics), for a registry with every metric type, pushed with PUT
  into a fresh group, comes back sample for sample, in both scrape formats.
  `_created` samples are ignored: Gravel drops them.
"""

import inspect

import pytest
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Histogram,
    Info,
    Summary,
    delete_from_gateway,
    generate_latest,
    push_to_gateway,
    pushadd_to_gateway,
)
from prometheus_client.openmetrics.exposition import generate_latest as generate_latest_openmetrics

from conftest import (
    assert_samples_equal,
    normalise_bounds,
    parse_scrape,
    series,
    with_labels,
)

OPENMETRICS_ACCEPT = {"Accept": "application/openmetrics-text; version=1.0.0"}


def counter_registry(value: float, name: str = "jobs_done"):
    registry = CollectorRegistry()
    c = Counter(name, "Jobs done.", ["queue"], registry=registry)
    c.labels("default").inc(value)
    return registry


def test_push_to_gateway_replaces_group(gateway):
    first = counter_registry(2)
    g = Gauge("queue_depth", "Queue depth.", registry=first)
    g.set(7)
    push_to_gateway(gateway.url, job="pyjob", registry=first, timeout=10)
    assert_samples_equal(
        gateway.samples(drop_created=True),
        {series("jobs_done_total", job="pyjob", queue="default"): 2, series("queue_depth", job="pyjob"): 7},
    )

    second = CollectorRegistry()
    Gauge("other", "Other.", registry=second).set(1)
    push_to_gateway(gateway.url, job="pyjob", registry=second, timeout=10)
    assert_samples_equal(gateway.samples(drop_created=True), {series("other", job="pyjob"): 1})


def test_pushadd_to_gateway_sums_counters(gateway):
    registry = counter_registry(2.5)
    pushadd_to_gateway(gateway.url, job="pyjob", registry=registry, timeout=10)
    pushadd_to_gateway(gateway.url, job="pyjob", registry=registry, timeout=10)
    got = gateway.samples(drop_created=True)
    assert got[series("jobs_done_total", job="pyjob", queue="default")] == 5.0


def test_pushadd_with_grouping_key_and_gzip(gateway):
    if "compression" not in inspect.signature(pushadd_to_gateway).parameters:
        pytest.skip("this prometheus_client has no compression option")
    registry = counter_registry(1)
    key = {"instance": "host/1", "region": "eu"}
    pushadd_to_gateway(gateway.url, job="pyjob", registry=registry, grouping_key=key, timeout=10, compression="gzip")
    pushadd_to_gateway(gateway.url, job="pyjob", registry=registry, grouping_key=key, timeout=10)
    got = gateway.samples(drop_created=True)
    assert got[series("jobs_done_total", job="pyjob", instance="host/1", region="eu", queue="default")] == 2.0


def test_delete_from_gateway_removes_group(gateway):
    registry = counter_registry(1)
    push_to_gateway(gateway.url, job="gone", registry=registry, timeout=10)
    push_to_gateway(gateway.url, job="kept", registry=counter_registry(3, "kept_jobs"), timeout=10)
    delete_from_gateway(gateway.url, job="gone", timeout=10)
    got = gateway.samples(drop_self=False)
    assert not any(dict(labels).get("job") == "gone" for _, labels in got), "group 'gone' is still exposed"
    assert_samples_equal(gateway.samples(drop_created=True), {series("kept_jobs_total", job="kept", queue="default"): 3})


def full_registry():
    """One metric of every type prometheus_client has, with awkward label
    values and special floats."""
    registry = CollectorRegistry()
    c = Counter("requests", "Requests served.", ["path", "code"], registry=registry)
    c.labels('/a,{b}\\c"d\ne', "200").inc(3)
    c.labels("/", "500").inc(0.1 + 0.2)
    g = Gauge("temperature_celsius", "Temperature.", ["room"], registry=registry)
    g.labels("kitchen").set(-3.25)
    g.labels("attic").set(float("inf"))
    g.labels("cellar").set(float("nan"))
    Gauge("big", "Large value.", registry=registry).set(9.4094392e12)
    h = Histogram("latency_seconds", "Latency.", ["op"], buckets=(0.005, 0.1, 1, 2.5, 10), registry=registry)
    for v in (0.001, 0.05, 0.5, 0.7, 3, 30):
        h.labels("read").observe(v)
    h.labels("write").observe(0.2)
    s = Summary("payload_bytes", "Payload size.", registry=registry)
    s.observe(100)
    s.observe(250.5)
    i = Info("build", "Build information.", registry=registry)
    i.info({"version": "1.2.3", "revision": 'a"b\\c'})
    e = Enum("state", "Service state.", states=["starting", "running", "stopped"], registry=registry)
    e.state("running")
    return registry


FORMATS = {
    "text": (generate_latest, "text/plain; version=0.0.4; charset=utf-8"),
    "openmetrics": (generate_latest_openmetrics, "application/openmetrics-text; version=1.0.0; charset=utf-8"),
}


@pytest.mark.parametrize("push_format", list(FORMATS))
def test_round_trip_of_every_metric_type(start_gateway, push_format):
    gateway = start_gateway("--enable-openmetrics")  # to read it back in both formats
    generate, content_type = FORMATS[push_format]
    body = generate(full_registry())
    expected = with_labels(parse_scrape(body.decode("utf-8"), drop_created=True), job="roundtrip")
    assert len(expected) > 20  # sanity: the registry produced what we think

    gateway.ok("PUT", "/metrics/job/roundtrip", body, headers={"Content-Type": content_type})

    text = gateway.scrape_text()
    assert_samples_equal(parse_scrape(text, drop_self=True, drop_created=True), normalise_bounds(expected, text))

    _, headers, om = gateway.scrape(OPENMETRICS_ACCEPT)
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert_samples_equal(parse_scrape(om, drop_self=True, drop_created=True), normalise_bounds(expected, om))


def test_client_push_then_real_scrape_by_client_parser(gateway):
    """prometheus_client's own parser reads the scrape (text format)."""
    from prometheus_client.parser import text_string_to_metric_families

    push_to_gateway(gateway.url, job="parsed", registry=full_registry(), timeout=10)
    text = gateway.scrape_text()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"requests", "temperature_celsius", "latency_seconds", "payload_bytes", "state"} <= names, names
