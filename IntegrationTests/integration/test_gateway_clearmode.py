"""Merge rules of gravel-gateway: the `clearmode` label.

Contract (docs/SEMANTICS.md S10 and S24-S30, "clearmode"):
- `clearmode` picks the merge rule per series and is stripped from everything
  stored and exposed. Default: `replace` for gauges, `aggregate` for counters,
  untyped, histograms and summaries.
- `aggregate` (alias `sum`): values added; histogram buckets added on the
  bounds both layouts share (S29), `_sum` and `_count` added; summary `_sum`
  and `_count` added and quantiles dropped (S30): a summary pushed once keeps
  its quantiles, the first aggregate push onto it leaves `_sum` and `_count`.
- `replace`: the new value wins.
- `family` (alias `info`): the whole family in this group is replaced by this
  push's series of it.
- An unknown clearmode is a 400 whose message lists the valid ones.
- A body may repeat a series: the lines apply in order.
"""

import pytest

from conftest import assert_samples_equal, buckets, series

WORKED_1 = "# TYPE value_total counter\nvalue_total 1\n# TYPE value2 gauge\nvalue2 1\n"


def test_worked_example_1(gateway):
    for _ in range(3):
        gateway.ok("POST", "/metrics/job/test", WORKED_1)
    assert_samples_equal(
        gateway.samples(),
        {series("value_total", job="test"): 3, series("value2", job="test"): 1},
    )


def test_worked_example_2(gateway):
    first = (
        "# TYPE value_total counter\nvalue_total 1\n"
        '# TYPE value2 gauge\nvalue2{clearmode="aggregate"} 1\n'
        '# TYPE version gauge\nversion{version="0.0.1",clearmode="family"} 1\n'
    )
    second = (
        "# TYPE value_total counter\nvalue_total 3\n"
        '# TYPE value2 gauge\nvalue2{clearmode="aggregate"} 1\n'
        '# TYPE version gauge\nversion{version="0.0.2",clearmode="family"} 1\n'
    )
    gateway.ok("POST", "/metrics/job/test", first)
    gateway.ok("POST", "/metrics/job/test", second)
    text = gateway.scrape_text()
    assert "clearmode" not in text
    assert "0.0.1" not in text
    assert_samples_equal(
        gateway.samples(),
        {
            series("version", job="test", version="0.0.2"): 1,
            series("value2", job="test"): 2,
            series("value_total", job="test"): 4,
        },
    )


def test_gauge_defaults_to_replace(gateway):
    gateway.ok("POST", "/metrics/job/test", "# TYPE g gauge\ng 1\n")
    gateway.ok("POST", "/metrics/job/test", "# TYPE g gauge\ng 5\n")
    gateway.ok("POST", "/metrics/job/test", "# TYPE g gauge\ng -2.5\n")
    assert_samples_equal(gateway.samples(), {series("g", job="test"): -2.5})


def test_counter_defaults_to_aggregate(gateway):
    gateway.ok("POST", "/metrics/job/test", '# TYPE c_total counter\nc_total{k="v"} 1.5\n')
    gateway.ok("POST", "/metrics/job/test", '# TYPE c_total counter\nc_total{k="v"} 2.5\n')
    assert_samples_equal(gateway.samples(), {series("c_total", job="test", k="v"): 4})


def test_untyped_defaults_to_aggregate(gateway):
    gateway.ok("POST", "/metrics/job/test", "u 2\n")
    gateway.ok("POST", "/metrics/job/test", "# TYPE u untyped\nu 3\n")
    assert_samples_equal(gateway.samples(), {series("u", job="test"): 5})


def test_histogram_defaults_to_aggregate(gateway):
    body = (
        "# TYPE h histogram\n"
        'h_bucket{le="0.5"} 1\n'
        'h_bucket{le="1"} 3\n'
        'h_bucket{le="+Inf"} 4\n'
        "h_sum 2.5\n"
        "h_count 4\n"
    )
    gateway.ok("POST", "/metrics/job/test", body)
    gateway.ok("POST", "/metrics/job/test", body)
    got = gateway.samples()
    assert buckets(got, "h", job="test") == {0.5: 2, 1.0: 6, float("inf"): 8}
    assert got[series("h_sum", job="test")] == 5
    assert got[series("h_count", job="test")] == 8


