"""--max-body-bytes (413, also after gzip decoding), --max-series (422), and
--read-timeout against half-open and slow clients, --write-timeout against a scraper that
stops reading."""

from __future__ import annotations

import concurrent.futures
import gzip
import socket
import time
import zlib

import requests

from conftest import parse_scrape, series

MIB = 1024 * 1024


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def gzip_of_zeros(size: int) -> bytes:
    """gzip of `size` bytes of "0", built in pieces so the test itself stays small."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"0" * MIB
    out = [z.compress(chunk) for _ in range(size // MIB)]
    out.append(z.flush())
    return b"".join(out)


def padded_body(size: int) -> bytes:
    """A valid body of exactly `size` bytes: one sample, then a comment pad."""
    sample = b"padded_metric 1\n"
    pad = size - len(sample) - 3
    assert pad >= 0
    return sample + b"# " + b"x" * pad + b"\n"


# -- body size --------------------------------------------------------------

def test_body_at_the_limit_passes_and_one_byte_more_is_413(start_gateway):
    gw = start_gateway("--max-body-bytes", "1000")
    gw.ok("POST", "/metrics/job/a", padded_body(1000))
    before = gw.state()
    r = gw.post("/metrics/job/a", padded_body(1001))
    assert r.status_code == 413, r.text
    assert "1000 bytes" in r.text and "--max-body-bytes" in r.text
    assert gw.state() == before


def test_chunked_body_over_the_limit_is_413(start_gateway):
    gw = start_gateway("--max-body-bytes", "1000")
    r = requests.post(f"{gw.url}/metrics/job/a", data=iter([padded_body(600), padded_body(600)]), timeout=10)
    assert r.status_code == 413, r.text
    assert gw.samples() == {}


def test_gzip_bomb_is_413_without_inflating(start_gateway):
    gw = start_gateway("--max-body-bytes", str(MIB))
    # 512 MiB of zeros compress to about 500 KiB: under the limit on the wire.
    bomb = gzip_of_zeros(512 * MIB)
    assert len(bomb) < MIB
    rss_before = rss_kib(gw.proc.pid)
    r = gw.post("/metrics/job/a", bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413, r.text
    assert "decompressed" in r.text and "--max-body-bytes" in r.text
    # Inflating stops at the limit: memory does not grow anywhere near 512 MiB.
    assert rss_kib(gw.proc.pid) - rss_before < 64 * 1024
    assert gw.samples() == {}


def test_gzip_body_at_the_limit_after_decoding_passes(start_gateway):
    gw = start_gateway("--max-body-bytes", "1000")
    gw.ok("POST", "/metrics/job/a", gzip.compress(padded_body(1000)), headers={"Content-Encoding": "gzip"})
    r = gw.post("/metrics/job/a", gzip.compress(padded_body(1001)), headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413
    assert gw.samples() == {series("padded_metric", job="a"): 1.0}


# -- series count -----------------------------------------------------------

def body_of(names: range) -> str:
    return "# TYPE s gauge\n" + "".join(f's{{i="{i}"}} 1\n' for i in names)


def test_max_series_refuses_the_whole_push(start_gateway):
    gw = start_gateway("--max-series", "10")
    gw.ok("POST", "/metrics/job/a", body_of(range(8)))
    before = gw.state()
    r = gw.post("/metrics/job/b", body_of(range(100, 103)))
    assert r.status_code == 422, r.text
    assert "over the limit of 10" in r.text and "--max-series" in r.text
    assert gw.state() == before
    # Updating stored series adds none: allowed at the limit.
    gw.ok("POST", "/metrics/job/a", body_of(range(8)))
    gw.ok("POST", "/metrics/job/b", body_of(range(100, 102)))
    assert len(gw.samples()) == 10
    # PUT counts the series it replaces as gone.
    gw.ok("PUT", "/metrics/job/a", body_of(range(50, 58)))
    r = gw.post("/metrics/job/c", "one_more 1\n")
    assert r.status_code == 422
    gw.ok("DELETE", "/metrics/job/b")
    gw.ok("POST", "/metrics/job/c", "one_more 1\n")
    assert len(gw.samples()) == 9


def test_gateway_series_gauge_tracks_the_limit(start_gateway):
    gw = start_gateway("--max-series", "5")
    gw.ok("POST", "/metrics/job/a", body_of(range(5)))
    samples = gw.samples(drop_self=False)
    assert samples[series("gravel_gateway_series")] == 5


# -- read timeouts ----------------------------------------------------------

def closed_within(sock: socket.socket, seconds: float, trickle: bytes | None = None, every: float = 0.2) -> float | None:
    """Seconds until the server closes `sock` (optionally while trickling a byte
    of `trickle` every `every` seconds), or None if it stays open."""
    start = time.monotonic()
    sock.settimeout(every)
    position = 0
    while time.monotonic() - start < seconds:
        try:
            data = sock.recv(65536)
            if data == b"":
                return time.monotonic() - start
            # A response (408/400) before the close is fine; keep reading.
        except socket.timeout:
            pass
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
        if trickle is not None and position < len(trickle):
            try:
                sock.sendall(trickle[position:position + 1])
            except (ConnectionResetError, BrokenPipeError):
                return time.monotonic() - start
            position += 1
    return None


def test_half_open_connection_is_closed(start_gateway):
    gw = start_gateway("--read-timeout", "1s")
    with socket.create_connection(("127.0.0.1", gw.port)) as s:
        elapsed = closed_within(s, 6)
    assert elapsed is not None and 0.5 < elapsed < 4, elapsed


def test_trickled_request_head_is_closed(start_gateway):
    gw = start_gateway("--read-timeout", "1s")
    head = b"POST /metrics/job/slow HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 200 + b"\r\n"
    with socket.create_connection(("127.0.0.1", gw.port)) as s:
        elapsed = closed_within(s, 8, trickle=head, every=0.1)
    assert elapsed is not None and elapsed < 4, elapsed


def test_trickled_body_is_closed_and_not_applied(start_gateway):
    gw = start_gateway("--read-timeout", "1s")
    body = b"slow_metric 1\n" + b"# " + b"x" * 500 + b"\n"
    with socket.create_connection(("127.0.0.1", gw.port)) as s:
        s.sendall(b"POST /metrics/job/slow HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        # One byte every 100 ms keeps the idle timer from firing; the body deadline does.
        elapsed = closed_within(s, 8, trickle=body, every=0.1)
    assert elapsed is not None and elapsed < 4, elapsed
    assert gw.samples() == {}


def test_keepalive_connections_get_a_fresh_deadline_per_request(start_gateway):
    gw = start_gateway("--read-timeout", "1s")
    session = requests.Session()
    for _ in range(4):
        assert session.post(f"{gw.url}/metrics/job/a", data="m 1\n", timeout=5).status_code == 200
        time.sleep(0.5)
    assert gw.samples() == {series("m", job="a"): 4.0}


def test_slow_clients_do_not_hold_up_others(start_gateway):
    gw = start_gateway("--read-timeout", "2s")
    slow = []
    for _ in range(100):
        s = socket.create_connection(("127.0.0.1", gw.port))
        s.sendall(b"POST /metrics/job/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nslow")
        slow.append(s)
    try:
        def push(i: int) -> float:
            start = time.perf_counter()
            r = requests.post(f"{gw.url}/metrics/job/fast", data=f'fast{{i="{i}"}} 1\n', timeout=10)
            assert r.status_code == 200
            return time.perf_counter() - start
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            latencies = list(pool.map(push, range(50)))
        assert max(latencies) < 1.0, latencies
        assert len(gw.samples()) == 50
        # And the slow ones are all cut off by the deadline.
        deadline = time.monotonic() + 8
        for s in slow:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                while s.recv(65536):
                    pass
            except ConnectionResetError:
                pass
    finally:
        for s in slow:
            s.close()
    assert gw.proc.poll() is None


def test_bad_read_timeout_stops_start_up(tmp_path):
    import subprocess
    from conftest import gateway_binary
    proc = subprocess.run([str(gateway_binary()), "-l", "127.0.0.1:0", "--read-timeout", "30"],
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode != 0
    assert "--read-timeout 30 is not a duration" in proc.stderr, proc.stderr


# -- per-series limits, groups, expansion ----------------------------------------

LIMIT_CASES = [
    # The path label job counts too.
    ("--max-labels-per-series", "3", 'm{a="1",b="2"} 1\n', 'm{a="1",b="2",c="3"} 1\n'),
    ("--max-label-name-bytes", "8", 'm{abcdefgh="1"} 1\n', 'm{abcdefghi="1"} 1\n'),
    ("--max-label-value-bytes", "10", 'm{a="0123456789"} 1\n', 'm{a="0123456789A"} 1\n'),
    ("--max-buckets", "2",
     '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\n',
     '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 1\n'),
    ("--max-quantiles", "1",
     '# TYPE s summary\ns{quantile="0.5"} 1\n', '# TYPE s summary\ns{quantile="0.5"} 1\ns{quantile="0.9"} 1\n'),
]


def test_each_series_limit_has_a_flag_and_a_422_that_names_it(start_gateway):
    gw = start_gateway(*[arg for flag, value, _, _ in LIMIT_CASES for arg in (flag, value)])
    for flag, _, at_limit, over in LIMIT_CASES:
        gw.ok("PUT", "/metrics/job/limits", at_limit)
        before = gw.state()
        r = gw.put("/metrics/job/limits", over)
        assert r.status_code == 422, (flag, r.status_code, r.text)
        assert flag in r.text and "line " in r.text, r.text
        assert gw.state() == before


def test_path_labels_count_against_the_limits(start_gateway):
    gw = start_gateway("--max-labels-per-series", "2", "--max-label-value-bytes", "10")
    gw.ok("POST", "/metrics/job/a", 'm{x="1"} 1\n')
    r = gw.post("/metrics/job/a/zone/eu", 'm{x="1"} 1\n')
    assert r.status_code == 422 and "--max-labels-per-series" in r.text, r.text
    r = gw.post("/metrics/job/" + "j" * 11, "")
    assert r.status_code == 422 and "--max-label-value-bytes" in r.text, r.text
    assert gw.samples() == {series("m", job="a", x="1"): 1}


def test_max_groups_counts_empty_pushes(start_gateway):
    gw = start_gateway("--max-groups", "2")
    gw.ok("PUT", "/metrics/job/a", "")
    gw.ok("PUT", "/metrics/job/b", "")
    before = gw.state()
    r = gw.put("/metrics/job/c", "")
    assert r.status_code == 422 and "--max-groups" in r.text, r.text
    assert gw.state() == before
    gw.ok("POST", "/metrics/job/a", "m 1\n")
    gw.ok("DELETE", "/metrics/job/b")
    gw.ok("PUT", "/metrics/job/c", "")


def test_long_path_label_on_many_lines_is_413_without_memory(start_gateway):
    gw = start_gateway("--max-body-bytes", str(MIB), "--max-label-value-bytes", str(64 * 1024))
    rss_before = rss_kib(gw.proc.pid)
    # 1 MiB of tiny lines under a 60 KB path label would be 15 GB of series.
    body = b"".join(b"m%d 1\n" % k for k in range(120_000))[:MIB]
    body = body[: body.rfind(b"\n") + 1]
    r = gw.post("/metrics/job/" + "j" * 60_000, body)
    assert r.status_code == 413 and "--max-body-bytes" in r.text, r.text
    assert len(r.text) < 2000
    assert rss_kib(gw.proc.pid) - rss_before < 256 * 1024
    assert gw.samples() == {}


def test_empty_label_values_are_absent_labels(start_gateway):
    gw = start_gateway()
    gw.ok("POST", "/metrics/job/v", "# TYPE foo counter\nfoo 1\n")
    # Prometheus drops empty labels: this is the same group and the same series.
    gw.ok("POST", "/metrics/job/v/aaa@base64/=", "# TYPE foo counter\nfoo{bbb=\"\"} 665\n")
    assert gw.samples() == {series("foo", job="v"): 666}
    gw.ok("PUT", "/metrics/job/v/aaa@base64/=", "# TYPE bar gauge\nbar 1\n")
    assert gw.samples() == {series("bar", job="v"): 1}


# -- write timeout ----------------------------------------------------------

def test_a_client_that_stops_reading_its_scrape_is_disconnected(start_gateway):
    """--write-timeout: a scraper that stops reading (here: never reads past a tiny receive
    window) is disconnected, and the gateway goes on answering others."""
    gw = start_gateway("--write-timeout", "1s")
    pad = "x" * 4000
    for g in range(4):  # 8,000 series of 4 KB: a 32 MB scrape, far past the socket buffers
        gw.ok("POST", f"/metrics/job/w{g}", "".join(f'm{{i="{i}",pad="{pad}"}} 1\n' for i in range(2000)))
    reason = "the client stopped reading its response (--write-timeout)"
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", gw.port))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        deadline = time.monotonic() + 20
        while reason not in gw.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert reason in gw.log()
        # What was in flight can still be read; then the connection ends, short of the whole scrape.
        received = 0
        s.settimeout(10)
        try:
            while chunk := s.recv(1 << 20):
                received += len(chunk)
        except ConnectionResetError:
            pass
        assert received < 32_000_000
    status, _, body = gw.scrape_raw()
    assert status == 200 and len(body) > 32_000_000
