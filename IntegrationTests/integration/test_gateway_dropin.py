"""Gravel as a drop-in for the Prometheus Pushgateway (docs/SEMANTICS.md S2, S7, S8, S13, S20).

Debian's client_golang (built offline from golang-github-prometheus-client-golang-dev)
pushes to Gravel and to Debian's prometheus-pushgateway side by side, and one Prometheus
scrapes both with `honor_labels: true`: the client's Push, Add and Delete succeed against
both, and PromQL returns the same series (no `instance` from the gateway's address) and the
same values from both. Also: text 0.0.4 is served by default even to a scraper that prefers
OpenMetrics (a counter pushed as `requests` keeps its name), OpenMetrics behind
--enable-openmetrics with Accept q-values honoured, push_failure_time_seconds per group,
and timestamps refused except on pebble series.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import parse_scrape, series
from go_programs import build_go_program
from pushgateway_fixture import start_pushgateway  # noqa: F401  (fixture)

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.fixture(scope="session")
def goclient(tmp_path_factory) -> Path:
    """The Go push client of IntegrationTests/goclient, built once per session, offline."""
    return build_go_program("goclient", tmp_path_factory.mktemp("goclient"))


def run_go(goclient: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return subprocess.run([str(goclient), "-url", url, *args], capture_output=True, text=True, timeout=30, env=env)


@pytest.fixture
def pushgateway(start_pushgateway) -> str:
    return start_pushgateway().url


@pytest.mark.parametrize("fmt", ["text", "proto"])
def test_go_client_push_add_delete(gateway, goclient, fmt):
    for op in ("push", "add", "add"):
        r = run_go(goclient, gateway.url, "-job", "batch", "-op", op, "-format", fmt, "-value", "2")
        assert r.returncode == 0, f"{op}: {r.stderr}"
    samples = gateway.samples()
    # Push replaced the group; each Add then summed the counter and histogram into it.
    assert samples[series("done_total", job="batch")] == 6
    assert samples[series("duration_seconds_bucket", job="batch", le="1")] == 6
    assert samples[series("duration_seconds_count", job="batch")] == 12
    assert samples[series("last_run_seconds", job="batch")] == 2  # a gauge: replaced
    r = run_go(goclient, gateway.url, "-job", "batch", "-op", "delete")
    assert r.returncode == 0, f"Delete failed (Go's client wants 202 Accepted): {r.stderr}"
    assert not [k for k in gateway.samples() if dict(k[1]).get("job") == "batch"]


def test_same_promql_answers_as_the_pushgateway(gateway, pushgateway, goclient, prometheus_server):
    for url in (gateway.url, pushgateway):
        for args in (["-job", "batch", "-op", "push"], ["-job", "batch", "-op", "add", "-grouping", "shard=a", "-value", "3"]):
            r = run_go(goclient, url, *args, "-format", "proto")
            assert r.returncode == 0, f"{url} {args}: {r.stderr}"
    # One Prometheus per gateway (a series both expose would be one series in one server).
    from_gravel = prometheus_server(gateway)
    from_pushgateway = prometheus_server(pushgateway.removeprefix("http://"))

    def answers(prom, expr):
        result = prom.wait_for(expr, lambda r: len(r) > 0, timeout=30)
        return sorted((tuple(sorted(x["metric"].items())), x["value"][1]) for x in result)

    for expr in ("done_total", "last_run_seconds", "duration_seconds_bucket", "size_bytes_count", "size_bytes_sum"):
        gravel, pg = answers(from_gravel, expr), answers(from_pushgateway, expr)
        assert gravel == pg, f"{expr}: Gravel {gravel} != Pushgateway {pg}"
    for labels, _ in answers(from_gravel, "done_total"):
        assert "instance" not in dict(labels), f"the gateway's address leaked into a series: {labels}"


def test_text_by_default_openmetrics_behind_a_flag(start_gateway):
    plain = start_gateway()
    plain.ok("POST", "/metrics/job/j", "# TYPE requests counter\nrequests 3\n")
    status, headers, text = plain.scrape({"Accept": PROMETHEUS_ACCEPT})
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'requests{instance="",job="j"} 3' in text.splitlines()

    om = start_gateway("--enable-openmetrics")
    om.ok("POST", "/metrics/job/j", "# TYPE requests counter\nrequests 3\n")
    status, headers, text = om.scrape({"Accept": PROMETHEUS_ACCEPT})
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert 'requests_total{instance="",job="j"} 3' in text.splitlines()
    # q-values decide: text weighed above OpenMetrics gets text.
    status, headers, _ = om.scrape({"Accept": "application/openmetrics-text;q=0.2,text/plain;q=0.9"})
    assert headers["Content-Type"].startswith("text/plain")


def test_instance_label_added_only_where_missing(gateway):
    gateway.ok("POST", "/metrics/job/j", 'a 1\nb{instance="x"} 2\nc{zone="z"} 3\n')
    gateway.ok("POST", "/metrics/job/k/instance/i", "d 4\n")
    lines = gateway.scrape_text().splitlines()
    for expected in ('a{instance="",job="j"} 1', 'b{instance="x",job="j"} 2', 'c{instance="",job="j",zone="z"} 3',
                     'd{instance="i",job="k"} 4', 'push_time_seconds{instance="",job="j"}'):
        assert any(line.startswith(expected) for line in lines), f"no line starts with {expected!r}"


def test_push_failure_time_seconds(gateway):
    gateway.ok("POST", "/metrics/job/j", "# TYPE c counter\nc 1\n")
    before = gateway.samples(drop_self=False)
    assert before[series("push_failure_time_seconds", job="j")] == 0
    started = time.time()
    r = gateway.post("/metrics/job/j", "# TYPE c gauge\nc 1\n")
    assert r.status_code == 400
    after = gateway.samples(drop_self=False)
    failed_at = after[series("push_failure_time_seconds", job="j")]
    assert started - 1 <= failed_at <= time.time() + 1
    # The alert from the Pushgateway's README fires: the last push failed.
    assert failed_at > after[series("push_time_seconds", job="j")]
    assert after[series("c", job="j")] == 1  # the refused push changed nothing else
    # A group whose every push failed exists with its failure time only.
    r = gateway.post("/metrics/job/never", "x{ 1\n")
    assert r.status_code == 400
    samples = gateway.samples(drop_self=False)
    assert samples[series("push_time_seconds", job="never")] == 0
    assert samples[series("push_failure_time_seconds", job="never")] > 0


def test_timestamps_refused_except_on_pebbles(gateway):
    r = gateway.post("/metrics/job/j", "a 1 1700000000000\n")
    assert r.status_code == 400 and "timestamp" in r.text and "line 1" in r.text
    now_ms = int(time.time() * 1000)
    gateway.ok("POST", "/metrics/job/j", f'# TYPE g gauge\ng{{clearmode="max5m"}} 7 {now_ms - 1000}\n')
    assert gateway.samples()[series("g", job="j")] == 7


def test_conflicting_help_is_logged_once(gateway):
    gateway.ok("POST", "/metrics/job/a", "# HELP jobs Jobs done.\n# TYPE jobs counter\njobs 1\n")
    for i in range(3):
        gateway.ok("POST", f"/metrics/job/b{i}", "# HELP jobs Work items finished.\n# TYPE jobs counter\njobs 1\n")
    text = gateway.scrape_text()
    assert "# HELP jobs Jobs done." in text  # the first HELP wins, once per family
    deadline = time.monotonic() + 5
    while "different HELP" not in gateway.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gateway.log().count("different HELP") == 1, gateway.log()[-2000:]
