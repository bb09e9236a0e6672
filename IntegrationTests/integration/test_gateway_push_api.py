"""The push API of gravel-gateway: routes, grouping keys and group operations.

Contract (docs/SEMANTICS.md S1-S5, "Push API"):
- `POST|PUT|DELETE /metrics{/<label>/<value>}*`; the path labels form the
  grouping key. `<label>@base64/<value>` takes URL-safe base64 (padding
  optional, `=` alone for an empty value). Path values are URL-decoded.
  An odd number of segments or a label name starting with `__` is a 400.
- POST merges the body into the group, PUT replaces the group, DELETE removes
  it; all answer 200.
- Path labels are added to every series and win over body labels of the same
  name.
- GET /-/healthy and /-/ready answer 200.
"""

import base64

import pytest

from conftest import assert_samples_equal, series


def b64(value: str, *, padding: bool = True) -> str:
    encoded = base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii")
    return encoded if padding else encoded.rstrip("=")


def test_health_and_readiness(gateway):
    for path in ("/-/healthy", "/-/ready"):
        status, _, body = gateway.get(path)
        assert status == 200, f"GET {path} answered {status}: {body!r}"


def test_post_answers_200_and_scrape_shows_series(gateway):
    gateway.ok("POST", "/metrics/job/test", "m 1\n")
    assert_samples_equal(gateway.samples(), {series("m", job="test"): 1})


def test_post_merges_into_group(gateway):
    gateway.ok("POST", "/metrics/job/test", "# TYPE a gauge\na 1\n")
    gateway.ok("POST", "/metrics/job/test", "# TYPE b gauge\nb 2\n")
    assert_samples_equal(gateway.samples(), {series("a", job="test"): 1, series("b", job="test"): 2})


def test_put_replaces_group(gateway):
    gateway.ok("POST", "/metrics/job/test", "# TYPE a gauge\na 1\n# TYPE b_total counter\nb_total 2\n")
    gateway.ok("POST", "/metrics/job/other", "# TYPE a gauge\na 7\n")
    gateway.ok("PUT", "/metrics/job/test", "# TYPE b_total counter\nb_total 5\n# TYPE c gauge\nc 3\n")
    assert_samples_equal(
        gateway.samples(),
        {
            # b_total was cleared before the merge, so 5 and not 7.
            series("b_total", job="test"): 5,
            series("c", job="test"): 3,
            series("a", job="other"): 7,
        },
    )


def test_put_with_empty_body_empties_group(gateway):
    gateway.ok("POST", "/metrics/job/test", "a 1\n")
    gateway.ok("PUT", "/metrics/job/test", "")
    assert gateway.samples() == {}


def test_delete_removes_group_only(gateway):
    gateway.ok("POST", "/metrics/job/test", "a 1\nb 2\n")
    gateway.ok("POST", "/metrics/job/test/instance/i1", "a 3\n")
    gateway.ok("POST", "/metrics/job/other", "a 4\n")
    gateway.ok("DELETE", "/metrics/job/test")
    assert_samples_equal(
        gateway.samples(),
        {series("a", job="test", instance="i1"): 3, series("a", job="other"): 4},
    )
    push_times = {k for k in gateway.samples(drop_self=False) if k[0] == "push_time_seconds"}
    assert push_times == {
        series("push_time_seconds", job="test", instance="i1"),
        series("push_time_seconds", job="other"),
    }


def test_delete_then_push_starts_afresh(gateway):
    gateway.ok("POST", "/metrics/job/test", "# TYPE c_total counter\nc_total 5\n")
    gateway.ok("DELETE", "/metrics/job/test")
    gateway.ok("POST", "/metrics/job/test", "# TYPE c_total counter\nc_total 1\n")
    assert_samples_equal(gateway.samples(), {series("c_total", job="test"): 1})


def test_path_labels_added_to_every_series(gateway):
    gateway.ok("POST", "/metrics/job/checkout/region/eu", 'a 1\nb{x="y"} 2\n# TYPE c gauge\nc{z="w"} 3\n')
    assert_samples_equal(
        gateway.samples(),
        {
            series("a", job="checkout", region="eu"): 1,
            series("b", job="checkout", region="eu", x="y"): 2,
            series("c", job="checkout", region="eu", z="w"): 3,
        },
    )