def test_summary_pushed_once_keeps_its_quantiles(gateway):
    gateway.ok(
        "POST",
        "/metrics/job/test",
        '# TYPE s summary\ns{quantile="0.5"} 1\ns{quantile="0.9"} 2\ns_sum 10\ns_count 4\n',
    )
    assert_samples_equal(
        gateway.samples(),
        {
            series("s", job="test", quantile="0.5"): 1,
            series("s", job="test", quantile="0.9"): 2,
            series("s_sum", job="test"): 10,
            series("s_count", job="test"): 4,
        },
    )


def test_summary_defaults_to_aggregate_with_quantiles_dropped(gateway):
    gateway.ok(
        "POST",
        "/metrics/job/test",
        '# TYPE s summary\ns{quantile="0.5"} 1\ns{quantile="0.9"} 2\ns_sum 10\ns_count 4\n',
    )
    gateway.ok(
        "POST",
        "/metrics/job/test",
        '# TYPE s summary\ns{quantile="0.5"} 3\ns{quantile="0.9"} 4\ns_sum 5\ns_count 1\n',
    )
    # Neither push's quantiles describe the five observations together.
    assert_samples_equal(
        gateway.samples(),
        {series("s_sum", job="test"): 15, series("s_count", job="test"): 5},
    )
    _, _, om = gateway.scrape({"Accept": "application/openmetrics-text; version=1.0.0"})
    assert "quantile=" not in om


def test_replace_on_a_summary_keeps_the_pushed_quantiles(gateway):
    gateway.ok("POST", "/metrics/job/test", '# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 10\ns_count 4\n')
    gateway.ok(
        "POST",
        "/metrics/job/test",
        "# TYPE s summary\n"
        's{quantile="0.5",clearmode="replace"} 3\n'
        's_sum{clearmode="replace"} 5\n'
        's_count{clearmode="replace"} 1\n',
    )
    assert_samples_equal(
        gateway.samples(),
        {
            series("s", job="test", quantile="0.5"): 3,
            series("s_sum", job="test"): 5,
            series("s_count", job="test"): 1,
        },
    )


def test_replace_on_a_counter(gateway):
    gateway.ok("POST", "/metrics/job/test", "# TYPE c_total counter\nc_total 3\n")
    gateway.ok("POST", "/metrics/job/test", '# TYPE c_total counter\nc_total{clearmode="replace"} 5\n')
    assert_samples_equal(gateway.samples(), {series("c_total", job="test"): 5})


def test_replace_on_a_histogram(gateway):
    gateway.ok(
        "POST",
        "/metrics/job/test",
        '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n',
    )
    gateway.ok(
        "POST",
        "/metrics/job/test",
        "# TYPE h histogram\n"
        'h_bucket{le="1",clearmode="replace"} 4\n'
        'h_bucket{le="+Inf",clearmode="replace"} 5\n'
        'h_sum{clearmode="replace"} 6\n'
        'h_count{clearmode="replace"} 5\n',
    )
    got = gateway.samples()
    assert buckets(got, "h", job="test") == {1.0: 4, float("inf"): 5}
    assert got[series("h_sum", job="test")] == 6
    assert got[series("h_count", job="test")] == 5


@pytest.mark.parametrize("mode", ["aggregate", "sum"])
def test_aggregate_and_its_alias_sum_on_a_gauge(gateway, mode):
    for value in (1, 2, 4):
        gateway.ok("POST", "/metrics/job/test", f'# TYPE g gauge\ng{{clearmode="{mode}"}} {value}\n')
    assert_samples_equal(gateway.samples(), {series("g", job="test"): 7})


@pytest.mark.parametrize("mode", ["family", "info"])
def test_family_and_its_alias_info(gateway, mode):
    gateway.ok(
        "POST",
        "/metrics/job/test",
        f'# TYPE build gauge\nbuild{{version="1",commit="a",clearmode="{mode}"}} 1\n'
        "# TYPE other gauge\nother 1\n",
    )
    gateway.ok("POST", "/metrics/job/test", f'# TYPE build gauge\nbuild{{version="2",clearmode="{mode}"}} 1\n')
    assert_samples_equal(
        gateway.samples(),
        {series("build", job="test", version="2"): 1, series("other", job="test"): 1},
    )


