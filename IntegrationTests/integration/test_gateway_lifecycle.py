"""SIGTERM and SIGINT shut down gracefully (in-flight requests finish, exit 0 within
a few seconds); --series-ttl drops groups that stop pushing."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

import pytest
import requests

from conftest import gateway_binary, parse_scrape, series


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_gateway_with_exit_0(start_gateway, sig):
    gw = start_gateway()
    gw.ok("POST", "/metrics/job/a", "m 1\n")
    # An idle keep-alive connection must not hold the shutdown up.
    session = requests.Session()
    assert session.get(gw.url + "/-/healthy", timeout=5).status_code == 200
    start = time.monotonic()
    rc = gw.stop(sig, timeout=10)
    elapsed = time.monotonic() - start
    print(f"\n{signal.Signals(sig).name}: exit {rc} after {elapsed * 1000:.0f} ms")
    assert rc == 0, gw.log()
    assert elapsed < 3
    assert "stopped" in gw.log()


def test_in_flight_push_finishes_and_new_connections_are_refused(start_gateway):
    gw = start_gateway()
    body = b"inflight_total 1\n" + b"# " + b"p" * 2000 + b"\n"
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
        s.sendall(b"POST /metrics/job/inflight HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        s.sendall(body[:100])
        time.sleep(0.2)
        gw.proc.send_signal(signal.SIGTERM)

        # The listener closes: new connections are refused while the push is in flight.
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", gw.port), timeout=1).close()
            except ConnectionRefusedError:
                break
            assert time.monotonic() < deadline, "still accepting connections after SIGTERM"
            time.sleep(0.05)
        assert gw.proc.poll() is None, "exited before the in-flight push was answered"

        s.sendall(body[100:])
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = s.recv(65536)
            assert chunk, f"connection closed without a response: {response!r}"
            response += chunk
    assert response.startswith(b"HTTP/1.1 200"), response
    assert gw.proc.wait(timeout=10) == 0, gw.log()
    gw.stopped_on_purpose = True


def test_graceful_shutdown_does_not_wait_forever_for_a_stalled_client(start_gateway):
    gw = start_gateway("--read-timeout", "2s")
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
        s.sendall(b"POST /metrics/job/stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nm 1\n")
        time.sleep(0.2)
        start = time.monotonic()
        rc = gw.stop(signal.SIGTERM, timeout=15)
        elapsed = time.monotonic() - start
    assert rc == 0, gw.log()
    assert elapsed < 5, elapsed


# -- series TTL -------------------------------------------------------------

def scrape(gw) -> dict:
    return parse_scrape(gw.scrape_text())


def test_series_ttl_drops_groups_that_stop_pushing(start_gateway):
    gw = start_gateway("--series-ttl", "2s")
    pushed_at = time.time()
    gw.ok("POST", "/metrics/job/stale", "# TYPE stale_total counter\nstale_total 1\n")
    gw.ok("POST", "/metrics/job/live", "# TYPE live gauge\nlive 1\n")
    samples = scrape(gw)
    # Until it expires, push_time_seconds tells its age.
    assert abs(samples[series("push_time_seconds", job="stale")] - pushed_at) < 2
    assert samples[series("stale_total", job="stale")] == 1

    deadline = time.monotonic() + 10
    while series("stale_total", job="stale") in scrape(gw):
        gw.ok("POST", "/metrics/job/live", "# TYPE live gauge\nlive 1\n")  # keeps "live" young
        assert time.monotonic() < deadline, "the stale group never expired"
        time.sleep(0.2)
    expired_after = time.time() - pushed_at
    assert expired_after >= 2, f"expired after {expired_after:.2f} s, before the TTL"
    samples = scrape(gw)
    assert series("push_time_seconds", job="stale") not in samples
    assert samples[series("live", job="live")] == 1
    assert series("push_time_seconds", job="live") in samples
    assert samples[series("gravel_gateway_groups_expired_total")] == 1
    assert samples[series("gravel_gateway_groups")] == 1
    # An expired group starts afresh when pushed again: the counter restarts at 1.
    gw.ok("POST", "/metrics/job/stale", "# TYPE stale_total counter\nstale_total 1\n")
    assert scrape(gw)[series("stale_total", job="stale")] == 1


def test_without_series_ttl_groups_stay(start_gateway):
    gw = start_gateway()
    gw.ok("POST", "/metrics/job/a", "m 1\n")
    time.sleep(2.5)
    samples = scrape(gw)
    assert samples[series("m", job="a")] == 1
    assert samples[series("gravel_gateway_groups_expired_total")] == 0


@pytest.mark.parametrize("value", ["90", "0s", "1.5h", "soon", "-1m"])
def test_bad_series_ttl_stops_start_up(value):
    proc = subprocess.run([str(gateway_binary()), "-l", "127.0.0.1:0", f"--series-ttl={value}"],
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode != 0
    assert f"--series-ttl {value} is not a duration" in proc.stderr, proc.stderr
    assert "90s, 15m, 2h" in proc.stderr
