"""--data-dir: no acknowledged push is lost or counted twice.

Kill -9 under load (GRAVEL_DURABILITY_ROUNDS rounds, 20 by default; `make soak`
runs more), a graceful restart that scrapes byte for byte the same, logs cut at
every offset of their last record and with flipped bits in the middle, the
Idempotency-Key header, and a full disk (a small tmpfs the test mounts).
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import gateway_binary, parse_scrape, series

ROUNDS = int(os.environ.get("GRAVEL_DURABILITY_ROUNDS", "20"))
# The rounds must fit this many seconds (make test keeps the suite short; make soak raises it).
BUDGET_S = float(os.environ.get("GRAVEL_DURABILITY_BUDGET_S", "150"))
WORKERS = 4
TEXT = {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}


def without_gateway_metrics(text: str) -> str:
    """The scrape minus the gateway's own metrics (`gravel_gateway_*`, and `process_*`
    of this process), keeping `push_time_seconds`: a restart must bring that back exactly too."""
    own = ("gravel_gateway_", "process_")
    return "\n".join(
        line for line in text.split("\n")
        if not any(line.startswith(p) or line.startswith(f"# HELP {p}") or line.startswith(f"# TYPE {p}") for p in own))


def segments(data_dir: Path) -> list[Path]:
    return sorted(data_dir.glob("wal-*.log"))


def frames(path: Path) -> list[tuple[int, int]]:
    """(start, end) of every frame in a segment: u32 length, u32 CRC, payload."""
    data = path.read_bytes()
    out, offset = [], 0
    while offset + 8 <= len(data):
        (length,) = struct.unpack_from("<I", data, offset)
        end = offset + 8 + length
        if length == 0 or end > len(data):
            break
        out.append((offset, end))
        offset = end
    return out


def run_gateway(data_dir: Path, *extra: str, timeout: float = 20) -> subprocess.CompletedProcess:
    """Starts a gateway that is expected to refuse to start; returns its result."""
    return subprocess.run(
        [str(gateway_binary()), "-l", "127.0.0.1:0", "--data-dir", str(data_dir), *extra],
        capture_output=True, text=True, timeout=timeout)


# --------------------------------------------------------------------------
# kill -9 under load
# --------------------------------------------------------------------------

class Load:
    """WORKERS threads, each pushing `c_total{worker=...} 1` plus a count1h
    pebble as fast as the gateway answers, counting what was sent and what was
    acknowledged with 200."""

    def __init__(self, url: str):
        self.url = url
        self.sent = [0] * WORKERS
        self.acked = [0] * WORKERS
        self.other = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(w,), daemon=True) for w in range(WORKERS)]

    def client(self, w: int) -> None:
        s = requests.Session()
        s.trust_env = False
        body = f'c_total{{worker="{w}"}} 1\nseen{{clearmode="count1h",worker="{w}"}} 1\n'
        while not self.stop.is_set():
            self.sent[w] += 1
            try:
                r = s.post(self.url + "/metrics/job/load", data=body, headers=TEXT, timeout=10)
            except requests.RequestException:
                return  # The gateway was killed.
            if r.status_code == 200:
                self.acked[w] += 1
            else:
                self.other.append((r.status_code, r.text))

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)


def test_kill_9_under_load_loses_no_acknowledged_push(start_gateway, tmp_path):
    data = tmp_path / "data"
    sent = [0] * WORKERS
    acked = [0] * WORKERS
    deadline = time.monotonic() + BUDGET_S
    for round_ in range(ROUNDS):
        assert time.monotonic() < deadline, f"only {round_} rounds in the time budget"
        gw = start_gateway("--data-dir", data)
        if round_ > 0:
            samples = gw.samples()
            check_bounds(samples, sent, acked, round_)
            # Family and pebble state pushed (and acknowledged) before the kill is all there.
            assert samples.get(series("deploy_info", job="fam", round=str(round_ - 1))) == 1
            assert [k for k in samples if k[0] == "deploy_info"] == [series("deploy_info", job="fam", round=str(round_ - 1))]
            assert samples.get(series("depth", job="peb")) == round_ - 1
        gw.ok("PUT", "/metrics/job/fam", f'deploy_info{{clearmode="family",round="{round_}"}} 1\n')
        gw.ok("POST", "/metrics/job/peb", f'depth{{clearmode="max1h"}} {round_}\n')
        with Load(gw.url) as load:
            time.sleep(0.3 + 0.05 * (round_ % 5))
            gw.kill()
        assert not load.other, f"round {round_}: pushes answered other than 200: {load.other[:3]}"
        for w in range(WORKERS):
            sent[w] += load.sent[w]
            acked[w] += load.acked[w]
        assert sum(load.acked) > 0, f"round {round_}: no push was acknowledged before the kill"
    gw = start_gateway("--data-dir", data)
    check_bounds(gw.samples(), sent, acked, ROUNDS)


def check_bounds(samples, sent, acked, round_) -> None:
    for w in range(WORKERS):
        for name, labels in (("c_total", {}), ("seen", {})):
            value = samples.get(series(name, job="load", worker=str(w), **labels), 0)
            assert acked[w] <= value <= sent[w], (
                f"after round {round_}: {name} of worker {w} is {value}, "
                f"acknowledged {acked[w]}, sent {sent[w]}")


# --------------------------------------------------------------------------
# graceful restart, replay, readiness
# --------------------------------------------------------------------------

STATE = """\
# HELP requests_total Requests served.
# TYPE requests_total counter
requests_total{code="200"} 7
requests_total{code="500"} 1
# TYPE latency histogram
latency_bucket{le="0.1"} 3
latency_bucket{le="1"} 5
latency_bucket{le="+Inf"} 6
latency_sum 2.75
latency_count 6
# TYPE rpc summary
rpc{quantile="0.5"} 0.25
rpc_sum 4
rpc_count 10
build_info{clearmode="family",version="2.1"} 1
queue_mean{clearmode="mean1h"} 4
queue_p99{clearmode="p99_1h"} 12
queue_last{clearmode="last1h"} 3
"""


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_restart_scrapes_byte_for_byte_the_same(start_gateway, tmp_path, stop):
    data = tmp_path / "data"
    gw = start_gateway("--data-dir", data)
    for i in range(5):
        gw.ok("POST", f"/metrics/job/app/instance/i{i % 2}", STATE)
        gw.ok("POST", "/metrics/job/pebbles", f'depth{{clearmode="max1h"}} {i}\nrate{{clearmode="sum1h"}} {i * 0.5}\n')
    gw.ok("DELETE", "/metrics/job/app/instance/i1")
    gw.ok("PUT", "/metrics/job/put", "x 1\n")
    before = without_gateway_metrics(gw.scrape_text())
    assert "push_time_seconds" in before and "queue_p99" in before
    gw.stop(getattr(signal, stop))
    gw = start_gateway("--data-dir", data)
    assert without_gateway_metrics(gw.scrape_text()) == before
    if stop == "SIGTERM":
        # The shutdown snapshot covers everything: nothing was replayed.
        assert "records=0 " in gw.log(), gw.log()
    # And the restored state merges on as before.
    gw.ok("POST", "/metrics/job/app/instance/i0", '# TYPE requests_total counter\nrequests_total{code="200"} 1\n')
    assert gw.samples()[series("requests_total", job="app", instance="i0", code="200")] == 22


def test_healthy_answers_during_replay_and_ready_after(start_gateway, tmp_path):
    data = tmp_path / "data"
    gw = start_gateway("--data-dir", data)
    body = "".join(f'big{{n="{i}"}} {i}\n' for i in range(5000))
    for g in range(20):
        gw.ok("POST", f"/metrics/job/big/g/{g}", body)
    gw.kill()
    port_gw = start_unready(data)
    proc, url = port_gw
    try:
        saw_unready = False
        deadline = time.monotonic() + 60
        with requests.Session() as s:
            s.trust_env = False
            while time.monotonic() < deadline:
                try:
                    healthy = s.get(url + "/-/healthy", timeout=2).status_code
                    ready = s.get(url + "/-/ready", timeout=2)
                except requests.RequestException:
                    time.sleep(0.01)
                    continue
                assert healthy == 200
                if ready.status_code == 503:
                    saw_unready = True
                    push = s.post(url + "/metrics/job/x", data="y 1\n", headers=TEXT, timeout=2)
                    if push.status_code == 503:
                        assert "replaying" in push.text
                    else:
                        # The replay finished between the two requests.
                        assert push.status_code == 200 and s.get(url + "/-/ready", timeout=2).status_code == 200
                elif ready.status_code == 200:
                    break
                time.sleep(0.005)
            else:
                pytest.fail("the gateway did not become ready within 60 s")
            assert saw_unready, "/-/ready never answered 503 during a replay of 100,000 series"
            scraped = parse_scrape(s.get(url + "/metrics", timeout=10).text, drop_self=True)
            assert len([k for k in scraped if k[0] == "big"]) == 100_000
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def start_unready(data: Path):
    """Starts a gateway without waiting for /-/ready; returns (proc, url)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(data.parent / f"unready-{port}.log", "wb")
    proc = subprocess.Popen([str(gateway_binary()), "-l", f"127.0.0.1:{port}", "--data-dir", str(data)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}"


# --------------------------------------------------------------------------
# torn and corrupt logs
# --------------------------------------------------------------------------

def killed_with_three_records(start_gateway, data: Path) -> Path:
    gw = start_gateway("--data-dir", data)
    for i in range(3):
        gw.ok("POST", "/metrics/job/t", f"x{i} 1\n")
    gw.kill()
    [segment] = segments(data)
    assert len(frames(segment)) == 3
    return segment


def test_log_cut_at_every_offset_of_its_last_record(start_gateway, tmp_path):
    pristine = tmp_path / "pristine"
    segment = killed_with_three_records(start_gateway, pristine)
    last_start, last_end = frames(segment)[-1]
    for cut in range(last_start, last_end):
        data = tmp_path / f"cut-{cut}"
        shutil.copytree(pristine, data)
        seg = data / segment.name
        with open(seg, "r+b") as f:
            f.truncate(cut)
        gw = start_gateway("--data-dir", data)
        samples = gw.samples()
        assert series("x0", job="t") in samples and series("x1", job="t") in samples
        assert series("x2", job="t") not in samples
        if cut > last_start:
            assert "torn record" in gw.log() and f"{cut - last_start}" in gw.log(), gw.log()
        if cut in (last_start, last_start + 1, (last_start + last_end) // 2, last_end - 1):
            # The gateway goes on logging after the cut, and that survives a crash too.
            gw.ok("POST", "/metrics/job/t", "x3 1\n")
            gw.kill()
            gw = start_gateway("--data-dir", data)
            assert series("x3", job="t") in gw.samples()
        gw.stop()


def test_flipped_bits_in_the_middle_stop_start_up_unless_accepted(start_gateway, tmp_path):
    data = tmp_path / "data"
    segment = killed_with_three_records(start_gateway, data)
    (start, end) = frames(segment)[1]
    raw = bytearray(segment.read_bytes())
    raw[(start + end) // 2] ^= 0x24
    segment.write_bytes(bytes(raw))
    refused = run_gateway(data)
    assert refused.returncode != 0
    assert segment.name in refused.stderr and f"byte {start}" in refused.stderr, refused.stderr
    assert "--wal-accept-corruption" in refused.stderr
    gw = start_gateway("--data-dir", data, "--wal-accept-corruption")
    samples = gw.samples()
    assert series("x0", job="t") in samples and series("x2", job="t") in samples
    assert series("x1", job="t") not in samples


# --------------------------------------------------------------------------
# Idempotency-Key
# --------------------------------------------------------------------------

@pytest.mark.parametrize("durable", [True, False])
def test_idempotency_key_applies_a_push_once(start_gateway, tmp_path, durable):
    args = ("--data-dir", tmp_path / "data") if durable else ()
    gw = start_gateway(*args)
    key = {"Idempotency-Key": "sandbox-1/batch-7"}
    for _ in range(3):
        gw.ok("POST", "/metrics/job/i", "c_total 1\n", headers={**TEXT, **key})
    gw.ok("POST", "/metrics/job/i", "c_total 1\n", headers={**TEXT, "Idempotency-Key": "sandbox-1/batch-8"})
    gw.ok("POST", "/metrics/job/i", "c_total 1\n")
    assert gw.samples()[series("c_total", job="i")] == 3
    # The same key for another body (or group, or method) is a client bug: 409, nothing changes.
    for method, path, body in [("POST", "/metrics/job/i", "c_total 5\n"), ("POST", "/metrics/job/other", "c_total 1\n"),
                               ("PUT", "/metrics/job/i", "c_total 1\n")]:
        r = gw.push(method, path, body, headers={**TEXT, **key})
        assert r.status_code == 409, r.text
        assert "Idempotency-Key" in r.text
    assert gw.samples()[series("c_total", job="i")] == 3
    assert series("c_total", job="other") not in gw.samples()
    r = gw.push("POST", "/metrics/job/i", "c_total 1\n", headers={**TEXT, "Idempotency-Key": "k" * 129})
    assert r.status_code == 400 and "128" in r.text
    gw.ok("POST", "/metrics/job/i", "c_total 1\n", headers={**TEXT, "Idempotency-Key": "k" * 128})
    assert gw.samples()[series("c_total", job="i")] == 4
    if durable:
        for stop in (signal.SIGKILL, signal.SIGTERM):
            gw.stop(stop)
            gw = start_gateway(*args)
            gw.ok("POST", "/metrics/job/i", "c_total 1\n", headers={**TEXT, **key})
            assert gw.push("POST", "/metrics/job/i", "c_total 2\n", headers={**TEXT, **key}).status_code == 409
            assert gw.samples()[series("c_total", job="i")] == 4


def test_idempotency_window_forgets_keys(start_gateway):
    gw = start_gateway("--idempotency-window", "1s")
    key = {**TEXT, "Idempotency-Key": "once"}
    gw.ok("POST", "/metrics/job/w", "c_total 1\n", headers=key)
    gw.ok("POST", "/metrics/job/w", "c_total 1\n", headers=key)
    time.sleep(1.2)
    gw.ok("POST", "/metrics/job/w", "c_total 1\n", headers=key)
    assert gw.samples()[series("c_total", job="w")] == 2


# --------------------------------------------------------------------------
# a full disk
# --------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs mounted for the test, unmounted after it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> None:
    """Writes zeros to `path` until the file system is full."""
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass


def test_full_disk_answers_503_keeps_scraping_and_recovers(start_gateway, small_disk):
    data = small_disk / "data"
    gw = start_gateway("--data-dir", data)
    gw.ok("POST", "/metrics/job/d", "c_total 1\n")
    acked = 1
    fill(small_disk / "filler")
    statuses = []
    for _ in range(20):
        r = gw.post("/metrics/job/d", "c_total 1\n" + "".join(f'pad{{n="{i}"}} 1\n' for i in range(200)))
        statuses.append(r.status_code)
        if r.status_code == 200:
            acked += 1
        else:
            assert r.status_code == 503, r.text
            assert "--data-dir" in r.text or "data directory" in r.text, r.text
    assert 503 in statuses
    # Scrapes go on, and show only acknowledged pushes.
    assert gw.samples()[series("c_total", job="d")] == acked
    (small_disk / "filler").unlink()
    deadline = time.monotonic() + 15
    while True:
        r = gw.post("/metrics/job/d", "c_total 1\n")
        if r.status_code == 200:
            acked += 1
            break
        assert r.status_code == 503 and time.monotonic() < deadline, f"no recovery: {r.status_code} {r.text}"
        time.sleep(0.2)
    for _ in range(3):
        gw.ok("POST", "/metrics/job/d", "c_total 1\n")
        acked += 1
    assert gw.samples()[series("c_total", job="d")] == acked
    gw.kill()
    gw = start_gateway("--data-dir", data)
    assert gw.samples()[series("c_total", job="d")] == acked
    gw.stop()


def test_a_second_gateway_on_the_same_directory_is_refused(start_gateway, tmp_path):
    data = tmp_path / "data"
    gw = start_gateway("--data-dir", data)
    second = run_gateway(data)
    assert second.returncode != 0
    assert "one gravel-gateway per --data-dir" in second.stderr, second.stderr
    gw.ok("POST", "/metrics/job/one", "x 1\n")


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_admin_wipe_survives_a_restart(start_gateway, tmp_path, stop):
    """A wipe is logged like a delete: the groups do not come back from the log or a snapshot."""
    data = tmp_path / "data"
    gw = start_gateway("--data-dir", data, "--web.enable-admin-api")
    gw.ok("POST", "/metrics/job/before", "a 1\n")
    r = gw._http.put(gw.url + "/api/v1/admin/wipe", timeout=10)
    assert r.status_code == 202, r.text
    gw.ok("POST", "/metrics/job/after", "b 2\n")
    gw.stop(getattr(signal, stop))
    gw = start_gateway("--data-dir", data, "--web.enable-admin-api")
    samples = gw.samples()
    assert series("b", job="after") in samples
    assert not [k for k in samples if dict(k[1]).get("job") == "before"], samples
