"""The Pushgateway's JSON API on gravel-gateway, compared with Debian's
prometheus-pushgateway given the same pushes; the admin wipe; the gateway's own
metrics; listening on IPv4 and IPv6 at once.

Each push goes to a fresh group of its own on both gateways, so the Pushgateway's
replace-everything rule and Gravel's merge rules hold the same values.
"""

from __future__ import annotations

import datetime
import socket
import subprocess
import time

import pytest
import requests

from conftest import (
    HTTP_TIMEOUT_S, START_TIMEOUT_S, _spawn, _stop_process, _wait_ready, free_port, gateway_binary, parse_scrape,
    parse_types, series,
)
from pushgateway_fixture import start_pushgateway  # noqa: F401  (a fixture)

PUSHES = [
    ("/metrics/job/batch/region/eu",
     '# HELP reqs Requests "served" <by> path.\n# TYPE reqs counter\nreqs{path="/a"} 3\nreqs{path="/b"} 1234567\n'
     "# TYPE temp gauge\ntemp 0.00001\n"
     '# TYPE lat histogram\nlat_bucket{le="0.1"} 1\nlat_bucket{le="1"} 2\nlat_bucket{le="+Inf"} 3\nlat_sum 2.5\nlat_count 3\n'
     '# TYPE s summary\ns{quantile="0.5"} 1\ns{quantile="0.99"} NaN\ns_sum 3\ns_count 2\n'
     "u 1e21\n"),
    ("/metrics/job/other/instance/i1", 'x{v="quote \\" backslash \\\\ newline \\n <tag> & é"} -0.5\n'),
    ("/metrics/job@base64/c2xhc2gvam9i", "# TYPE only_help gauge\n# HELP only_help Has help.\nonly_help +Inf\n"),
]


def rfc3339(text: str) -> datetime.datetime:
    """Parses Go's RFC 3339 with up to 9 fraction digits (Python takes 6)."""
    head, _, zone = text.partition("Z") if text.endswith("Z") else (text, "", "")
    if "." in head:
        whole, fraction = head.split(".")
        head = f"{whole}.{fraction[:6]}"
    return datetime.datetime.fromisoformat(head + "+00:00")


def normalised_groups(payload: dict) -> dict:
    """The groups of a /api/v1/metrics answer keyed by their labels, series sorted by
    their labels, with times checked for form and then dropped."""
    assert payload["status"] == "success"
    groups = {}
    for group in payload["data"]:
        key = frozenset(group["labels"].items())
        assert key not in groups
        out = {}
        for name, entry in group.items():
            if name in ("labels", "last_push_successful"):
                out[name] = entry
                continue
            assert set(entry) <= {"time_stamp", "type", "help", "metrics"}, entry
            rfc3339(entry["time_stamp"])  # well-formed, not compared
            metrics = sorted(entry["metrics"], key=lambda m: sorted(m["labels"].items()))
            if name in ("push_time_seconds", "push_failure_time_seconds"):
                # Times differ between the two gateways: keep their shape only.
                for m in metrics:
                    float(m["value"])
                    m["value"] = "<time>" if name == "push_time_seconds" or m["value"] != "0" else "0"
            out[name] = {k: v for k, v in entry.items() if k != "time_stamp"} | {"metrics": metrics}
        groups[key] = out
    return groups


def test_metrics_json_matches_the_pushgateway(gateway, start_pushgateway):
    pg = start_pushgateway()
    for path, body in PUSHES:
        assert pg.push("PUT", path, body).status_code == 200
        gateway.ok("PUT", path, body)
    ours = requests.get(gateway.url + "/api/v1/metrics", timeout=HTTP_TIMEOUT_S)
    theirs = pg.get("/api/v1/metrics")
    assert ours.status_code == 200
    assert ours.headers["Content-Type"] == theirs.headers["Content-Type"] == "application/json"
    assert ours.headers["Access-Control-Allow-Origin"] == "*"
    expected = normalised_groups(theirs.json())
    actual = normalised_groups(ours.json())
    assert actual.keys() == expected.keys()
    for key in expected:
        assert actual[key] == expected[key], f"group {dict(key)}"
    # Go's encoder sorts keys; so do we, so a byte-level diff of the two is meaningful.
    for group in ours.json()["data"]:
        assert list(group) == sorted(group)


