"""Wire formats of gravel-gateway: gzip, scrape content types, self metrics.

Contract (docs/SEMANTICS.md S13, S14 and S20-S22):
- A push with `Content-Encoding: gzip` is decompressed.
- A scrape with `Accept-Encoding: gzip` is answered gzip-compressed.
- The scrape is text 0.0.4 (`text/plain; version=0.0.4; charset=utf-8`) by
  default and OpenMetrics (`application/openmetrics-text; version=1.0.0;
  charset=utf-8`, ending with `# EOF`) when Accept asks for it.
- Output is deterministic and passes `promtool check metrics`.
- The scrape has a `push_time_seconds` gauge per group (labelled with the
  grouping key) and the gateway's own `gravel_gateway_*` metrics.
"""

import gzip
import time

import pytest

from conftest import (
    OPENMETRICS_CONTENT_TYPE,
    PROMETHEUS_ACCEPT,
    TEXT_CONTENT_TYPE,
    assert_samples_equal,
    openmetrics_check,
    parse_scrape,
    parse_types,
    promtool_check,
    same_content_type,
    series,
    strip_self_text,
)

BODY = (
    "# HELP requests_total Requests served.\n"
    "# TYPE requests_total counter\n"
    'requests_total{code="200",path="/a"} 3\n'
    'requests_total{code="500",path="/a"} 1\n'
    "# TYPE temperature gauge\n"
    "temperature 21.5\n"
    "# TYPE latency_seconds histogram\n"
    'latency_seconds_bucket{le="0.1"} 1\n'
    'latency_seconds_bucket{le="1"} 2\n'
    'latency_seconds_bucket{le="+Inf"} 3\n'
    "latency_seconds_sum 4.5\n"
    "latency_seconds_count 3\n"
    "# TYPE size_bytes summary\n"
    'size_bytes{quantile="0.5"} 10\n'
    "size_bytes_sum 30\n"
    "size_bytes_count 2\n"
)

EXPECTED = {
    series("requests_total", job="fmt", code="200", path="/a"): 3,
    series("requests_total", job="fmt", code="500", path="/a"): 1,
    series("temperature", job="fmt"): 21.5,
    series("latency_seconds_bucket", job="fmt", le="0.1"): 1,
    series("latency_seconds_bucket", job="fmt", le="1"): 2,
    series("latency_seconds_bucket", job="fmt", le="+Inf"): 3,
    series("latency_seconds_sum", job="fmt"): 4.5,
    series("latency_seconds_count", job="fmt"): 3,
    series("size_bytes", job="fmt", quantile="0.5"): 10,
    series("size_bytes_sum", job="fmt"): 30,
    series("size_bytes_count", job="fmt"): 2,
}


def normalise_le(samples):
    """Bucket bounds as floats, so that "1" and "1.0" compare equal."""
    out = {}
    for (name, labels), value in samples.items():
        lab = dict(labels)
        if "le" in lab:
            lab["le"] = repr(float(lab["le"]))
        out[series(name, **lab)] = value
    return out


def test_gzip_push(gateway):
    r = gateway.push(
        "POST", "/metrics/job/fmt", gzip.compress(BODY.encode()), headers={
            "Content-Type": "text/plain; version=0.0.4; charset=utf-8",
            "Content-Encoding": "gzip",
        },
    )
    assert r.status_code == 200, r.text
    assert_samples_equal(normalise_le(gateway.samples()), normalise_le(EXPECTED))


def test_gzip_scrape(gateway):
    gateway.ok("POST", "/metrics/job/fmt", BODY)
    plain_status, plain_headers, plain = gateway.scrape_raw()
    assert plain_status == 200
    assert (plain_headers.get("Content-Encoding") or "identity").lower() == "identity"

    status, headers, raw = gateway.scrape_raw({"Accept-Encoding": "gzip"})
    assert status == 200
    assert (headers.get("Content-Encoding") or "").lower() == "gzip", dict(headers)
    assert raw[:2] == b"\x1f\x8b", "body is not gzip data"
    text = gzip.decompress(raw).decode("utf-8")
    promtool_check(text)
    assert strip_self_text(text) == strip_self_text(plain.decode("utf-8"))

    # Through the checked scrape helper as well.
    _, _, checked = gateway.scrape({"Accept-Encoding": "gzip, deflate"})
    assert strip_self_text(checked) == strip_self_text(plain.decode("utf-8"))


def test_gzip_openmetrics_scrape(start_gateway):
    gateway = start_gateway("--enable-openmetrics")
    gateway.ok("POST", "/metrics/job/fmt", BODY)
    status, headers, raw = gateway.scrape_raw({
        "Accept": "application/openmetrics-text; version=1.0.0",
        "Accept-Encoding": "gzip",
    })
    assert status == 200
    assert (headers.get("Content-Encoding") or "").lower() == "gzip"
    assert same_content_type(headers.get("Content-Type"), OPENMETRICS_CONTENT_TYPE)
    openmetrics_check(gzip.decompress(raw).decode("utf-8"))


