"""A few thousand hostile requests: random bytes, huge label values, deep brace
nesting, invalid UTF-8, NUL bytes, 1 MB single lines, truncated and corrupt gzip,
bad paths and broken HTTP. Afterwards the gateway answers, nothing crashed, and its
state equals the state before."""

from __future__ import annotations

import gzip
import random
import socket
import time
import zlib

import requests

from conftest import parse_scrape, series

SEED = 20240603
MB = 1024 * 1024

SEEDED = {
    "/metrics/job/checkout/region/eu": (
        "# TYPE requests_total counter\nrequests_total{code=\"200\"} 7\nrequests_total{code=\"500\"} 1\n"
        "# TYPE queue_depth gauge\nqueue_depth 3\n"
        "# TYPE latency_seconds histogram\nlatency_seconds_bucket{le=\"0.1\"} 2\n"
        "latency_seconds_bucket{le=\"+Inf\"} 3\nlatency_seconds_sum 0.4\nlatency_seconds_count 3\n"
    ),
    "/metrics/job/batch": "# TYPE version gauge\nversion{version=\"1.2.3\",clearmode=\"family\"} 1\n",
    "/metrics/job/labels/path@base64/L3Zhci90bXA": "disk_bytes 1024\n",
}


def invalid_tail(rng: random.Random) -> bytes:
    """A last line that no parser accepts, so the whole push must be refused."""
    return rng.choice([b"broken{le=\"1\" 2\n", b"{\n", b"x y z\n", b"m{a=\"\\q\"} 1\n", b"m NaNa\n"])


