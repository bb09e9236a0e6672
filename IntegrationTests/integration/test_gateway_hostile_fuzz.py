"""Mutated and adversarial pushes against a running gateway, for a bounded time.

Bodies are real expositions mutated at random (bytes flipped, lines repeated, dropped
or swapped) with adversarial pieces spliced in: bound labels where the renderer adds
them (`le` on `_count`, path label `quantile` for a summary), empty label values,
carriage returns and other control bytes, NaN and infinities on counters, names the
gateway writes itself, repeated TYPE lines, limits just over, protobuf that expands.
Paths are mutated the same way.

After every request: the process is alive; a refused push (4xx) left the scrape
byte-identical (what moves on its own aside: the gateway's counters and process metrics,
and `push_failure_time_seconds`, which records the refusal; `push_time_seconds` included); an accepted one left a scrape that reads back (every series once, no label
twice, each name declared once). Every few requests, and at the end, promtool checks
the text scrape and the OpenMetrics scrape gets the structural checks.
"""

from __future__ import annotations

import base64
import gzip
import random
import time

import requests

from conftest import GATEWAY_PROCESS_METRICS, ExpositionError, openmetrics_check, parse_scrape, promtool_check

SEED = 20261201
BUDGET_S = 40.0
MAX_REQUESTS = 4000
PROMTOOL_EVERY = 150
KIB = 1024

OM_ACCEPT = "application/openmetrics-text; version=1.0.0"
PROTOBUF = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"

SEEDS = [
    '# HELP requests_total Requests served.\n# TYPE requests_total counter\n'
    'requests_total{code="200",method="get"} 7\nrequests_total{code="500",method="post"} 1\n',
    '# TYPE queue_depth gauge\nqueue_depth{queue="a"} 3\nqueue_depth{queue="b",clearmode="replace"} NaN\n',
    '# HELP latency_seconds Latency.\n# TYPE latency_seconds histogram\n'
    'latency_seconds_bucket{svc="api",le="0.1"} 2\nlatency_seconds_bucket{svc="api",le="1"} 3\n'
    'latency_seconds_bucket{svc="api",le="+Inf"} 4\nlatency_seconds_sum{svc="api"} 11.2\nlatency_seconds_count{svc="api"} 4\n',
    '# TYPE payload_bytes summary\npayload_bytes{quantile="0.5"} 100\npayload_bytes{quantile="0.99"} NaN\n'
    'payload_bytes_sum 2100\npayload_bytes_count 2\n',
    '# TYPE cold_start_ms gauge\ncold_start_ms{clearmode="mean5m"} 120\ncold_start_ms{clearmode="mean5m"} 80\n',
    'version{version="1.2.3",clearmode="family"} 1\n',
    '# TYPE build info\nbuild_info{version="1"} 1\n# TYPE up gauge\nup 1\n# EOF\n',
]

# Pieces the mutator splices in: each is something a careless or hostile client sends.
LABEL_PIECES = [
    'le="x"', 'le="1"', 'le=""', 'quantile="0.5"', 'quantile=""', 'a=""', 'clearmode=""', 'clearmode="replace"',
    'clearmode="aggregate"', 'clearmode="mean5m"', 'clearmode="family"', 'job="evil"', 'x="a\rb"', 'x="a\x1b[31m"',
    'x="\x00"', 'x="tab\there"', 'x="a\\nb"', 'x="\\\\"', 'x="\\""', 'y="' + "v" * 5000 + '"',
    "n" * 1100 + '="v"', ",".join(f'l{k}="v"' for k in range(70)),
]
VALUE_PIECES = ["NaN", "+Inf", "-Inf", "1e308", "-1", "0", "1e-320", "18446744073709551616", "-0"]
LINE_PIECES = [
    "# TYPE h histogram\nh_count{le=\"x\"} 1\n",
    "# TYPE s summary\ns_sum{quantile=\"1\"} 1\n",
    "# TYPE push_time_seconds_total counter\npush_time_seconds_total 1\n",
    "# TYPE go_alloc_bytes gauge\ngo_alloc_bytes 1\n# TYPE go_alloc_bytes_total counter\ngo_alloc_bytes_total 1\n",
    "# TYPE requests_total counter\n",
    "# HELP queue_depth carriage\rreturn\n",
    "# HELP queue_depth escape \x1b]0;title\x07\n",
    "requests_total NaN\n",
    "# TYPE wide histogram\n" + "".join(f'wide_bucket{{le="{k}"}} {k}\n' for k in range(1100)) + 'wide_bucket{le="+Inf"} 1100\n',
    "# TYPE q summary\n" + "".join(f'q{{quantile="{k / 100}"}} 1\n' for k in range(70)),
    "# EOF\n",
    "\r\n",
]

