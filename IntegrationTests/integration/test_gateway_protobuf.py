"""The delimited protobuf push format (what Go clients send by default).

A real exposition in protobuf comes from Debian's Prometheus server, which serves its own
/metrics in protobuf when asked. Pushing it must store the same samples as pushing the same
server's text exposition (minus a few samples that change between the two fetches).
"""

import requests

from conftest import parse_scrape

PROTO = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
STABLE_PREFIXES = ("prometheus_build_info", "prometheus_config_last_reload_successful", "go_info", "prometheus_tsdb_head_series")


def fetch(url, accept):
    r = requests.get(url, headers={"Accept": accept}, timeout=10)
    r.raise_for_status()
    return r


def test_protobuf_push_matches_text_push(gateway, prometheus_server):
    prom = prometheus_server(gateway)
    # Warm up: series such as the /metrics handler's own appear after the first fetch.
    for accept in (PROTO, "text/plain; version=0.0.4", PROTO):
        fetch(prom.url + "/metrics", accept)
    proto = fetch(prom.url + "/metrics", PROTO)
    assert "protobuf" in proto.headers["Content-Type"], proto.headers["Content-Type"]
    text = fetch(prom.url + "/metrics", "text/plain; version=0.0.4")

    r = gateway.push("PUT", "/metrics/job/proto", proto.content, headers={"Content-Type": PROTO})
    assert r.status_code == 200, r.text
    r = gateway.push("PUT", "/metrics/job/text", text.content)
    assert r.status_code == 200, r.text

    stored = gateway.samples()
    from_proto = {k: v for k, v in stored.items() if ("job", "proto") in k[1]}
    from_text = {k: v for k, v in stored.items() if ("job", "text") in k[1]}
    assert len(from_proto) > 100
    # Same series (the job label aside), and the stable ones with the same values.
    rekey = lambda d: {(name, frozenset(l for l in labels if l[0] != "job")): v for (name, labels), v in d.items()}
    proto_series, text_series = rekey(from_proto), rekey(from_text)
    assert proto_series.keys() == text_series.keys()
    for key, value in proto_series.items():
        if key[0].startswith(STABLE_PREFIXES):
            assert text_series[key] == value, key


def test_truncated_protobuf_is_refused(gateway):
    before = gateway.state()
    body = bytes([0x20, 0x0A, 0x05]) + b"abc"  # declares 32 bytes, holds 5
    r = gateway.push("POST", "/metrics/job/bad", body, headers={"Content-Type": PROTO})
    assert r.status_code == 400
    assert "protobuf" in r.text
    assert gateway.state() == before
