"""Atomic rejection of bad pushes by gravel-gateway.

Contract (docs/SEMANTICS.md S9, S24, S40, S42): a push is fully parsed and validated before
anything changes. Any error answers 4xx (400 for these) with a message naming
the line and the problem, and leaves the state exactly as it was. Rejected:
- a malformed body (the message names the line, e.g. "line 3"),
- a type that differs from the type of the same metric name stored in any group,
- a series that another group already exposes with the same final labels,
- an unknown clearmode.

Each test builds some state, sends the bad push, and compares the scrape minus
the self metrics (`push_time_seconds`, `gravel_gateway_*`) byte for byte. The
set of groups (one `push_time_seconds` per group) must not change either.
"""

import pytest

from conftest import assert_samples_equal, series

SEED = [
    ("POST", "/metrics/job/a", "# TYPE x counter\nx 1\n# TYPE g gauge\ng{k=\"v\"} 2\n"),
    ("POST", "/metrics/job/a/instance/1", "# TYPE c_total counter\nc_total 4\n"),
    ("POST", "/metrics/job/b", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"),
    ("POST", "/metrics/job/stored", '# TYPE m untyped\nm{instance="1"} 1\n'),
]


def seed(gw):
    for method, path, body in SEED:
        gw.ok(method, path, body)


def groups(gw):
    """Groups that hold pushed data: a refused push to a new group creates it with a
    push_failure_time_seconds only (as the Pushgateway), never with a push time."""
    return {k for k, v in gw.samples(drop_self=False).items() if k[0] == "push_time_seconds" and v > 0}


def assert_rejected(gw, method, path, body, *, expect_in_message=()):
    before_text = gw.state()
    before_groups = groups(gw)
    r = gw.push(method, path, body)
    assert r.status_code == 400, f"{method} {path} answered {r.status_code}: {r.text!r}\nbody:\n{body}"
    for needle in expect_in_message:
        assert needle in r.text, f"error message {r.text!r} does not mention {needle!r}"
    assert gw.state() == before_text, "a rejected push changed the exposed state"
    assert groups(gw) == before_groups, "a rejected push changed the set of groups"
    return r


MALFORMED = [
    pytest.param("ok_one 1\nok_two 2\nbroken{ 3\n", "line 3", id="unterminated-label-set"),
    pytest.param("ok_one 1\nok_two 2\nbroken 1 2 3\n", "line 3", id="trailing-garbage"),
    pytest.param("ok_one 1\nok_two 2\nbroken notanumber\n", "line 3", id="bad-value"),
    pytest.param('ok_one 1\nok_two 2\nbroken{a="1",a="2"} 1\n', "line 3", id="duplicate-label"),
    pytest.param("ok_one 1\nok_two 2\n# TYPE broken nonsense\n", "line 3", id="bad-type"),
]


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("body,where", MALFORMED)
def test_malformed_body_is_rejected_atomically(gateway, method, body, where):
    seed(gateway)
    # PUT to an existing group: the group must not be cleared either.
    assert_rejected(gateway, method, "/metrics/job/a", body, expect_in_message=[where])
    assert_rejected(gateway, method, "/metrics/job/fresh", body, expect_in_message=[where])


def test_type_conflict_across_groups(gateway):
    gateway.ok("POST", "/metrics/job/a", "# TYPE x counter\nx 1\n")
    assert_rejected(gateway, "POST", "/metrics/job/b", "# TYPE x gauge\nx 1\n")
    assert_samples_equal(gateway.samples(), {series("x", job="a"): 1})


def test_type_conflict_rejects_the_whole_body(gateway):
    seed(gateway)
    assert_rejected(
        gateway, "POST", "/metrics/job/new",
        "# TYPE fine gauge\nfine 1\n# TYPE x gauge\nx 1\n# TYPE fine2_total counter\nfine2_total 1\n",
    )
    assert_rejected(gateway, "PUT", "/metrics/job/a", "# TYPE fine gauge\nfine 1\n# TYPE h summary\nh_sum 1\nh_count 1\n")


def test_type_conflict_within_the_same_group(gateway):
    seed(gateway)
    assert_rejected(gateway, "POST", "/metrics/job/a", "# TYPE g counter\ng{k=\"v\"} 1\n")


def test_series_exposed_by_two_groups_is_rejected(gateway):
    gateway.ok("POST", "/metrics/job/a", 'm{instance="1"} 1\n')
    assert_rejected(gateway, "POST", "/metrics/job/a/instance/1", "m 1\n")
    assert_samples_equal(gateway.samples(), {series("m", job="a", instance="1"): 1})


def test_series_exposed_by_two_groups_the_other_way_round(gateway):
    gateway.ok("POST", "/metrics/job/a/instance/1", "m 1\n")
    assert_rejected(gateway, "POST", "/metrics/job/a", 'other 1\nm{instance="1"} 1\n')
    assert_samples_equal(gateway.samples(), {series("m", job="a", instance="1"): 1})


def test_unknown_clearmode_is_rejected_atomically(gateway):
    seed(gateway)
    r = assert_rejected(
        gateway, "POST", "/metrics/job/a",
        "# TYPE fine gauge\nfine 1\n# TYPE c_total counter\nc_total{clearmode=\"maybe\"} 1\n",
    )
    for valid in ("aggregate", "replace", "family"):
        assert valid in r.text, f"400 body does not list {valid!r}: {r.text!r}"
    assert_rejected(gateway, "PUT", "/metrics/job/a", 'fine 1\nz{clearmode="nope"} 1\n')


def test_state_after_rejections_still_accepts_pushes(gateway):
    seed(gateway)
    assert_rejected(gateway, "POST", "/metrics/job/a", "c_total{ 1\n")
    gateway.ok("POST", "/metrics/job/a/instance/1", "# TYPE c_total counter\nc_total 1\n")
    got = gateway.samples()
    assert got[series("c_total", job="a", instance="1")] == 5
