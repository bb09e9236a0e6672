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

from conftest import assert_samples_equal, normalise_bounds, parse_scrape, series

OPENMETRICS = {"Accept": "application/openmetrics-text; version=1.0.0"}
WORKED_1 = "# TYPE value_total counter\nvalue_total 1\n# TYPE value2 gauge\nvalue2 1\n"
WORKED_2 = (
    "# TYPE value_total counter\nvalue_total 1\n"
    '# TYPE value2 gauge\nvalue2{clearmode="aggregate"} 1\n'
    '# TYPE version gauge\nversion{version="0.0.1",clearmode="family"} 1\n'
)
HISTOGRAM = '# TYPE h histogram\nh_bucket{le="0.5"} 1\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 4\nh_sum 2.5\nh_count 4\n'
SUMMARY = '# TYPE s summary\ns{quantile="0.5"} 1\ns{quantile="0.9"} 2\ns_sum 10\ns_count 4\n'
VERSION = '# TYPE version gauge\nversion{version="%s",clearmode="family"} 1\n'


@pytest.mark.parametrize(
    "pushes, expected",
    [
        pytest.param([WORKED_1] * 3, {series("value_total", job="test"): 3, series("value2", job="test"): 1},
                     id="worked example 1"),
        pytest.param(
            [WORKED_2, WORKED_2.replace("value_total 1", "value_total 3").replace("0.0.1", "0.0.2")],
            {series("version", job="test", version="0.0.2"): 1, series("value2", job="test"): 2,
             series("value_total", job="test"): 4},
            id="worked example 2"),
        pytest.param(["# TYPE g gauge\ng 1\n", "# TYPE g gauge\ng 5\n", "# TYPE g gauge\ng -2.5\n"],
                     {series("g", job="test"): -2.5}, id="gauge defaults to replace"),
        pytest.param(['# TYPE c_total counter\nc_total{k="v"} 1.5\n', '# TYPE c_total counter\nc_total{k="v"} 2.5\n'],
                     {series("c_total", job="test", k="v"): 4}, id="counter defaults to aggregate"),
        pytest.param(["u 2\n", "# TYPE u untyped\nu 3\n"], {series("u", job="test"): 5}, id="untyped defaults to aggregate"),
        pytest.param(
            [HISTOGRAM, HISTOGRAM],
            {series("h_bucket", job="test", le="0.5"): 2, series("h_bucket", job="test", le="1"): 6,
             series("h_bucket", job="test", le="+Inf"): 8, series("h_sum", job="test"): 5, series("h_count", job="test"): 8},
            id="histogram defaults to aggregate"),
        pytest.param(
            [SUMMARY],
            {series("s", job="test", quantile="0.5"): 1, series("s", job="test", quantile="0.9"): 2,
             series("s_sum", job="test"): 10, series("s_count", job="test"): 4},
            id="summary pushed once keeps its quantiles"),
        # Neither push's quantiles describe the five observations together.
        pytest.param(
            [SUMMARY, '# TYPE s summary\ns{quantile="0.5"} 3\ns{quantile="0.9"} 4\ns_sum 5\ns_count 1\n'],
            {series("s_sum", job="test"): 15, series("s_count", job="test"): 5},
            id="summary defaults to aggregate with quantiles dropped"),
        pytest.param(
            ['# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 10\ns_count 4\n',
             '# TYPE s summary\ns{quantile="0.5",clearmode="replace"} 3\ns_sum{clearmode="replace"} 5\n'
             's_count{clearmode="replace"} 1\n'],
            {series("s", job="test", quantile="0.5"): 3, series("s_sum", job="test"): 5, series("s_count", job="test"): 1},
            id="replace on a summary keeps the pushed quantiles"),
        pytest.param(["# TYPE c_total counter\nc_total 3\n", '# TYPE c_total counter\nc_total{clearmode="replace"} 5\n'],
                     {series("c_total", job="test"): 5}, id="replace on a counter"),
        pytest.param(
            ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n',
             '# TYPE h histogram\nh_bucket{le="1",clearmode="replace"} 4\nh_bucket{le="+Inf",clearmode="replace"} 5\n'
             'h_sum{clearmode="replace"} 6\nh_count{clearmode="replace"} 5\n'],
            {series("h_bucket", job="test", le="1"): 4, series("h_bucket", job="test", le="+Inf"): 5,
             series("h_sum", job="test"): 6, series("h_count", job="test"): 5},
            id="replace on a histogram"),
        *(
            pytest.param([f'# TYPE g gauge\ng{{clearmode="{mode}"}} {value}\n' for value in (1, 2, 4)],
                         {series("g", job="test"): 7}, id=f"{mode} on a gauge")
            for mode in ("aggregate", "sum")
        ),
        *(
            pytest.param(
                [f'# TYPE build gauge\nbuild{{version="1",commit="a",clearmode="{mode}"}} 1\n# TYPE other gauge\nother 1\n',
                 f'# TYPE build gauge\nbuild{{version="2",clearmode="{mode}"}} 1\n'],
                {series("build", job="test", version="2"): 1, series("other", job="test"): 1},
                id=f"{mode} replaces the family")
            for mode in ("family", "info")
        ),
        pytest.param(
            ['# TYPE f gauge\nf{a="0",clearmode="family"} 1\n',
             '# TYPE f gauge\nf{a="1",clearmode="family"} 1\nf{a="2",clearmode="family"} 2\n'],
            {series("f", job="test", a="1"): 1, series("f", job="test", a="2"): 2},
            id="family keeps every series of the push"),
        pytest.param(
            [("a", VERSION % "0.0.1"), ("b", VERSION % "0.0.1"), ("a", VERSION % "0.0.2")],
            {series("version", job="a", version="0.0.2"): 1, series("version", job="b", version="0.0.1"): 1},
            id="family replacement is per group"),
        pytest.param(['# TYPE c_total counter\nc_total{k="a"} 5\n', '# TYPE c_total counter\nc_total{k="b",clearmode="family"} 2\n'],
                     {series("c_total", job="test", k="b"): 2}, id="family on a counter"),
        pytest.param(
            ['# TYPE a_total counter\na_total{clearmode="sum",x="1"} 1\n# TYPE b gauge\nb{clearmode="replace"} 1\n'
             '# TYPE c gauge\nc{clearmode="info",v="1"} 1\n'],
            {series("a_total", job="test", x="1"): 1, series("b", job="test"): 1, series("c", job="test", v="1"): 1},
            id="sum, replace and info in one push"),
        pytest.param(["# TYPE c_total counter\nc_total 1\nc_total 2\n"], {series("c_total", job="test"): 3},
                     id="repeated counter lines add in order"),
        pytest.param(["# TYPE g gauge\ng 1\ng 5\n"], {series("g", job="test"): 5}, id="repeated gauge lines apply in order"),
        pytest.param(
            ["# TYPE c_total counter\nc_total 10\n# TYPE g gauge\ng 1\n",
             '# TYPE c_total counter\nc_total 1\nc_total{clearmode="replace"} 4\nc_total 1\n# TYPE g gauge\ng 7\ng{clearmode="sum"} 1\n'],
            {series("c_total", job="test"): 5, series("g", job="test"): 8},
            id="repeated lines on top of a stored value"),
    ],
)
def test_pushes_merge_to(gateway, pushes, expected):
    """Pushes in order (a body goes to job "test", a `(job, body)` pair to that job) leave
    exactly the expected series, in both exposition formats, with no clearmode label."""
    for push in pushes:
        job, body = push if isinstance(push, tuple) else ("test", push)
        gateway.ok("POST", f"/metrics/job/{job}", body)
    for headers in (None, OPENMETRICS):
        text = gateway.scrape_text(headers)
        assert "clearmode" not in text
        assert_samples_equal(parse_scrape(text, drop_self=True), normalise_bounds(expected, text))


def test_unknown_clearmode_is_400_listing_valid_ones(gateway):
    gateway.ok("POST", "/metrics/job/test", "# TYPE g gauge\ng 1\n")
    before = gateway.state()
    r = gateway.push("POST", "/metrics/job/test", '# TYPE g gauge\ng{clearmode="bogus"} 2\n')
    assert r.status_code == 400, f"answered {r.status_code}: {r.text!r}"
    for valid in ("aggregate", "replace", "family"):
        assert valid in r.text, f"400 body does not list {valid!r}: {r.text!r}"
    assert gateway.state() == before