def hostile_bodies(rng: random.Random):
    """Yields (label, body, must_fail, encoding). Bodies with must_fail=False could
    be valid pushes; they go to scratch groups deleted at the end. `encoding` is
    None, "gzip" or "protobuf"."""
    def random_bytes():
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000))), False

    def huge_label_value():
        value = "v" * rng.choice([70_000, 300_000, 1_000_000 - 100])
        return f'huge{{label="{value}"}} 1\n'.encode(), False

    def huge_label_value_then_error():
        value = "w" * rng.randrange(10_000, 200_000)
        return f'# TYPE requests_total counter\nrequests_total{{code="{value}"}} 1\n'.encode() + invalid_tail(rng), True

    def deep_braces():
        depth = rng.choice([100, 10_000, 200_000])
        return b"m" + b"{" * depth + b"}" * depth + b" 1\n", True

    def nested_label_braces():
        depth = rng.randrange(1, 5000)
        return b'm{a="' + b"{" * depth + b'"} 1\n' + invalid_tail(rng), True

    def invalid_utf8():
        junk = rng.choice([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf8\x88\x80\x80\x80"])
        where = rng.choice(["name", "label", "help", "value"])
        line = {
            "name": b"bad" + junk + b"name 1\n",
            "label": b'm{a="' + junk + b'"} 1\n',
            "help": b"# HELP m " + junk + b"\nm 1\n",
            "value": b"m 1" + junk + b"\n",
        }[where]
        return b"ok_metric 1\n" + line, where != "help"

    def nul_bytes():
        body = bytearray(b"# TYPE nul_total counter\nnul_total{a=\"x\"} 1\n")
        body.insert(rng.randrange(len(body)), 0)
        return bytes(body), False

    def long_line():
        size = rng.choice([MB, MB + 1, 2 * MB - 10])
        kind = rng.randrange(3)
        if kind == 0:
            return b"long_" + b"a" * size + b" 1\n", False  # a 1 MB metric name
        if kind == 1:
            return b"m " + b"1" * size + b"\n", True
        return b"# " + b"c" * size, False  # a comment with no final newline

    def truncated_gzip():
        # A valid push cut short: applying what inflates would change the group.
        data = gzip.compress(SEEDED["/metrics/job/checkout/region/eu"].encode() * rng.randrange(1, 50))
        return data[: rng.randrange(1, len(data) - 1)], True, "gzip"

    def corrupt_gzip():
        data = bytearray(gzip.compress(b"gz_metric 1\n" * rng.randrange(1, 100)))
        for _ in range(rng.randrange(1, 8)):
            data[rng.randrange(10, len(data))] ^= 1 << rng.randrange(8)
        # Flips can cancel out or land in padding bits: then the stream is still valid.
        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            inflater.decompress(bytes(data))
            still_valid = inflater.eof and not inflater.unused_data
        except zlib.error:
            still_valid = False
        return bytes(data), not still_valid, "gzip"

    def broken_syntax():
        return rng.choice([
            b"# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 1\n",
            b"m{__name__=\"x\"} 1\n",
            b"m{a=\"1\"} 1\n" * rng.randrange(1, 1000),
            b"m " + str(rng.random()).encode() * 50 + b"\n",
        ]) + invalid_tail(rng), True

    def semantic_conflict():
        # Well-formed but refused in most groups; a PUT to the group holding the name
        # could legitimately change its type, so these go to scratch groups.
        return rng.choice([
            b"# TYPE requests_total gauge\nrequests_total 1\n",
            b"# TYPE m counter\n# TYPE m gauge\nm 1\n",
            b"m{a=\"1\",a=\"2\"} 1\n",
            b"m{clearmode=\"nope\"} 1\n",
            b"push_time_seconds 1\n",
            b"gravel_gateway_series 1\n",
            b"# TYPE s summary\ns{quantile=\"0.5\",clearmode=\"mean5m\"} 1\n",
        ]), False

    def protobuf_claim():
        # Random bytes as delimited protobuf: almost surely refused, but not by construction.
        return bytes(rng.randrange(256) for _ in range(200)), False, "protobuf"

    makers = [random_bytes, huge_label_value, huge_label_value_then_error, deep_braces, nested_label_braces,
              invalid_utf8, nul_bytes, long_line, truncated_gzip, corrupt_gzip, broken_syntax,
              semantic_conflict, protobuf_claim]
    weights = [30, 2, 3, 4, 5, 15, 10, 1, 8, 8, 8, 6, 2]
    while True:
        maker = rng.choices(makers, weights)[0]
        made = maker()
        yield (maker.__name__, made[0], made[1], made[2] if len(made) > 2 else None)


# Paths the push API refuses: odd segment counts, reserved or invalid label names,
# malformed base64.
BAD_PATHS = [
    "/metrics/job", "/metrics/job/a/b", "/metrics/__name__/x", "/metrics/job/a/__x/y",
    "/metrics/job@base64/!!!", "/metrics/0bad/x", "/metrics/job/a/" + "/l/v" * 2000 + "/odd",
]
# Strange but possibly acceptable paths: any answer below 500 will do, and whatever
# group they make is deleted again.
ODD_PATHS = [
    "/metrics/job/%zz", "/metrics/job/" + "a" * 20_000, "/metrics/job/a/" + "/l/v" * 2000,
    "/metrics//job//a", "/metrics/job/%7f", "/metrics/job/a/le/%00", "/metrics/job/%ff%fe",
]


def test_hostile_requests_change_nothing(start_gateway):
    gw = start_gateway("--max-body-bytes", str(2 * MB), "--max-series", "100000")
    for path, body in SEEDED.items():
        gw.ok("POST", path, body)
    before = gw.state()
    before_samples = parse_scrape(before)
    assert len(before_samples) >= 6

    rng = random.Random(SEED)
    session = requests.Session()
    session.trust_env = False
    statuses: dict[int, int] = {}
    by_kind: dict[str, set[int]] = {}
    scratch: set[str] = set()
    seeded_paths = list(SEEDED)
    bodies = hostile_bodies(rng)
    started = time.monotonic()
    count = 3000
    for i in range(count):
        kind, body, must_fail, encoding = next(bodies)
        headers = {"Content-Type": "text/plain; version=0.0.4"}
        if encoding == "gzip":
            headers["Content-Encoding"] = "gzip"
        elif encoding == "protobuf":
            headers["Content-Type"] = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
        if encoding != "protobuf" and rng.random() < 0.1:
            headers["Content-Type"] = rng.choice(["application/openmetrics-text; version=1.0.0", "text/html", "\x01"])
        if must_fail:
            # Refused pushes to live groups, PUT included, must leave them exactly as they were.
            path = rng.choice(seeded_paths)
            method = rng.choice(["POST", "PUT"])
        else:
            path = f"/metrics/job/scratch-{i % 50}/kind/{kind}"
            scratch.add(path)
            method = rng.choice(["POST", "PUT"])
        try:
            r = session.request(method, gw.url + path, data=body, headers=headers, timeout=30)
        except requests.exceptions.InvalidHeader:
            continue
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        by_kind.setdefault(kind, set()).add(r.status_code)
        assert r.status_code < 500, f"{kind} -> {r.status_code}: {r.text[:300]}"
        if must_fail:
            assert 400 <= r.status_code < 500, f"{kind} to {path} was accepted: {body[:200]!r}"

    for path in BAD_PATHS:
        for method in ("POST", "PUT", "DELETE"):
            r = session.request(method, gw.url + path, data=b"odd_path_metric 1\n", timeout=30)
            assert r.status_code in (400, 404, 414, 431), (method, path, r.status_code, r.text[:200])
    for path in ODD_PATHS:
        for method in ("POST", "PUT", "DELETE"):
            r = session.request(method, gw.url + path, data=b"odd_path_metric 1\n", timeout=30)
            assert r.status_code < 500, (method, path, r.status_code, r.text[:200])

    raw_junk = [
        b"\x00\x01\x02\x03" * 100 + b"\r\n\r\n",
        b"GET /metrics HTTP/9.9\r\n\r\n",
        b"POST /metrics/job/a HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /metrics/job/a HTTP/1.1\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /metrics/job/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /metrics HTTP/1.1\r\nX-Big: " + b"h" * 200_000 + b"\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\n" + b"X-H: v\r\n" * 5000 + b"\r\n",
        b"GET /me\x00trics HTTP/1.1\r\n\r\n",
        b"\r\n" * 10_000,
        b"PUT /metrics/job/checkout/region/eu HTTP/1.1\r\nContent-Length: 5\r\n\r\nm 1",  # then hang up
    ]
    for junk in raw_junk:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
            try:
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
            except (ConnectionResetError, BrokenPipeError, socket.timeout):
                pass

    for path in scratch:
        gw.ok("DELETE", path)
    elapsed = time.monotonic() - started
    print(f"\n{count} hostile bodies + {(len(BAD_PATHS) + len(ODD_PATHS)) * 3} bad paths + {len(raw_junk)} raw requests "
          f"in {elapsed:.1f} s; statuses {dict(sorted(statuses.items()))}; "
          f"by kind {({k: sorted(v) for k, v in sorted(by_kind.items())})}")

    assert gw.proc.poll() is None, "the gateway exited"
    assert gw.get("/-/healthy")[0] == 200
    after = gw.state()
    assert after == before
    assert parse_scrape(after) == before_samples
    own = gw.samples(drop_self=False)
    assert own[series("gravel_gateway_pushes_total", outcome="rejected")] >= 1000
    # And it still takes pushes.
    gw.ok("POST", "/metrics/job/checkout/region/eu", '# TYPE requests_total counter\nrequests_total{code="200"} 1\n')
    assert gw.samples()[series("requests_total", code="200", job="checkout", region="eu")] == 8