def test_a_refused_push_shows_in_the_json_as_on_the_pushgateway(gateway, start_pushgateway):
    pg = start_pushgateway()
    for target in (pg, gateway):
        assert target.push("PUT", "/metrics/job/a", "# TYPE x counter\nx 1\n").status_code == 200
        assert target.push("PUT", "/metrics/job/b", "y 1\n").status_code == 200
        # x is a counter in group a: a gauge x in group b is refused by both.
        assert target.push("POST", "/metrics/job/b", "# TYPE x gauge\nx 2\n").status_code == 400
    expected = normalised_groups(pg.get("/api/v1/metrics").json())
    actual = normalised_groups(requests.get(gateway.url + "/api/v1/metrics", timeout=HTTP_TIMEOUT_S).json())
    assert actual == expected
    b = actual[frozenset({("job", "b")})]
    assert b["last_push_successful"] is False
    assert b["push_failure_time_seconds"]["metrics"][0]["value"] == "<time>"


def test_status_json_has_the_pushgateway_shape(start_gateway, start_pushgateway):
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    gateway = start_gateway("--web.enable-admin-api")
    theirs = start_pushgateway().get("/api/v1/status").json()
    ours = requests.get(gateway.url + "/api/v1/status", timeout=HTTP_TIMEOUT_S).json()
    assert ours.keys() == theirs.keys() == {"status", "data"}
    assert ours["data"].keys() == theirs["data"].keys() == {"build_information", "flags", "start_time"}
    assert ours["data"]["build_information"]["version"]
    flags = ours["data"]["flags"]
    assert all(isinstance(v, str) for v in flags.values())
    assert flags["web.enable-admin-api"] == "true"
    assert flags["listen"] == f"127.0.0.1:{gateway.port}"
    started = rfc3339(ours["data"]["start_time"])
    assert before - datetime.timedelta(seconds=1) <= started <= datetime.datetime.now(datetime.timezone.utc)


@pytest.mark.parametrize("admin", [False, True])
def test_admin_wipe_only_with_the_flag(start_gateway, start_pushgateway, admin):
    flag = ("--web.enable-admin-api",) if admin else ()
    gateway = start_gateway(*flag)
    pg = start_pushgateway(*flag)
    for target in (gateway, pg):
        assert target.push("PUT", "/metrics/job/a", "x 1\n").status_code == 200
        wipe = requests.put(target.url + "/api/v1/admin/wipe", timeout=HTTP_TIMEOUT_S)
        assert wipe.status_code == (202 if admin else 404)
        groups = requests.get(target.url + "/api/v1/metrics", timeout=HTTP_TIMEOUT_S).json()["data"]
        assert len(groups) == (0 if admin else 1)
        if admin:
            assert requests.get(target.url + "/api/v1/admin/wipe", timeout=HTTP_TIMEOUT_S).status_code == 405
    if admin:
        assert series("x", job="a", instance="") not in gateway.samples()
        # The gateway takes pushes again after a wipe, types free to change.
        gateway.ok("PUT", "/metrics/job/a", "# TYPE x gauge\nx 2\n")
        assert gateway.samples()[series("x", job="a")] == 2


def test_wipe_needs_credentials_when_pushes_do(start_gateway, tmp_path):
    hashes = tmp_path / "hashes"
    # bcrypt of "secret" at cost 4 (as `htpasswd -bnBC 4 "" secret` writes it).
    hashes.write_text(subprocess.run(
        ["htpasswd", "-bnBC", "4", "", "secret"], capture_output=True, text=True, check=True).stdout.strip(":\n") + "\n")
    gateway = start_gateway("--web.enable-admin-api", "--basic-auth-file", str(hashes))
    gateway.ok("PUT", "/metrics/job/a", "x 1\n", headers={"Authorization": "Basic " + "dTpzZWNyZXQ="})
    assert requests.put(gateway.url + "/api/v1/admin/wipe", timeout=HTTP_TIMEOUT_S).status_code == 401
    assert requests.put(gateway.url + "/api/v1/admin/wipe", auth=("u", "wrong"), timeout=HTTP_TIMEOUT_S).status_code == 401
    assert len(requests.get(gateway.url + "/api/v1/metrics", timeout=HTTP_TIMEOUT_S).json()["data"]) == 1
    assert requests.put(gateway.url + "/api/v1/admin/wipe", auth=("u", "secret"), timeout=HTTP_TIMEOUT_S).status_code == 202
    assert requests.get(gateway.url + "/api/v1/metrics", timeout=HTTP_TIMEOUT_S).json()["data"] == []


