"""One push pipeline: the gateway and the extension's local listener refuse the same
pushes with the same status and the same message (docs/ARCHITECTURE.md, "One push
pipeline"), and accept the same ones.

The table runs against a fresh gateway and a fresh extension (in the Lambda sandbox
emulator) side by side. Each row is (method, path, body) pushed in order to both: the
state a row is checked against is built by the rows before it. Rows the extension answers
differently on purpose are not here: GRAVEL_MAX_SERIES never refuses (the function must not
fail for the extension's buffer), and a plain `/metrics` push gets GRAVEL_JOB there.
"""

from __future__ import annotations

import pytest

from test_extension_harness import extension_sandbox  # noqa: F401  (fixture)

HIST = '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n'

# (method, path, body): pushed in this order to both programs.
TABLE = [
    ("POST", "/metrics/job/a", '# TYPE c counter\nc_total 1\nc_total{x="1"} 1\n'),
    ("POST", "/metrics/job/a", HIST),
    # Types are one per name across all groups.
    ("POST", "/metrics/job/b", "# TYPE c_total gauge\nc_total 2\n"),
    # Families that would write each other's names (the drift this pipeline removed).
    ("POST", "/metrics/job/b", "h_sum 1\n"),
    ("POST", "/metrics/job/b", "# TYPE h_bucket gauge\nh_bucket 1\n"),
    ("POST", "/metrics/job/b", "# TYPE c counter\nc 1\n"),
    # The same final series from two groups: {job="a",x="1"} is group a's already.
    ("POST", "/metrics/job/a/x/1", "c_total 1\n"),
    # Names only the gateway writes.
    ("POST", "/metrics/job/b", "push_time_seconds 1\n"),
    ("POST", "/metrics/job/b", "push_failure_time_seconds 1\n"),
    ("POST", "/metrics/job/b", "gravel_gateway_series 1\n"),
    # Bodies and paths that do not parse.
    ("POST", "/metrics/job/b", "x{ 1\n"),
    ("POST", "/metrics/job/b", 'x{clearmode="sometimes"} 1\n'),
    ("POST", "/metrics/job", "x 1\n"),
    ("POST", "/metrics/job/b/__x/1", "x 1\n"),
    ("POST", "/metrics/job/b/a@base64/%%%", "x 1\n"),
    # Methods and routes.
    ("PATCH", "/metrics/job/b", "x 1\n"),
    ("GET", "/nope", ""),
    # A PUT is judged against the state after it: it may change the type of what it replaces.
    ("PUT", "/metrics/job/a", "# TYPE c_total gauge\nc_total 5\n"),
    ("POST", "/metrics/job/b", "# TYPE c_total gauge\nc_total 6\n"),
    ("DELETE", "/metrics/job/b", ""),
    # An addition that would overflow a stored total to infinity.
    ("POST", "/metrics/job/o", "o_total 1e308\n"),
    ("POST", "/metrics/job/o", "o_total 1e308\n"),
]


# Run with UTF-8 names on in both programs (--push.enable-utf8-names, GRAVEL_UTF8_NAMES).
UTF8_TABLE = [
    ("POST", "/metrics/job/a/U__my_2e_label/v", '# TYPE "my.metric" counter\n{"my.metric_total","a.b"="1"} 1\n'),
    # What a scraper without UTF-8 names would see as one family, or one label.
    ("POST", "/metrics/job/b", "# TYPE my_metric_total counter\nmy_metric_total 1\n"),
    ("POST", "/metrics/job/b", '{"m","a.b"="1",a_b="2"} 1\n'),
    ("POST", "/metrics/job/b", '{"m","[.b"="1"} 1\n'),
    ("POST", "/metrics/job/b", '{"a\\"b"} 1\n'),
    ("POST", "/metrics/job/b/U______x/1", "x 1\n"),
    ("POST", "/metrics/job/b", '{"m" 1\n'),
    ("POST", "/metrics/job/b", '# TYPE "push.time_seconds" gauge\n{"push.time_seconds"} 1\n'),
    ("PUT", "/metrics/job/a/U__my_2e_label/v", '{"my.metric_total","a.b"="2"} 2\n'),
]


@pytest.mark.parametrize(
    "table, gateway_args, extension_settings, refusals",
    [
        # The table exercises refusals, not only successes.
        pytest.param(TABLE, (), {}, 16, id="default settings"),
        pytest.param(UTF8_TABLE, ("--push.enable-utf8-names",), {"utf8_names": "true"}, 7, id="UTF-8 names on"),
    ],
)
def test_same_answers_from_both_programs(start_gateway, extension_sandbox, table, gateway_args,  # noqa: F811
                                         extension_settings, refusals):
    gateway = start_gateway(*gateway_args)
    ext = extension_sandbox(gateway.url, flush="end", **extension_settings)
    refused = 0
    for method, path, body in table:
        g = gateway.push(method, path, body)
        e = ext.push(method, path, body)
        assert (g.status_code, g.text) == (e.status_code, e.text), (
            f"{method} {path} {body!r}: gateway {g.status_code} {g.text!r}, extension {e.status_code} {e.text!r}"
        )
        refused += g.status_code >= 400
    assert refused == refusals
