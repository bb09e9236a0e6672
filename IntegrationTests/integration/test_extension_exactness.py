"""Exactness (docs/SEMANTICS.md S51): random push sequences sent through the extension and
straight to a second gateway leave both gateways with identical scrapes."""

from __future__ import annotations

import random

import pytest

from test_extension_harness import extension_sandbox  # noqa: F401  (fixture)

HEADER = (
    "# TYPE requests_total counter\n# TYPE temperature gauge\n# TYPE latency_seconds histogram\n"
    "# TYPE rpc_seconds summary\n# TYPE build_info gauge\n# TYPE load gauge\n"
)
GROUPS = ["/metrics/job/fn", "/metrics/job/fn/instance/a", "/metrics/job/batch/stage@base64/YS9i"]


# One kind of line each: `v` is a random value; `rng` draws anything else the line needs.
LINES = [
    lambda v, rng: f'requests_total{{path="/{rng.choice("ab")}"}} {v}',
    lambda v, rng: f'requests_total{{path="/a",clearmode="replace"}} {v}',
    lambda v, rng: f"temperature {v}.5",
    lambda v, rng: f'temperature{{room="x",clearmode="aggregate"}} {v}',
    lambda v, rng: (f'latency_seconds_bucket{{le="0.1"}} {v}\nlatency_seconds_bucket{{le="+Inf"}} {v + 3}\n'
                    f"latency_seconds_sum {v * 0.25}\nlatency_seconds_count {v + 3}"),
    lambda v, rng: (f'latency_seconds_bucket{{le="0.05"}} {v}\nlatency_seconds_bucket{{le="1"}} {v + 1}\n'
                    f'latency_seconds_bucket{{le="+Inf"}} {v + 1}\nlatency_seconds_count {v + 1}\nlatency_seconds_sum {v}'),
    lambda v, rng: f'rpc_seconds{{quantile="0.99"}} {v}\nrpc_seconds_sum {v}\nrpc_seconds_count 2',
    lambda v, rng: f'build_info{{version="{v % 3}",clearmode="family"}} 1',
    lambda v, rng: f'build_info{{version="{v % 3}"}} {v}',
    lambda v, rng: f'load{{clearmode="max5m"}} {v}',
    lambda v, rng: f'load{{cpu="1",clearmode="mean5m"}} {v}',
]


def random_line(rng: random.Random) -> str:
    v = rng.randint(0, 40)
    return LINES[rng.randrange(len(LINES))](v, rng)


def random_push(rng: random.Random) -> tuple[str, str, str]:
    r = rng.random()
    method = "PUT" if r < 0.12 else "DELETE" if r < 0.2 else "POST"
    path = rng.choice(GROUPS)
    if method == "DELETE":
        return method, path, ""
    return method, path, HEADER + "".join(random_line(rng) + "\n" for _ in range(rng.randint(0, 5)))


@pytest.mark.parametrize(
    "seed, flush",
    [
        pytest.param(1, "periodic,0.2", id="seed 1, periodic flush (0.2 s)"),
        pytest.param(2, "adaptive", id="seed 2, adaptive flush"),
        pytest.param(3, "end", id="seed 3, flush before every freeze"),
        pytest.param(4, "end", id="seed 4, flush before every freeze"),
    ],
)
def test_random_sequences_match_direct_pushes(start_gateway, extension_sandbox, seed, flush):
    direct = start_gateway()
    via = start_gateway()
    ext = extension_sandbox(via.url, flush=flush, platform_metrics="0")
    rng = random.Random(seed)
    for _ in range(12):
        pushes = [random_push(rng) for _ in range(rng.randint(0, 6))]

        def handler(ctx, pushes=pushes):
            for method, path, body in pushes:
                r = ext.push(method, path, body)
                expected = 202 if method == "DELETE" else 200
                assert r.status_code == expected, f"{method} {path}: {r.status_code} {r.text}\n{body}"

        ext.invoke(handler)
        for method, path, body in pushes:
            direct.ok(method, path, body)
    assert ext.shutdown().exit_codes == {"gravel-extension": 0}
    assert via.state() == direct.state()
