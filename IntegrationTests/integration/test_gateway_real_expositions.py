"""Real expositions pushed into a fresh group come back sample for sample.

The sources are the /metrics of Debian's `prometheus-pushgateway` and
`prometheus-node-exporter` (Prometheus's own is in test_gateway_prometheus.py,
prometheus_client's in test_gateway_clients.py). Each is started on a loopback port,
its text exposition is fetched once, PUT into gravel-gateway, and the scrape must hold
the same samples with the job label added.
"""

import shutil
import subprocess
import time

import pytest
import requests

from conftest import assert_samples_equal, free_port, normalise_bounds, parse_scrape, with_labels

SOURCES = {
    "pushgateway": lambda port, tmp: [
        "prometheus-pushgateway", f"--web.listen-address=127.0.0.1:{port}", f"--persistence.file={tmp}/pg.data",
    ],
    "node-exporter": lambda port, tmp: [
        "prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
        "--collector.cpu", "--collector.meminfo", "--collector.loadavg", "--collector.filesystem", "--collector.netdev",
        "--collector.stat", "--collector.time", "--collector.uname", "--collector.vmstat",
    ],
}


def fetch_exposition(name, tmp_path):
    argv = SOURCES[name](free_port(), tmp_path)
    if shutil.which(argv[0]) is None:
        pytest.fail(f"{argv[0]} is not installed; scripts/setup.sh test installs it")
    port = int(argv[1].rsplit(":", 1)[1])
    log = open(tmp_path / f"{name}.log", "wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/metrics", headers={"Accept": "text/plain;version=0.0.4"}, timeout=5)
                if r.status_code == 200:
                    return r
            except requests.RequestException:
                pass
            assert proc.poll() is None, (tmp_path / f"{name}.log").read_text()
            assert time.monotonic() < deadline, f"{name} did not answer"
            time.sleep(0.1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_real_exposition_round_trip(gateway, tmp_path, source):
    r = fetch_exposition(source, tmp_path)
    body = r.content
    expected = with_labels(parse_scrape(body.decode("utf-8")), job=source)
    assert len(expected) > 30, f"{source} exposed only {len(expected)} samples"
    gateway.ok("PUT", f"/metrics/job/{source}", body, headers={"Content-Type": r.headers["Content-Type"]})
    text = gateway.scrape_text()
    assert_samples_equal(parse_scrape(text, drop_self=True), normalise_bounds(expected, text))
