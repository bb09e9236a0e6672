"""UTF-8 metric and label names behind --push.enable-utf8-names (docs/SEMANTICS.md S65-S67),
with Python's prometheus_client writing and reading the quoted syntax, promtool and a real
Prometheus 2 reading the escaped names a legacy scraper gets."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from conftest import promtool_check
from test_extension_harness import extension_sandbox  # noqa: F401  (fixture)

# What Prometheus 3 sends when it accepts UTF-8 names (its default).
PROMETHEUS3_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
)
PATH = "/metrics/job/checkout/U__my_2e_label/v1"


def utf8_body() -> bytes:
    """A registry with UTF-8 names, written by prometheus_client as Prometheus 3 reads it."""
    registry = CollectorRegistry()
    Counter("http.requests", "Requests.", ["http.method"], registry=registry).labels("GET").inc(3)
    Histogram("req.duration", "Latency.", registry=registry, buckets=[1]).observe(0.5)
    Gauge("plain_gauge", "A legacy name with a UTF-8 label.", ["a.b"], registry=registry).labels("x").set(2)
    return generate_latest(registry, escaping="allow-utf-8")


def samples_utf8(text: str) -> dict[tuple[str, tuple], float]:
    """The scrape as prometheus_client's parser reads it (it reads quoted names)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith(("gravel_gateway_", "process_")):
                continue
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def utf8_gateway(start_gateway):
    return start_gateway("--push.enable-utf8-names")


def test_prometheus_client_body_aggregates_and_reads_back(utf8_gateway):
    for _ in range(2):
        utf8_gateway.ok("POST", PATH, utf8_body())
    status, headers, text = utf8_gateway.scrape({"Accept": PROMETHEUS3_ACCEPT}, check=False)
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8"
    samples = samples_utf8(text)
    group = (("instance", ""), ("job", "checkout"), ("my.label", "v1"))
    assert samples[("http.requests_total", tuple(sorted(group + (("http.method", "GET"),))))] == 6
    assert samples[("req.duration_bucket", tuple(sorted(group + (("le", "1"),))))] == 2
    assert samples[("req.duration_count", group)] == 2
    assert samples[("plain_gauge", tuple(sorted(group + (("a.b", "x"),))))] == 2
    assert '# TYPE "req.duration" histogram' in text.splitlines()


def test_a_legacy_scraper_gets_underscores_that_promtool_accepts(utf8_gateway):
    utf8_gateway.ok("POST", PATH, utf8_body())
    status, headers, text = utf8_gateway.scrape({"Accept": "text/plain;version=0.0.4"})  # promtool-checked
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"
    lines = text.splitlines()
    assert 'http_requests_total{http_method="GET",instance="",job="checkout",my_label="v1"} 3' in lines
    assert 'req_duration_bucket{instance="",job="checkout",my_label="v1",le="1"} 1' in lines
    assert 'plain_gauge{a_b="x",instance="",job="checkout",my_label="v1"} 2' in lines


@pytest.mark.parametrize(
    "scheme, counter_line",
    [
        ("values", 'U__http_2e_requests__total{U__http_2e_method="GET",instance="",job="checkout",U__my_2e_label="v1"} 3'),
        ("dots", 'http_dot_requests__total{http_dot_method="GET",instance="",job="checkout",my_dot_label="v1"} 3'),
    ],
)
def test_escaping_schemes_on_request(utf8_gateway, scheme, counter_line):
    utf8_gateway.ok("POST", PATH, utf8_body())
    status, headers, text = utf8_gateway.scrape({"Accept": f"text/plain;version=0.0.4;escaping={scheme}"})
    assert status == 200 and headers["Content-Type"].endswith(f"escaping={scheme}")
    assert counter_line in text.splitlines()
    promtool_check(text)


def test_prometheus_2_stores_the_escaped_names(utf8_gateway, prometheus_server):
    utf8_gateway.ok("POST", PATH, utf8_body())
    prom = prometheus_server(utf8_gateway)
    result = prom.wait_for('http_requests_total{my_label="v1"}', lambda r: len(r) == 1, timeout=30)
    metric = result[0]["metric"]
    assert metric["http_method"] == "GET" and metric["job"] == "checkout"
    assert "instance" not in metric
    assert result[0]["value"][1] == "3"


def test_off_by_default_with_a_message_that_names_the_flag(gateway):
    r = gateway.post("/metrics/job/j", utf8_body())
    assert r.status_code == 400 and "--push.enable-utf8-names" in r.text, r.text
    r = gateway.post("/metrics/job/j/my.label/v", "up 1\n")
    assert r.status_code == 400 and "--push.enable-utf8-names" in r.text, r.text
    r = gateway.post(PATH, "up 1\n")  # `U__my_2e_label` is a legal legacy name: taken as it is
    assert r.status_code == 200
    assert 'up{U__my_2e_label="v1",instance="",job="checkout"} 1' in gateway.scrape_text().splitlines()


@pytest.mark.parametrize(
    "first, second, reason",
    [
        ('{"my.metric"} 1\n', "my_metric 2\n", "my_metric"),  # one name to a legacy scraper
        ("my_metric 2\n", '{"my.metric"} 1\n', "my_metric"),
        ('{"m","a.b"="1",a_b="2"} 1\n', None, "would both be a_b"),
        ('{"a\\"b"} 1\n', None, "cannot contain"),
    ],
)
def test_names_that_would_collide_or_cannot_be_written_are_refused(utf8_gateway, first, second, reason):
    r = utf8_gateway.post("/metrics/job/a", first)
    if second is None:
        assert r.status_code == 400 and reason in r.text, r.text
        return
    assert r.status_code == 200, r.text
    before = utf8_gateway.state()
    r = utf8_gateway.post("/metrics/job/b", second)
    assert r.status_code == 400 and reason in r.text, r.text
    assert utf8_gateway.state() == before


def test_the_extension_forwards_utf8_names(utf8_gateway, extension_sandbox):
    ext = extension_sandbox(utf8_gateway.url, flush="end", platform_metrics="0", utf8_names="true")

    def handler(ctx):
        for _ in range(2):
            r = ext.push("POST", PATH, utf8_body())
            assert r.status_code == 200, r.text

    ext.invoke(handler)
    assert ext.shutdown().exit_codes == {"gravel-extension": 0}
    samples = samples_utf8(utf8_gateway.scrape({"Accept": PROMETHEUS3_ACCEPT}, check=False)[2])
    key = tuple(sorted((("http.method", "GET"), ("instance", ""), ("job", "checkout"), ("my.label", "v1"))))
    assert samples[("http.requests_total", key)] == 6


def test_the_extension_refuses_utf8_names_unless_told(utf8_gateway, extension_sandbox):
    ext = extension_sandbox(utf8_gateway.url, flush="end", platform_metrics="0")

    def handler(ctx):
        r = ext.push("POST", PATH, utf8_body())
        assert r.status_code == 400 and "GRAVEL_UTF8_NAMES" in r.text, r.text

    ext.invoke(handler)
    assert ext.shutdown().exit_codes == {"gravel-extension": 0}