def test_own_metrics_count_requests_and_read_proc(gateway):
    gateway.ok("POST", "/metrics/job/a", "x 1\n")
    gateway.ok("POST", "/metrics/job/a", "x 1\n")
    assert gateway.push("POST", "/metrics/job/a", "x{\n").status_code == 400
    assert gateway.delete("/metrics/job/b").status_code in (200, 202)
    gateway.scrape_text()
    text = gateway.scrape_text()  # promtool-checked
    samples = parse_scrape(text)
    assert samples[series("gravel_gateway_http_requests_total", code="200", handler="push", method="post")] == 2
    assert samples[series("gravel_gateway_http_requests_total", code="400", handler="push", method="post")] == 1
    assert samples[series("gravel_gateway_http_requests_total", code="200", handler="metrics", method="get")] >= 1
    assert samples[series("gravel_gateway_http_request_duration_seconds_count", handler="push")] == 3
    assert samples[series("gravel_gateway_http_request_duration_seconds_bucket", handler="push", le="+Inf")] == 3
    assert samples[series("gravel_gateway_http_request_size_bytes_sum", handler="push")] == 4 + 4 + 3
    assert samples[series("gravel_gateway_http_response_size_bytes_count", handler="metrics")] >= 1
    types = parse_types(text)
    assert types["gravel_gateway_http_request_duration_seconds"] == "histogram"
    assert types["process_cpu_seconds_total"] == "counter"
    pid = gateway.proc.pid
    with open(f"/proc/{pid}/status") as f:
        rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    assert abs(samples[series("process_resident_memory_bytes")] - rss_kb * 1024) < 64 * 1024 * 1024
    assert samples[series("process_open_fds")] >= 3
    assert samples[series("process_max_fds")] >= samples[series("process_open_fds")]
    assert samples[series("process_virtual_memory_bytes")] > samples[series("process_resident_memory_bytes")]
    assert samples[series("process_cpu_seconds_total")] > 0
    # The gateway started during this test's set-up.
    assert time.time() - 120 < samples[series("process_start_time_seconds")] <= time.time() + 1


def test_pushed_process_metrics_keep_the_scrape_valid(gateway):
    # Python's prometheus_client pushes its process collector's metrics by default.
    body = ("# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
            "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\n"
            "# TYPE process_open_fds gauge\nprocess_open_fds 7\n")
    gateway.ok("PUT", "/metrics/job/python", body)
    text = gateway.scrape_text()  # promtool rejects a second TYPE line of one name
    assert text.count("# TYPE process_cpu_seconds_total ") == 1
    assert text.count("# TYPE process_open_fds ") == 1
    samples = parse_scrape(text)
    assert samples[series("process_cpu_seconds_total", job="python")] == 1.5
    assert series("process_resident_memory_bytes") in samples  # the gateway's own, not pushed


def test_listen_on_every_interface_takes_ipv4_and_ipv6(tmp_path):
    port = free_port()
    log = tmp_path / "gateway.log"
    proc = _spawn([str(gateway_binary()), "-l", f":{port}"], log, tmp_path)
    try:
        assert _wait_ready(f"http://127.0.0.1:{port}/-/ready", proc, START_TIMEOUT_S), log.read_text()
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            with socket.create_connection((host, port), timeout=HTTP_TIMEOUT_S) as s:
                assert s.family == family
                s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                reply = b""
                while chunk := s.recv(4096):
                    reply += chunk
            assert reply.startswith(b"HTTP/1.1 200"), (host, reply)
    finally:
        _stop_process(proc)
