"""The push API of gravel-gateway: routes, grouping keys and group operations.

Contract (docs/SEMANTICS.md S1-S5, "Push API"):
- `POST|PUT|DELETE /metrics{/<label>/<value>}*`; the path labels form the
  grouping key. `<label>@base64/<value>` takes URL-safe base64 (padding
  optional, `=` alone for an empty value). Path values are URL-decoded.
  An odd number of segments or a label name starting with `__` is a 400.
- POST merges the body into the group, PUT replaces the group (both answer
  200), DELETE removes it (202, as the Pushgateway).
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


@pytest.mark.parametrize(
    "path, body, expected",
    [
        pytest.param(
            "/metrics/job/checkout/region/eu", 'a 1\nb{x="y"} 2\n# TYPE c gauge\nc{z="w"} 3\n',
            {series("a", job="checkout", region="eu"): 1, series("b", job="checkout", region="eu", x="y"): 2,
             series("c", job="checkout", region="eu", z="w"): 3},
            id="path labels on every series"),
        pytest.param(
            "/metrics/job/checkout/region/eu", 'm{job="other",region="us",x="1"} 1\n',
            {series("m", job="checkout", region="eu", x="1"): 1}, id="path labels win over body labels"),
        pytest.param(
            "/metrics/job/hello%20world%21/path/%C3%A9t%C3%A9", "m 1\n",
            {series("m", job="hello world!", path="\u00e9t\u00e9"): 1}, id="url-decoded values"),
        pytest.param("/metrics/job/test/path/a%2Fb", "m 1\n", {series("m", job="test", path="a/b"): 1}, id="encoded slash"),
        # An empty label value is the same as no label, as for Prometheus.
        pytest.param("/metrics/job/test/instance@base64/=", "m 1\n", {series("m", job="test"): 1}, id="base64 empty value"),
        pytest.param("/metrics/job/test/instance/", "m 1\n", {series("m", job="test"): 1}, id="plain empty value"),
    ],
)
def test_path_labels(gateway, path, body, expected):
    gateway.ok("POST", path, body)
    assert_samples_equal(gateway.samples(), expected)


@pytest.mark.parametrize(
    "first, second, labels",
    [
        pytest.param("/metrics/job/a/instance/1", "/metrics/instance/1/job/a", {"job": "a", "instance": "1"}, id="label order"),
        pytest.param("/metrics/job/a", f"/metrics/job@base64/{b64('a')}", {"job": "a"}, id="base64 and plain spellings"),
        pytest.param("/metrics/job/a", "/metrics/job/a/instance@base64/=", {"job": "a"}, id="empty label value"),
    ],
)
def test_spellings_of_one_group(gateway, first, second, labels):
    """Two paths that name the same label set are one group: the PUT replaces the POST."""
    gateway.ok("POST", first, "# TYPE g gauge\ng 1\nother 1\n")
    gateway.ok("PUT", second, "# TYPE g gauge\ng 2\n")
    assert_samples_equal(gateway.samples(), {series("g", **labels): 2})


@pytest.mark.parametrize("padding", [True, False], ids=["padded", "unpadded"])
def test_base64_path_values(gateway, padding):
    # "??>" encodes to "Pz8-" (URL-safe alphabet); "ab" to "YWI=" (padding).
    path = f"/metrics/job@base64/{b64('a/b c', padding=padding)}/x@base64/{b64('??>', padding=padding)}/y@base64/{b64('ab', padding=padding)}"
    gateway.ok("POST", path, "m 1\n")
    assert_samples_equal(gateway.samples(), {series("m", job="a/b c", x="??>", y="ab"): 1})


@pytest.mark.parametrize(
    "path",
    [
        # An odd number of segments.
        "/metrics/job",
        "/metrics/job/a/instance",
        "/metrics/job@base64",
        # Reserved label names.
        "/metrics/job/a/__name__/x",
        "/metrics/__job/a",
        "/metrics/job/a/__x@base64/YQ",
        # Not base64.
        "/metrics/job/a/x@base64/%%%",
    ],
)
def test_bad_path_is_400_for_every_method(gateway, path):
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
