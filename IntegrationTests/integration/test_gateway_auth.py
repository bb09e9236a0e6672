"""--basic-auth-file: bcrypt hashes, Basic credentials, the verdict cache, the
bound on bcrypt work, --protect-scrape, probes without auth, SIGHUP re-reads."""

from __future__ import annotations

import base64
import concurrent.futures
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry, Counter, push_to_gateway, pushadd_to_gateway
from prometheus_client.exposition import basic_auth_handler

from conftest import gateway_binary, parse_scrape, series

REALM = 'Basic realm="gravel"'
BODY = "# TYPE pushes_total counter\npushes_total 1\n"


def bcrypt_hash(password: str, cost: int = 5) -> str:
    """What `htpasswd -bnBC <cost> "" <password> | tr -d ':\\n'` writes."""
    out = subprocess.run(
        ["htpasswd", "-bnBC", str(cost), "", password], capture_output=True, text=True, check=True,
    ).stdout
    return out.replace(":", "").replace("\n", "")


def auth_file(tmp_path: Path, *lines: str, name: str = "auth.txt") -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


def basic(password: str, user: str = "") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def self_metric(gw, name: str, **labels: str) -> float:
    status, _, text = gw.scrape(headers=basic("secret"))
    assert status == 200, text
    return parse_scrape(text).get(series(name, **labels), 0.0)


