"""Bugs reported against the original Gravel gateway, pinned on gravel-gateway.

(a) One family pushed with different label names from different groups must
    keep both series, each with its own labels.
(b) A gauge family pushed with label="value1" and then label="value2" answers
    200 both times and keeps both series.
(c) Java client output (trailing comma in the label set, `E` exponent, blank
    lines, a plain `#` comment) parses, and the value scrapes as 9.4094392e12 exactly.
(d) A family with only `# HELP`/`# TYPE` lines (no samples), followed by other
    families, is accepted and the other families are stored.
(e) Histograms with different bucket layouts merge exactly (docs/SEMANTICS.md
    S29): on the bounds both layouts share, +Inf always among them, each count
    the sum of both sides' counts there. A bound only one side has is dropped,
    since the other side's count at it is unknown: every exposed bucket is the
    true number of observations at or below its bound, and +Inf equals _count.
    (The union of the bounds, the earlier rule, under-counted at such bounds.)
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
    # 1, 2 and 10 are in one layout only: under the union rule le="2" showed 1 + 2,
    # where the first push's count at 2 could be anything from 1 to 3.
    assert b == {5.0: 3 + 3, inf: 4 + 6}, f"not the shared bounds: {b}"
    assert got[series("h_count", job="test")] == b[inf] == 10
    assert got[series("h_sum", job="test")] == 30
    assert not any(math.isnan(v) for v in b.values())


def test_e_histograms_with_different_buckets_after_a_third_layout(gateway):
    layouts = [
        ("1", "2", "5"),
        ("2", "5", "10"),
        ("0.5", "2", "10"),
    ]
    for i, layout in enumerate(layouts):
        lines = "".join(f'h_bucket{{le="{le}"}} {k + 1}\n' for k, le in enumerate(layout))
        gateway.ok(
            "POST",
            "/metrics/job/test",
            f'# TYPE h histogram\n{lines}h_bucket{{le="+Inf"}} 4\nh_sum {i + 1}\nh_count 4\n',
        )
    got = gateway.samples()
    # Only 2 and +Inf are in every layout; at 2 the pushes counted 2, 1 and 2.
    assert buckets(got, "h", job="test") == {2.0: 5, float("inf"): 12}
    assert got[series("h_count", job="test")] == 12
    assert got[series("h_sum", job="test")] == 6
