"""Bugs reported against the original Gravel gateway, pinned on gravel-gateway.

(a) One family pushed with different label names from different groups must
    keep both series, each with its own labels.
(b) A gauge family pushed with label="value1" and then label="value2" answers
    200 both times and keeps both series.
(c) Java client output (trailing comma in the label set, `E` exponent, blank
    lines, a plain `#` comment) parses, and the value scrapes as 9.4094392e12 exactly.
(d) A family with only `# HELP`/`# TYPE` lines (no samples), followed by other
    families, is accepted and the other families are stored.
(e) Histograms with different bucket layouts merge on the union of the bounds:
    at bound b each side contributes its cumulative count at its largest own
    bound <= b; the result is cumulative and +Inf equals _count.
"""

import math

from conftest import assert_samples_equal, buckets, parse_scrape, series


def test_a_same_family_different_label_names(gateway):
    gateway.ok("POST", "/metrics/job/x", 'requests_num_total{LAMBDA_NAME="test_function"} 1\n')
    gateway.ok("POST", "/metrics/job/test", 'requests_num_total{job="test"} 1\n')
    assert_samples_equal(
        gateway.samples(),
        {
            series("requests_num_total", job="x", LAMBDA_NAME="test_function"): 1,
            series("requests_num_total", job="test"): 1,
        },
    )


def test_a_same_family_different_label_names_in_one_group(gateway):
    gateway.ok("POST", "/metrics/job/x", '# TYPE r_total counter\nr_total{a="1"} 1\n')
    gateway.ok("POST", "/metrics/job/x", '# TYPE r_total counter\nr_total{b="2"} 2\n')
    assert_samples_equal(
        gateway.samples(),
        {series("r_total", job="x", a="1"): 1, series("r_total", job="x", b="2"): 2},
    )


def test_b_gauge_with_two_label_values(gateway):
    gateway.ok("POST", "/metrics/job/test", '# TYPE g gauge\ng{label="value1"} 1\n')
    gateway.ok("POST", "/metrics/job/test", '# TYPE g gauge\ng{label="value2"} 2\n')
    assert_samples_equal(
        gateway.samples(),
        {series("g", job="test", label="value1"): 1, series("g", job="test", label="value2"): 2},
    )


def test_c_java_client_output(gateway):
    body = 'jvm_memory_bytes_used{area="heap",} 9.4094392E12\n\n\n# Service=myapp\n'
    gateway.ok("POST", "/metrics/job/java", body)
    text = gateway.scrape_text()
    lines = [line for line in text.split("\n") if line.startswith("jvm_memory_bytes_used")]
    assert len(lines) == 1, lines
    # Integral values render without an exponent; the number itself must be exact.
    assert float(lines[0].split()[-1]) == 9.4094392e12, lines[0]
    assert_samples_equal(
        parse_scrape(text, drop_self=True),
        {series("jvm_memory_bytes_used", job="java", area="heap"): 9.4094392e12},
    )


def test_d_family_without_samples_then_others(gateway):
    body = (
        "# HELP empty_total Nothing observed yet.\n"
        "# TYPE empty_total counter\n"
        "# HELP empty_hist_seconds No observations.\n"
        "# TYPE empty_hist_seconds histogram\n"
        "# HELP after Stored.\n"
        "# TYPE after gauge\n"
        "after 1\n"
        "# TYPE after2_total counter\n"
        "after2_total 2\n"
    )
    gateway.ok("POST", "/metrics/job/test", body)
    assert_samples_equal(
        gateway.samples(),
        {series("after", job="test"): 1, series("after2_total", job="test"): 2},
    )


def test_e_histograms_with_different_buckets(gateway):
    gateway.ok(
        "POST",
        "/metrics/job/test",
        "# TYPE h histogram\n"
        'h_bucket{le="1"} 1\n'
        'h_bucket{le="5"} 3\n'
        'h_bucket{le="+Inf"} 4\n'
        "h_sum 10\n"
        "h_count 4\n",
    )
    gateway.ok(
        "POST",
        "/metrics/job/test",
        "# TYPE h histogram\n"
        'h_bucket{le="2"} 2\n'
        'h_bucket{le="5"} 3\n'
        'h_bucket{le="10"} 5\n'
        'h_bucket{le="+Inf"} 6\n'
        "h_sum 20\n"
        "h_count 6\n",
    )
    got = gateway.samples()
    b = buckets(got, "h", job="test")
    inf = float("inf")
    assert sorted(b) == [1.0, 2.0, 5.0, 10.0, inf], f"bounds are not the union: {sorted(b)}"
    counts = [b[le] for le in sorted(b)]
    assert counts == sorted(counts), f"cumulative counts decrease: {counts}"
    count = got[series("h_count", job="test")]
    assert b[inf] == count == 10
    assert got[series("h_sum", job="test")] == 30
    # At each bound, each side's count at its largest own bound <= b.
    assert b == {1.0: 1 + 0, 2.0: 1 + 2, 5.0: 3 + 3, 10.0: 3 + 5, inf: 4 + 6}
    assert not any(math.isnan(v) for v in b.values())