LIVE_PATHS = ["/metrics/job/checkout/region/eu", "/metrics/job/batch", "/metrics/job/labels/path@base64/L3Zhci90bXA"]
PATH_PIECES = [
    "/le/1", "/quantile/0.5", "/aaa@base64/=", "/region@base64/=", "/x/a%0Db", "/x/a%1Bb", "/x/a%0Ab", "/x/%00",
    "/job/again", "/clearmode/replace", "/__x/y", "/v/" + "p" * 5000, "/n" * 3 + "/v", "".join(f"/l{k}/v" for k in range(70)),
    "/x@base64/" + base64.urlsafe_b64encode(b"a\rb").decode(),
]


def mutate_body(rng: random.Random) -> bytes:
    text = rng.choice(SEEDS)
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(7)
        lines = text.split("\n")
        if op == 0:  # splice a label into some label set, or open one
            k = rng.randrange(len(lines))
            line = lines[k]
            piece = rng.choice(LABEL_PIECES)
            if "{" in line:
                lines[k] = line.replace("{", "{" + piece + ",", 1)
            elif line and not line.startswith("#"):
                name, _, rest = line.partition(" ")
                lines[k] = f"{name}{{{piece}}} {rest}"
            text = "\n".join(lines)
        elif op == 1:  # replace a value
            k = rng.randrange(len(lines))
            if lines[k] and not lines[k].startswith("#"):
                head, _, _ = lines[k].rpartition(" ")
                lines[k] = f"{head} {rng.choice(VALUE_PIECES)}"
            text = "\n".join(lines)
        elif op == 2:  # add a whole adversarial line or family
            text += rng.choice(LINE_PIECES)
        elif op == 3:  # repeat, drop or swap lines
            k = rng.randrange(len(lines))
            j = rng.randrange(len(lines))
            choice = rng.randrange(3)
            if choice == 0:
                lines.insert(j, lines[k])
            elif choice == 1:
                del lines[k]
            else:
                lines[k], lines[j] = lines[j], lines[k]
            text = "\n".join(lines)
        elif op == 4:  # another seed after this one
            text += rng.choice(SEEDS)
        else:  # flip bytes
            raw = bytearray(text.encode("utf-8", "surrogateescape"))
            for _ in range(rng.randrange(1, 4)):
                if raw:
                    raw[rng.randrange(len(raw))] = rng.randrange(256)
            return bytes(raw)
    return text.encode("utf-8", "surrogateescape")


def mutate_path(rng: random.Random) -> str:
    path = rng.choice(LIVE_PATHS + [f"/metrics/job/scratch-{rng.randrange(20)}"])
    for _ in range(rng.randrange(0, 3)):
        path += rng.choice(PATH_PIECES)
    return path


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def protobuf_expander(rng: random.Random) -> bytes:
    """A histogram whose empty buckets (2 bytes each) repeat a long label in text."""
    label = field(1, field(1, b"big") + field(2, b"b" * rng.choice([100, 4000])))
    buckets = b"".join(field(3, b"") for _ in range(rng.choice([500, 1023, 1024, 5000])))
    metric = label + field(7, buckets)
    family = field(1, b"expander") + varint(3 << 3) + varint(4) + field(4, metric)
    return varint(len(family)) + family


