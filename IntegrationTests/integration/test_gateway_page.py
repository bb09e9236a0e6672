"""The page at `/` in a real browser (Debian's headless chromium): it loads, shows
pushed groups, filters through its form, pages, escapes hostile labels, and with
the admin API its delete button deletes the group."""

from __future__ import annotations

import base64
import struct

import requests

from chromium_pipe import HeadlessChromium, dump_dom, screenshot
from conftest import HTTP_TIMEOUT_S


def test_page_loads_and_shows_a_pushed_group(gateway, tmp_path):
    gateway.ok("PUT", "/metrics/job/nightly-backup/host/db1",
               "# HELP backup_bytes Bytes written.\n# TYPE backup_bytes gauge\nbackup_bytes 1.5e9\n"
               "# TYPE backup_runs_total counter\nbackup_runs_total{outcome=\"ok\"} 1\nbackup_runs_total{outcome=\"failed\"} 0\n")
    r = requests.get(gateway.url + "/", timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    dom = dump_dom(gateway.url + "/", tmp_path / "profile")
    assert "<title>Gravel gateway</title>" in dom
    # Grouping labels in name order.
    assert '<span class="label">host=<b>db1</b></span><span class="label">job=<b>nightly-backup</b></span>' in dom
    assert "<summary>2 families, 3 series</summary>" in dom
    assert '<td class="name">backup_runs_total</td><td>counter</td><td class="num">2</td>' in dom
    assert "Last failure: never" in dom
    assert "Delete group" not in dom  # no admin API


def test_filter_form_and_paging_in_the_browser(gateway, tmp_path):
    for i in range(120):
        gateway.ok("PUT", f"/metrics/job/worker/shard/{i:03d}", f"queue_depth {i}\n")
    gateway.ok("PUT", "/metrics/job/billing", "invoices_sent_total 3\n")
    with HeadlessChromium(tmp_path / "profile") as browser:
        browser.open(gateway.url + "/")
        assert browser.evaluate("document.querySelectorAll('section.group').length") == 50
        assert "Groups 1–50 of 121" in browser.evaluate("document.querySelector('nav.pager').textContent")

        # Paging: follow the "Next" link twice.
        browser.run_and_wait_for_load("document.querySelector('a[rel=next]').click()")
        assert "Groups 51–100 of 121" in browser.evaluate("document.querySelector('nav.pager').textContent")
        browser.run_and_wait_for_load("document.querySelector('a[rel=next]').click()")
        assert browser.evaluate("document.querySelectorAll('section.group').length") == 21
        assert browser.evaluate("document.querySelector('a[rel=next]')") is None

        # The filter: type into the form and submit it, as a user does.
        browser.run_and_wait_for_load(
            "document.querySelector('input[name=filter]').value = 'shard=\"11';"
            "document.querySelector('form.filter').requestSubmit()")
        assert browser.evaluate("location.search").startswith("?filter=shard%3D%2211")
        labels = browser.evaluate("[...document.querySelectorAll('section.group .labels')].map(e => e.textContent)")
        assert labels == [f"job=workershard={i}" for i in range(110, 120)]
        # By family name, across pages' worth of groups.
        browser.open(gateway.url + "/?filter=invoices")
        assert browser.evaluate("document.querySelectorAll('section.group').length") == 1
        assert "billing" in browser.evaluate("document.querySelector('section.group').textContent")


def test_hostile_labels_stay_text(gateway, tmp_path):
    evil = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'
    gateway.ok("PUT", "/metrics/job/x", f'# HELP m {evil}\nm{{v="{evil.replace(chr(34), chr(92) + chr(34))}"}} 1\n')
    gateway.ok("PUT", "/metrics/job/y/note@base64/" + base64.urlsafe_b64encode(evil.encode()).decode(), "n 1\n")
    with HeadlessChromium(tmp_path / "profile") as browser:
        browser.open(gateway.url + "/")
        assert browser.evaluate("document.title") == "Gravel gateway"
        assert browser.evaluate("document.querySelectorAll('img').length") == 0
        assert browser.evaluate("document.querySelectorAll('script').length") == 0
        assert evil in browser.evaluate("document.body.textContent")


def test_delete_button_deletes_the_group(start_gateway, tmp_path):
    gateway = start_gateway("--web.enable-admin-api")
    gateway.ok("PUT", "/metrics/job/keep", "a 1\n")
    gateway.ok("PUT", "/metrics/job/drop/path@base64/YS9i", "b 1\n")
    with HeadlessChromium(tmp_path / "profile") as browser:
        browser.open(gateway.url + "/?filter=drop")
        # Click "Delete group", accept the confirm() dialog; the page reloads.
        browser.run_and_wait_for_load("document.querySelector('section.group button[data-method=DELETE]').click()")
        assert browser.dialogs == ["Delete this group?"]
        assert "No group matches the filter." in browser.evaluate("document.body.textContent")
    groups = requests.get(gateway.url + "/api/v1/metrics", timeout=HTTP_TIMEOUT_S).json()["data"]
    assert [g["labels"] for g in groups] == [{"job": "keep"}]


def test_screenshot_renders(gateway, tmp_path):
    for job, body in (("nightly-backup", "backup_bytes 1.5e9\nbackup_runs_total 4\n"), ("etl", "rows_total 1e6\n")):
        gateway.ok("PUT", f"/metrics/job/{job}", body)
    path = tmp_path / "page.png"
    screenshot(gateway.url + "/", path, tmp_path / "profile")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 900)
    assert len(data) > 10_000  # a rendered page, not a blank image