def refused_start(*args: str, timeout: float = 20.0) -> subprocess.CompletedProcess:
    """Runs the gateway with options that must stop it before it serves."""
    proc = subprocess.run(
        [str(gateway_binary()), "-l", "127.0.0.1:0", *args],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode != 0, f"started with {args}: {proc.stdout}{proc.stderr}"
    return proc


@pytest.fixture
def secret_file(tmp_path) -> Path:
    return auth_file(tmp_path, bcrypt_hash("secret"))


def test_push_without_credentials_is_401_with_challenge(start_gateway, secret_file):
    gw = start_gateway("--basic-auth-file", secret_file)
    for method in ("POST", "PUT", "DELETE"):
        r = gw.push(method, "/metrics/job/a", BODY)
        assert r.status_code == 401, (method, r.status_code, r.text)
        assert r.headers["WWW-Authenticate"] == REALM
        assert "Authorization: Basic" in r.text
    assert parse_scrape(gw.scrape_text(), drop_self=True) == {}
    assert self_metric(gw, "gravel_gateway_unauthorized_requests_total") == 3


def test_wrong_password_and_other_schemes_are_401(start_gateway, secret_file):
    gw = start_gateway("--basic-auth-file", secret_file)
    for headers in (basic("Secret"), basic(""), {"Authorization": "Basic wrong"},
                    {"Authorization": "Bearer secret"}, {"Authorization": "Basic"}):
        r = gw.post("/metrics/job/a", BODY, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["WWW-Authenticate"] == REALM
    assert gw.samples() == {}


def test_basic_user_password_with_any_user_and_legacy_raw_password(start_gateway, secret_file):
    gw = start_gateway("--basic-auth-file", secret_file)
    gw.ok("POST", "/metrics/job/a", BODY, headers=basic("secret", user="ci"))
    gw.ok("POST", "/metrics/job/a", BODY, headers=basic("secret", user="someone-else"))
    gw.ok("POST", "/metrics/job/a", BODY, headers=basic("secret"))
    # The original gateway's form: the password itself after "Basic ".
    gw.ok("POST", "/metrics/job/a", BODY, headers={"Authorization": "Basic secret"})
    # Passwords with a colon: everything after the first colon of user:password.
    assert gw.samples() == {series("pushes_total", job="a"): 4.0}


def test_every_hash_in_the_file_is_tried(start_gateway, tmp_path):
    path = auth_file(
        tmp_path,
        "# team passwords",
        "",
        bcrypt_hash("first"),
        "   ",
        bcrypt_hash("se:cond", cost=4),
        "# the CI runner",
        bcrypt_hash("third", cost=6),
    )
    gw = start_gateway("--basic-auth-file", path)
    for password in ("third", "se:cond", "first"):
        gw.ok("POST", "/metrics/job/a", BODY, headers=basic(password, user="u"))
    assert gw.post("/metrics/job/a", BODY, headers=basic("fourth")).status_code == 401
    assert gw.samples() == {series("pushes_total", job="a"): 3.0}


def test_curl_user_option(start_gateway, secret_file):
    gw = start_gateway("--basic-auth-file", secret_file)

    def curl(*args: str) -> str:
        return subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", BODY, *args,
             f"{gw.url}/metrics/job/curl"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout

    assert curl("-u", "anyone:secret") == "200"
    assert curl("-u", ":secret") == "200"
    assert curl("-u", "anyone:nope") == "401"
    assert curl() == "401"
    assert gw.samples() == {series("pushes_total", job="curl"): 2.0}


def test_prometheus_client_basic_auth_handler(start_gateway, secret_file):
    gw = start_gateway("--basic-auth-file", secret_file)
    registry = CollectorRegistry()
    Counter("jobs_done", "Jobs done.", registry=registry).inc()

    def handler(password):
        def handle(url, method, timeout, headers, data):
            return basic_auth_handler(url, method, timeout, headers, data, "worker", password)
        return handle

    address = f"127.0.0.1:{gw.port}"
    pushadd_to_gateway(address, job="worker", registry=registry, handler=handler("secret"))
    pushadd_to_gateway(address, job="worker", registry=registry, handler=handler("secret"))
    with pytest.raises(Exception, match="401"):
        push_to_gateway(address, job="worker", registry=registry, handler=handler("wrong"))
    with pytest.raises(Exception, match="401"):
        push_to_gateway(address, job="worker", registry=registry)
    assert gw.samples(drop_created=True) == {series("jobs_done_total", job="worker"): 2.0}


def test_scrape_is_open_unless_protect_scrape(start_gateway, secret_file):
    gw = start_gateway("--basic-auth-file", secret_file)
    gw.ok("POST", "/metrics/job/a", BODY, headers=basic("secret"))
    status, _, text = gw.scrape()
    assert status == 200
    assert parse_scrape(text, drop_self=True) == {series("pushes_total", job="a"): 1.0}

    protected = start_gateway("--basic-auth-file", secret_file, "--protect-scrape")
    protected.ok("POST", "/metrics/job/a", BODY, headers=basic("secret"))
    for headers in (None, basic("wrong")):
        status, hdrs, _ = protected.scrape(headers=headers)
        assert status == 401
        assert hdrs["WWW-Authenticate"] == REALM
    r = requests.head(protected.url + "/metrics", timeout=10)
    assert r.status_code == 401
    status, _, text = protected.scrape(headers=basic("secret"))
    assert status == 200
    assert parse_scrape(text, drop_self=True) == {series("pushes_total", job="a"): 1.0}


def test_probes_never_need_credentials(start_gateway, secret_file):
    gw = start_gateway("--basic-auth-file", secret_file, "--protect-scrape")
    for path in ("/-/healthy", "/-/ready"):
        status, _, body = gw.get(path)
        assert status == 200, path
        status, _, body = gw.get(path, headers=basic("wrong"))
        assert status == 200, path


@pytest.mark.parametrize(
    "lines, expected",
    [
        (["# ok so far", bcrypt_hash("a", cost=4), "secret"], "auth.txt:3: not a bcrypt hash"),
        ([bcrypt_hash("a", cost=4)[:-5]], "auth.txt:1: the bcrypt hash has 48 characters"),
        (["$2y$03$" + "a" * 53], "auth.txt:1: bcrypt cost 3"),
        (["# nothing", ""], "holds no bcrypt hash"),
    ],
)
def test_a_bad_password_file_stops_start_up_naming_the_line(tmp_path, lines, expected):
    path = auth_file(tmp_path, *lines)
    proc = refused_start("--basic-auth-file", str(path))
    assert expected in proc.stderr, proc.stderr
    # The message never echoes the offending line: it could be a pasted password.
    assert "secret" not in proc.stderr


def test_missing_file_and_protect_scrape_alone_stop_start_up(tmp_path):
    proc = refused_start("--basic-auth-file", str(tmp_path / "missing.txt"))
    assert "missing.txt" in proc.stderr and "cannot read" in proc.stderr, proc.stderr
    proc = refused_start("--protect-scrape")
    assert "--protect-scrape needs --basic-auth-file" in proc.stderr, proc.stderr


def test_sighup_rereads_the_file(start_gateway, tmp_path):
    path = auth_file(tmp_path, bcrypt_hash("old"))
    gw = start_gateway("--basic-auth-file", path)
    gw.ok("POST", "/metrics/job/a", BODY, headers=basic("old"))  # now cached

    path.write_text(bcrypt_hash("new") + "\n")
    gw.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while gw.post("/metrics/job/a", BODY, headers=basic("new")).status_code != 200:
        assert time.monotonic() < deadline, "the new password was not accepted after SIGHUP\n" + gw.log()
        time.sleep(0.1)
    # The cached verdict for the removed password is gone with it.
    assert gw.post("/metrics/job/a", BODY, headers=basic("old")).status_code == 401

    # A broken file is reported and the hashes in use stay.
    path.write_text("not a hash\n")
    gw.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "not re-read" not in gw.log():
        assert time.monotonic() < deadline, gw.log()
        time.sleep(0.1)
    assert "auth.txt:1: not a bcrypt hash" in gw.log()
    gw.ok("POST", "/metrics/job/a", BODY, headers=basic("new"))
    assert gw.proc.poll() is None


def test_sighup_without_auth_file_keeps_running(gateway):
    gateway.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert gateway.proc.poll() is None
    gateway.ok("POST", "/metrics/job/a", BODY)


def test_verified_credentials_are_cached(start_gateway, tmp_path):
    """With a cost-10 hash (about 60 ms of bcrypt), pushes after the first must not pay
    for bcrypt again. Prints the numbers for the record."""
    path = auth_file(tmp_path, bcrypt_hash("secret", cost=10))
    gw = start_gateway("--basic-auth-file", path)
    plain = start_gateway()
    headers = basic("secret", user="ci")

    start = time.perf_counter()
    gw.ok("POST", "/metrics/job/a", BODY, headers=headers)
    first = time.perf_counter() - start

    def timed(target, hdrs, n=300):
        start = time.perf_counter()
        for _ in range(n):
            target.ok("POST", "/metrics/job/a", BODY, headers=hdrs)
        return (time.perf_counter() - start) / n

    timed(gw, headers, 20)  # warm up the connection
    with_auth = timed(gw, headers)
    without_auth = timed(plain, None)
    print(f"\nfirst push (bcrypt cost 10): {first * 1e3:.1f} ms; "
          f"cached pushes: {with_auth * 1e6:.0f} us each; without auth: {without_auth * 1e6:.0f} us each")
    assert first > 0.01, "the first push did not seem to run bcrypt at all"
    # A bcrypt run per push would cost >= first; cached pushes cost what plain ones do.
    assert with_auth < first / 4
    assert with_auth < without_auth * 2 + 0.002


def test_concurrent_bcrypt_work_is_bounded(start_gateway, tmp_path):
    """A flood of distinct wrong passwords cannot queue unbounded bcrypt work: past the
    bound the gateway answers 429 with Retry-After at once, cached credentials keep
    working, and the probes answer."""
    path = auth_file(tmp_path, bcrypt_hash("secret", cost=12))
    gw = start_gateway("--basic-auth-file", path)
    gw.ok("POST", "/metrics/job/a", BODY, headers=basic("secret"))  # cached from now on

    def attack(i: int) -> tuple[int, float, str | None]:
        start = time.perf_counter()
        r = requests.post(f"{gw.url}/metrics/job/a", data=BODY, headers=basic(f"guess-{i}"), timeout=60)
        return r.status_code, time.perf_counter() - start, r.headers.get("Retry-After")

    with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
        flood = [pool.submit(attack, i) for i in range(40)]
        time.sleep(0.3)
        # While bcrypt is busy, a cached credential and the probes are served promptly.
        for _ in range(5):
            start = time.perf_counter()
            gw.ok("POST", "/metrics/job/a", BODY, headers=basic("secret"))
            assert time.perf_counter() - start < 1.0
            assert gw.get("/-/healthy")[0] == 200
        results = [f.result() for f in flood]

    statuses = [status for status, _, _ in results]
    assert set(statuses) <= {401, 429}, statuses
    busy = [(elapsed, retry) for status, elapsed, retry in results if status == 429]
    assert len(busy) >= 20, statuses
    assert all(retry == "1" for _, retry in busy)
    assert max(elapsed for elapsed, _ in busy) < 2.0, "429s must come without waiting for bcrypt"
    assert statuses.count(401) >= 1
    print(f"\n{len(busy)} of 40 new wrong credentials got 429, {statuses.count(401)} were verified (401)")
    assert gw.samples() == {series("pushes_total", job="a"): 6.0}