def own_lines_removed(text: str) -> str:
    """The scrape without what moves on its own: the gateway's `gravel_gateway_*` counters,
    its unlabelled `process_*` metrics, and `push_failure_time_seconds` (a refused push
    records its time there, as in the Pushgateway). `push_time_seconds` stays, but for
    groups never pushed to (0)."""
    def moves(line: str) -> bool:
        if line.startswith("# "):
            parts = line.split(" ")
            name = parts[2] if len(parts) > 2 else ""
            return name.startswith("gravel_gateway_") or name == "push_failure_time_seconds" or name in GATEWAY_PROCESS_METRICS
        name = line.split("{", 1)[0].split(" ", 1)[0]
        unlabelled = "{" not in line.split(" ", 1)[0]
        # A refused push to a group that did not exist makes it, with no push time (as the
        # Pushgateway does): a line of its own, not a change to anything pushed.
        never_pushed = name == "push_time_seconds" and line.endswith("} 0")
        return (name.startswith("gravel_gateway_") or name == "push_failure_time_seconds" or never_pushed
                or (name in GATEWAY_PROCESS_METRICS and unlabelled))
    return "\n".join(line for line in text.split("\n") if not moves(line))


def declared_once(text: str) -> None:
    names = [line.split(" ")[2] for line in text.split("\n") if line.startswith("# TYPE ")]
    repeated = {n for n in names if names.count(n) > 1}
    assert not repeated, f"declared more than once: {sorted(repeated)[:5]}"


def test_hostile_fuzz_keeps_gateway_and_scrape_valid(start_gateway):
    gw = start_gateway("--max-body-bytes", str(256 * KIB), "--max-groups", "200", "--enable-openmetrics")
    for k, path in enumerate(LIVE_PATHS):
        gw.ok("POST", path, SEEDS[k] + SEEDS[k + 3])
    rng = random.Random(SEED)
    session = requests.Session()
    session.trust_env = False

    def scrape(accept: str | None = None) -> str:
        headers = {"Accept": accept} if accept else {}
        r = session.get(gw.url + "/metrics", headers=headers, timeout=30)
        assert r.status_code == 200, r.text[:300]
        return r.text

    state = own_lines_removed(scrape())
    statuses: dict[int, int] = {}
    started = time.monotonic()
    count = 0
    while count < MAX_REQUESTS and time.monotonic() - started < BUDGET_S:
        count += 1
        kind = rng.randrange(10)
        headers = {"Content-Type": "text/plain; version=0.0.4"}
        if kind == 0:
            body = protobuf_expander(rng)
            headers["Content-Type"] = PROTOBUF
        else:
            body = mutate_body(rng)
            if kind == 1:
                headers["Content-Type"] = "application/openmetrics-text; version=1.0.0"
        if rng.random() < 0.1:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        path = mutate_path(rng) if rng.random() < 0.4 else rng.choice(LIVE_PATHS)
        method = rng.choice(["POST", "POST", "PUT"])
        r = session.request(method, gw.url + path, data=body, headers=headers, timeout=30)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert r.status_code < 500, f"{method} {path[:200]} -> {r.status_code}: {r.text[:300]}\n{body[:500]!r}"
        assert all(c >= " " or c in "\t\n" for c in r.text), f"control byte in the answer: {r.text[:300]!r}"
        assert len(r.text) < 4 * KIB, f"a {len(r.text)}-byte answer: {r.text[:300]!r}"
        text = scrape()
        now = own_lines_removed(text)
        if r.status_code >= 400:
            assert now == state, f"refused {method} {path[:200]} ({r.status_code}: {r.text[:200]}) changed the scrape\n{body[:500]!r}"
            continue
        state = now
        try:
            parse_scrape(text)
            declared_once(text)
            om = scrape(OM_ACCEPT)
            parse_scrape(om)
            declared_once(om)
        except (ExpositionError, AssertionError) as e:
            raise AssertionError(f"after {method} {path[:200]} with {body[:500]!r}: {e}") from None
        if count % PROMTOOL_EVERY == 0:
            promtool_check(text)
    elapsed = time.monotonic() - started
    print(f"\n{count} hostile requests in {elapsed:.1f} s; statuses {dict(sorted(statuses.items()))}")

    assert gw.proc.poll() is None, "the gateway exited"
    assert count >= 500, f"only {count} requests in {BUDGET_S} s"
    assert statuses.get(200, 0) >= 50 and sum(v for k, v in statuses.items() if k >= 400) >= 200, statuses
    promtool_check(scrape())
    openmetrics_check(scrape(OM_ACCEPT))
    declared_once(scrape(OM_ACCEPT))