def test_path_labels_override_body_labels(gateway):
    gateway.ok("POST", "/metrics/job/checkout/region/eu", 'm{job="other",region="us",x="1"} 1\n')
    assert_samples_equal(gateway.samples(), {series("m", job="checkout", region="eu", x="1"): 1})


def test_grouping_key_is_a_label_set(gateway):
    """The same labels in another order name the same group."""
    gateway.ok("POST", "/metrics/job/a/instance/1", "# TYPE g gauge\ng 1\nother 1\n")
    gateway.ok("PUT", "/metrics/instance/1/job/a", "# TYPE g gauge\ng 2\n")
    assert_samples_equal(gateway.samples(), {series("g", job="a", instance="1"): 2})


def test_path_values_are_url_decoded(gateway):
    gateway.ok("POST", "/metrics/job/hello%20world%21/path/%C3%A9t%C3%A9", "m 1\n")
    assert_samples_equal(gateway.samples(), {series("m", job="hello world!", path="\u00e9t\u00e9"): 1})


def test_encoded_slash_in_path_value(gateway):
    gateway.ok("POST", "/metrics/job/test/path/a%2Fb", "m 1\n")
    assert_samples_equal(gateway.samples(), {series("m", job="test", path="a/b"): 1})


@pytest.mark.parametrize("padding", [True, False], ids=["padded", "unpadded"])
def test_base64_path_values(gateway, padding):
    # "??>" encodes to "Pz8-" (URL-safe alphabet); "ab" to "YWI=" (padding).
    path = f"/metrics/job@base64/{b64('a/b c', padding=padding)}/x@base64/{b64('??>', padding=padding)}/y@base64/{b64('ab', padding=padding)}"
    gateway.ok("POST", path, "m 1\n")
    assert_samples_equal(gateway.samples(), {series("m", job="a/b c", x="??>", y="ab"): 1})


def test_base64_and_plain_spellings_name_the_same_group(gateway):
    gateway.ok("POST", "/metrics/job/test", "# TYPE g gauge\ng 1\nother 1\n")
    gateway.ok("PUT", f"/metrics/job@base64/{b64('test')}", "# TYPE g gauge\ng 2\n")
    assert_samples_equal(gateway.samples(), {series("g", job="test"): 2})


def test_base64_equals_sign_is_empty_value(gateway):
    gateway.ok("POST", "/metrics/job/test/instance@base64/=", 'm 1\n')
    # An empty label value is the same as no label for Prometheus.
    assert_samples_equal(gateway.samples(), {series("m", job="test", instance=""): 1})


@pytest.mark.parametrize(
    "path",
    [
        "/metrics/job",
        "/metrics/job/a/instance",
        "/metrics/job@base64",
    ],
)
def test_odd_number_of_segments_is_400(gateway, path):
    gateway.ok("POST", "/metrics/job/keep", "keep 1\n")
    before = gateway.state()
    for method in ("POST", "PUT", "DELETE"):
        r = gateway.push(method, path, "m 1\n" if method != "DELETE" else b"")
        assert r.status_code == 400, f"{method} {path} answered {r.status_code}: {r.text!r}"
    assert gateway.state() == before


@pytest.mark.parametrize(
    "path",
    [
        "/metrics/job/a/__name__/x",
        "/metrics/__job/a",
        "/metrics/job/a/__x@base64/YQ",
    ],
)
def test_reserved_label_name_in_path_is_400(gateway, path):
    gateway.ok("POST", "/metrics/job/keep", "keep 1\n")
    before = gateway.state()
    for method in ("POST", "PUT", "DELETE"):
        r = gateway.push(method, path, "m 1\n" if method != "DELETE" else b"")
        assert r.status_code == 400, f"{method} {path} answered {r.status_code}: {r.text!r}"
    assert gateway.state() == before


def test_groups_are_independent(gateway):
    gateway.ok("POST", "/metrics/job/a", "# TYPE c_total counter\nc_total 1\n")
    gateway.ok("POST", "/metrics/job/b", "# TYPE c_total counter\nc_total 10\n")
    gateway.ok("POST", "/metrics/job/a", "# TYPE c_total counter\nc_total 2\n")
    assert_samples_equal(
        gateway.samples(),
        {series("c_total", job="a"): 3, series("c_total", job="b"): 10},
    )