def test_family_keeps_every_series_of_the_push(gateway):
    gateway.ok("POST", "/metrics/job/test", '# TYPE f gauge\nf{a="0",clearmode="family"} 1\n')
    gateway.ok(
        "POST",
        "/metrics/job/test",
        '# TYPE f gauge\nf{a="1",clearmode="family"} 1\nf{a="2",clearmode="family"} 2\n',
    )
    assert_samples_equal(
        gateway.samples(),
        {series("f", job="test", a="1"): 1, series("f", job="test", a="2"): 2},
    )


def test_family_replacement_is_per_group(gateway):
    gateway.ok("POST", "/metrics/job/a", '# TYPE version gauge\nversion{version="0.0.1",clearmode="family"} 1\n')
    gateway.ok("POST", "/metrics/job/b", '# TYPE version gauge\nversion{version="0.0.1",clearmode="family"} 1\n')
    gateway.ok("POST", "/metrics/job/a", '# TYPE version gauge\nversion{version="0.0.2",clearmode="family"} 1\n')
    assert_samples_equal(
        gateway.samples(),
        {
            series("version", job="a", version="0.0.2"): 1,
            series("version", job="b", version="0.0.1"): 1,
        },
    )


def test_family_on_a_counter(gateway):
    gateway.ok("POST", "/metrics/job/test", '# TYPE c_total counter\nc_total{k="a"} 5\n')
    gateway.ok("POST", "/metrics/job/test", '# TYPE c_total counter\nc_total{k="b",clearmode="family"} 2\n')
    assert_samples_equal(gateway.samples(), {series("c_total", job="test", k="b"): 2})


def test_clearmode_is_stripped_from_output(gateway):
    gateway.ok(
        "POST",
        "/metrics/job/test",
        '# TYPE a_total counter\na_total{clearmode="sum",x="1"} 1\n'
        '# TYPE b gauge\nb{clearmode="replace"} 1\n'
        '# TYPE c gauge\nc{clearmode="info",v="1"} 1\n',
    )
    text = gateway.scrape_text()
    assert "clearmode" not in text
    _, _, om = gateway.scrape({"Accept": "application/openmetrics-text; version=1.0.0"})
    assert "clearmode" not in om
    assert_samples_equal(
        gateway.samples(),
        {
            series("a_total", job="test", x="1"): 1,
            series("b", job="test"): 1,
            series("c", job="test", v="1"): 1,
        },
    )


def test_unknown_clearmode_is_400_listing_valid_ones(gateway):
    gateway.ok("POST", "/metrics/job/test", "# TYPE g gauge\ng 1\n")
    before = gateway.state()
    r = gateway.push("POST", "/metrics/job/test", '# TYPE g gauge\ng{clearmode="bogus"} 2\n')
    assert r.status_code == 400, f"answered {r.status_code}: {r.text!r}"
    for valid in ("aggregate", "replace", "family"):
        assert valid in r.text, f"400 body does not list {valid!r}: {r.text!r}"
    assert gateway.state() == before


def test_repeated_counter_lines_add_in_order(gateway):
    gateway.ok("POST", "/metrics/job/test", "# TYPE c_total counter\nc_total 1\nc_total 2\n")
    assert_samples_equal(gateway.samples(), {series("c_total", job="test"): 3})


def test_repeated_gauge_lines_apply_in_order(gateway):
    gateway.ok("POST", "/metrics/job/test", "# TYPE g gauge\ng 1\ng 5\n")
    assert_samples_equal(gateway.samples(), {series("g", job="test"): 5})


def test_repeated_lines_on_top_of_stored_value(gateway):
    gateway.ok("POST", "/metrics/job/test", "# TYPE c_total counter\nc_total 10\n# TYPE g gauge\ng 1\n")
    gateway.ok(
        "POST",
        "/metrics/job/test",
        '# TYPE c_total counter\nc_total 1\nc_total{clearmode="replace"} 4\nc_total 1\n# TYPE g gauge\ng 7\ng{clearmode="sum"} 1\n',
    )
    assert_samples_equal(gateway.samples(), {series("c_total", job="test"): 5, series("g", job="test"): 8})