def test_default_scrape_is_text_0_0_4(gateway):
    gateway.ok("POST", "/metrics/job/fmt", BODY)
    for accept in (None, "*/*", "text/plain", "text/plain;version=0.0.4"):
        status, headers, text = gateway.scrape({"Accept": accept} if accept else None)
        assert status == 200
        assert same_content_type(headers.get("Content-Type"), TEXT_CONTENT_TYPE), (accept, headers.get("Content-Type"))
        assert "# EOF" not in text
        assert_samples_equal(normalise_le(parse_scrape(text, drop_self=True)), normalise_le(EXPECTED))


@pytest.mark.parametrize(
    "accept",
    ["application/openmetrics-text; version=1.0.0", PROMETHEUS_ACCEPT],
    ids=["openmetrics", "prometheus-scraper"],
)
def test_openmetrics_scrape(start_gateway, accept):
    gateway = start_gateway("--enable-openmetrics")
    gateway.ok("POST", "/metrics/job/fmt", BODY)
    status, headers, text = gateway.scrape({"Accept": accept})
    assert status == 200
    assert same_content_type(headers.get("Content-Type"), OPENMETRICS_CONTENT_TYPE), headers.get("Content-Type")
    assert text.endswith("# EOF\n")
    assert_samples_equal(normalise_le(parse_scrape(text, drop_self=True, drop_created=True)), normalise_le(EXPECTED))
    types = parse_types(text)
    assert types.get("requests") == "counter" or types.get("requests_total") == "counter", types
    assert types.get("latency_seconds") == "histogram", types
    assert types.get("size_bytes") == "summary", types


def test_scrape_of_empty_gateway(start_gateway):
    gateway = start_gateway("--enable-openmetrics")
    _, headers, text = gateway.scrape()
    assert same_content_type(headers.get("Content-Type"), TEXT_CONTENT_TYPE)
    assert parse_scrape(text, drop_self=True) == {}
    _, _, om = gateway.scrape({"Accept": "application/openmetrics-text; version=1.0.0"})
    assert om.endswith("# EOF\n")


def test_output_is_deterministic_and_sorted(gateway):
    gateway.ok("POST", "/metrics/job/fmt", BODY)
    gateway.ok("POST", "/metrics/job/zzz", "b 1\na 2\n")
    gateway.ok("POST", "/metrics/job/aaa", "b 3\n")
    first = strip_self_text(gateway.scrape_text())
    second = strip_self_text(gateway.scrape_text())
    assert first == second
    family_order = [line.split()[2] for line in first.split("\n") if line.startswith("# TYPE ")]
    assert family_order == sorted(family_order), family_order
    assert len(family_order) == len(set(family_order)), "a family appears twice"


def test_every_family_has_type_and_pushed_help(gateway):
    gateway.ok("POST", "/metrics/job/fmt", "plain 1\n# HELP g A gauge.\n# TYPE g gauge\ng 2\n")
    text = gateway.scrape_text()
    helps = {line.split()[2] for line in text.split("\n") if line.startswith("# HELP ")}
    types = parse_types(text)
    assert {"plain", "g"} <= set(types), types
    # HELP is written when a push gave one; no text is invented for the others.
    assert "g" in helps and "plain" not in helps, helps
    assert types["g"] == "gauge"
    assert types["plain"] == "untyped"


def test_push_time_seconds_per_group(gateway):
    start = time.time()
    gateway.ok("POST", "/metrics/job/a", "m 1\n")
    gateway.ok("POST", "/metrics/job/b/instance/i", "n 1\n")
    end = time.time()
    text = gateway.scrape_text()
    assert parse_types(text).get("push_time_seconds") == "gauge"
    times = {k: v for k, v in parse_scrape(text).items() if k[0] == "push_time_seconds"}
    assert set(times) == {
        series("push_time_seconds", job="a"),
        series("push_time_seconds", job="b", instance="i"),
    }
    for key, value in times.items():
        assert start - 5 <= value <= end + 5, f"{key}: {value} is not the time of the push ({start}..{end})"


def test_push_time_seconds_moves_with_later_pushes(gateway):
    gateway.ok("POST", "/metrics/job/a", "m 1\n")
    first = gateway.samples(drop_self=False)[series("push_time_seconds", job="a")]
    time.sleep(1.1)
    gateway.ok("POST", "/metrics/job/a", "m 1\n")
    second = gateway.samples(drop_self=False)[series("push_time_seconds", job="a")]
    assert second > first


def test_self_metrics_present(gateway):
    gateway.ok("POST", "/metrics/job/a", "m 1\n")
    text = gateway.scrape_text()
    own = [k for k in parse_scrape(text) if k[0].startswith("gravel_gateway_")]
    assert own, "no gravel_gateway_* metrics in the scrape"
    families = [name for name in parse_types(text) if name.startswith("gravel_gateway_")]
    assert families, "gravel_gateway_* metrics have no TYPE lines"
