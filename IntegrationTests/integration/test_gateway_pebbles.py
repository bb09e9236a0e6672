"""Pebbles: time-windowed gauges (`clearmode="mean5m"` and friends) on the real gateway.

Contract (docs/SEMANTICS.md S32-S39, "Pebbles"):
- `<agg><window>` clearmodes expose a windowed statistic as a gauge, clearmode removed.
- The reported cases: `test_value{clearmode="mean5m"} 22` scrapes 22; a second push of 10
  scrapes 16 (it used to fail with "different label names"); the job path label stays.
- Expired observations leave the window on time, even with no pushes.
- Pebbles on a counter, histogram or summary are a 400 that says to declare a gauge.
"""

import time

from conftest import assert_samples_equal, parse_types, series


def test_reported_mean5m_case(gateway):
    gateway.ok("POST", "/metrics/job/testjob", 'test_value{clearmode="mean5m"} 22\n')
    assert_samples_equal(gateway.samples(), {series("test_value", job="testjob"): 22})
    gateway.ok("POST", "/metrics/job/testjob", 'test_value{clearmode="mean5m"} 10\n')
    assert_samples_equal(gateway.samples(), {series("test_value", job="testjob"): 16})
    text = gateway.scrape_text()
    assert parse_types(text)["test_value"] == "gauge"
    assert "clearmode" not in text


def test_every_aggregation(gateway):
    body = "".join(
        f'lat{{agg="{agg}",clearmode="{mode}"}} {v}\n'
        for agg, mode in [
            ("sum", "sum1m"), ("mean", "avg1m"), ("min", "min1m"), ("max", "max1m"),
            ("count", "count1m"), ("last", "last1m"), ("p50", "p50_1m"), ("p99", "p99_1m"),
        ]
        for v in (4, 1, 10, 5)
    )
    gateway.ok("POST", "/metrics/job/agg", "# TYPE lat gauge\n" + body)
    expected = {"sum": 20, "mean": 5, "min": 1, "max": 10, "count": 4, "last": 5, "p50": 4, "p99": 10}
    assert_samples_equal(
        gateway.samples(),
        {series("lat", job="agg", agg=agg): value for agg, value in expected.items()},
    )


def test_window_expires_without_pushes(gateway):
    gateway.ok("POST", "/metrics/job/short", 'blip{clearmode="max2s"} 7\nsteady 1\n')
    assert gateway.samples()[series("blip", job="short")] == 7
    deadline = time.monotonic() + 10
    while series("blip", job="short") in gateway.samples():
        assert time.monotonic() < deadline, "the pebble never left its 2 s window"
        time.sleep(0.2)
    # The rest of the group is still there, and the scrape stays valid (promtool runs in scrape()).
    assert gateway.samples()[series("steady", job="short")] == 1


def test_pebble_mixes_with_other_series(gateway):
    gateway.ok("POST", "/metrics/job/mix", '# TYPE t gauge\nt{room="a",clearmode="max1m"} 20\nt{room="b"} 5\nt{sensor="x"} 1\n')
    gateway.ok("POST", "/metrics/job/mix", '# TYPE t gauge\nt{room="a",clearmode="max1m"} 25\nt{room="b"} 6\n')
    assert_samples_equal(
        gateway.samples(),
        {
            series("t", job="mix", room="a"): 25,
            series("t", job="mix", room="b"): 6,
            series("t", job="mix", sensor="x"): 1,
        },
    )


def test_pebble_on_counter_is_refused(gateway):
    before = gateway.state()
    r = gateway.push("POST", "/metrics/job/bad", '# TYPE c_total counter\nc_total{clearmode="mean5m"} 1\n')
    assert r.status_code == 400
    assert "gauge" in r.text and "line 2" in r.text
    assert gateway.state() == before


def test_timestamped_observations(gateway):
    now_ms = int(time.time() * 1000)
    body = (
        f'v{{clearmode="last1m"}} 1 {now_ms - 20_000}\n'
        f'v{{clearmode="last1m"}} 2 {now_ms - 40_000}\n'
        f'v{{clearmode="last1m"}} 3 {now_ms - 600_000}\n'
    )
    gateway.ok("POST", "/metrics/job/ts", body)
    # The newest timestamp wins; the ten-minute-old one is outside the window and counted.
    assert gateway.samples()[series("v", job="ts")] == 1
    assert gateway.samples(drop_self=False)[series("gravel_gateway_pebble_observations_too_old_total")] == 1
