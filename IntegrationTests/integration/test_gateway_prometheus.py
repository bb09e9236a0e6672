"""gravel-gateway with a real Prometheus server (Debian's `prometheus`).

- Prometheus scrapes the gateway every second (`honor_labels: true`, the way
  a Pushgateway is scraped); after a counter is pushed three times, the query
  API returns 3 for `value_total{job="promtest"}`. Prometheus asks for
  OpenMetrics first, so this also proves Prometheus reads Gravel's OpenMetrics.
- Real inputs (docs/SEMANTICS.md S18): Prometheus' own /metrics (text 0.0.4: the
  Debian build does not serve it as OpenMetrics), pushed with PUT into a
  fresh group, comes back sample for sample.
"""

from conftest import assert_samples_equal, normalise_bounds, parse_scrape, with_labels

COUNTER = "# TYPE value_total counter\nvalue_total 1\n"


def test_prometheus_scrapes_aggregated_counter(gateway, prometheus_server):
    for _ in range(3):
        gateway.ok("POST", "/metrics/job/promtest", COUNTER)
    prom = prometheus_server(gateway)

    up = prom.wait_for('up{job="gravel"}', lambda r: len(r) == 1 and r[0]["value"][1] == "1")
    assert up[0]["metric"]["instance"] == f"127.0.0.1:{gateway.port}"

    result = prom.wait_for(
        'value_total{job="promtest"}',
        lambda r: len(r) == 1 and float(r[0]["value"][1]) == 3,
    )
    metric = result[0]["metric"]
    assert metric["__name__"] == "value_total"
    assert "clearmode" not in metric

    # A later push shows up at the next scrapes.
    gateway.ok("POST", "/metrics/job/promtest", COUNTER)
    prom.wait_for('value_total{job="promtest"}', lambda r: len(r) == 1 and float(r[0]["value"][1]) == 4)


def test_round_trip_of_prometheus_own_metrics(gateway, prometheus_server):
    # Prometheus serves its own /metrics as text 0.0.4 only (its handler does
    # not enable OpenMetrics), so this is the text round trip.
    prom = prometheus_server()  # scrapes nothing: only its own /metrics is wanted
    status, headers, body = prom.get("/metrics", {"Accept": "text/plain;version=0.0.4", "Accept-Encoding": "identity"})
    assert status == 200
    content_type = headers.get("Content-Type", "")
    assert content_type.startswith("text/plain"), content_type
    expected = with_labels(parse_scrape(body.decode("utf-8"), drop_created=True), job="prometheus-self")
    assert len(expected) > 100

    gateway.ok("PUT", "/metrics/job/prometheus-self", body, headers={"Content-Type": content_type})
    text = gateway.scrape_text()
    assert_samples_equal(parse_scrape(text, drop_self=True, drop_created=True), normalise_bounds(expected, text))
