"""--tls-cert / --tls-key: HTTPS with a self-signed certificate made by openssl,
checked with curl --cacert and requests; start-up errors for half or bad options."""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import free_port, gateway_binary, parse_scrape, series

BODY = "# TYPE tls_pushes_total counter\ntls_pushes_total 1\n"


def make_certificate(directory: Path, name: str = "server") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    cert, key = directory / f"{name}.pem", directory / f"{name}-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=gravel-test",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


class TLSGateway:
    def __init__(self, proc: subprocess.Popen, port: int, log: Path, cafile: Path):
        self.proc, self.port, self.log_path, self.cafile = proc, port, log, cafile
        self.url = f"https://127.0.0.1:{port}"
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = str(cafile)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def certificate(tmp_path) -> tuple[Path, Path]:
    return make_certificate(tmp_path)


@pytest.fixture
def start_tls_gateway(tmp_path, certificate):
    """Factory: starts the gateway with --tls-cert/--tls-key and waits for
    https://127.0.0.1:<port>/-/ready (conftest's fixture polls plain HTTP)."""
    started: list[TLSGateway] = []
    cert, key = certificate

    def start(*extra: str) -> TLSGateway:
        port = free_port()
        log = tmp_path / f"tls-gateway-{port}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [str(gateway_binary()), "-l", f"127.0.0.1:{port}", "--log-level", "debug",
                 "--tls-cert", str(cert), "--tls-key", str(key), *extra],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        gw = TLSGateway(proc, port, log, cert)
        started.append(gw)
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, f"TLS gateway exited with {proc.returncode}:\n{gw.log()}"
            try:
                if gw.session.get(gw.url + "/-/ready", timeout=1).status_code == 200:
                    return gw
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"TLS gateway not ready:\n{gw.log()}"
            time.sleep(0.05)

    yield start
    for gw in started:
        if gw.proc.poll() is None:
            gw.proc.send_signal(signal.SIGTERM)
            try:
                gw.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                gw.proc.kill()
                gw.proc.wait()


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=30)


def test_https_push_and_scrape_with_curl_cacert(start_tls_gateway):
    gw = start_tls_gateway()
    for _ in range(2):
        r = curl("--cacert", str(gw.cafile), "-o", "/dev/null", "-w", "%{http_code}",
                 "--data-binary", BODY, f"{gw.url}/metrics/job/tls")
        assert r.returncode == 0 and r.stdout == "200", r.stderr
    r = curl("--cacert", str(gw.cafile), f"{gw.url}/metrics")
    assert r.returncode == 0, r.stderr
    assert parse_scrape(r.stdout, drop_self=True) == {series("tls_pushes_total", job="tls"): 2.0}
    r = curl("--cacert", str(gw.cafile), "-o", "/dev/null", "-w", "%{http_code}", f"{gw.url}/-/healthy")
    assert r.stdout == "200"


def test_clients_refuse_an_untrusted_certificate(start_tls_gateway):
    gw = start_tls_gateway()
    r = curl("-o", "/dev/null", f"{gw.url}/-/healthy")
    assert r.returncode == 60, (r.returncode, r.stderr)  # peer certificate cannot be authenticated
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(gw.url + "/-/healthy", timeout=10)


def test_plain_http_on_the_tls_port_gets_no_answer(start_tls_gateway):
    gw = start_tls_gateway()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{gw.port}/-/healthy", timeout=10)
    # ...and the gateway carries on serving HTTPS.
    assert gw.session.get(gw.url + "/-/ready", timeout=10).status_code == 200


def test_tls_1_2_and_1_3_handshakes(start_tls_gateway):
    gw = start_tls_gateway()
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = ssl.create_default_context(cafile=str(gw.cafile))
        context.minimum_version = context.maximum_version = version
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                assert tls.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
                tls.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert tls.recv(4096).startswith(b"HTTP/1.1 200")


def test_tls_with_basic_auth(start_tls_gateway, tmp_path):
    hashed = subprocess.run(["htpasswd", "-bnBC", "5", "", "secret"], capture_output=True, text=True,
                            check=True).stdout.replace(":", "").replace("\n", "")
    auth = tmp_path / "auth.txt"
    auth.write_text(hashed + "\n")
    gw = start_tls_gateway("--basic-auth-file", str(auth), "--protect-scrape")
    base = ["--cacert", str(gw.cafile), "-o", "/dev/null", "-w", "%{http_code}"]
    assert curl(*base, "--data-binary", BODY, f"{gw.url}/metrics/job/tls").stdout == "401"
    assert curl(*base, "-u", "ci:secret", "--data-binary", BODY, f"{gw.url}/metrics/job/tls").stdout == "200"
    assert curl(*base, f"{gw.url}/metrics").stdout == "401"
    r = curl("--cacert", str(gw.cafile), "-u", "ci:secret", f"{gw.url}/metrics")
    assert parse_scrape(r.stdout, drop_self=True) == {series("tls_pushes_total", job="tls"): 1.0}


def test_sigterm_stops_a_tls_gateway_cleanly(start_tls_gateway):
    gw = start_tls_gateway()
    assert gw.session.post(gw.url + "/metrics/job/tls", data=BODY, timeout=10).status_code == 200
    start = time.monotonic()
    gw.proc.send_signal(signal.SIGTERM)
    assert gw.proc.wait(timeout=10) == 0, gw.log()
    assert time.monotonic() - start < 5


def run_refused(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(gateway_binary()), "-l", "127.0.0.1:0", *args],
                          capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0, f"started with {args}"
    return proc


def test_cert_and_key_come_together(certificate):
    cert, key = certificate
    assert "--tls-cert needs --tls-key" in run_refused("--tls-cert", str(cert)).stderr
    assert "--tls-key needs --tls-cert" in run_refused("--tls-key", str(key)).stderr


def test_unreadable_or_mismatched_files_stop_start_up(tmp_path, certificate):
    cert, key = certificate
    err = run_refused("--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(key)).stderr
    assert "nope.pem" in err and "--tls-cert" in err, err
    err = run_refused("--tls-cert", str(cert), "--tls-key", str(tmp_path / "nokey.pem")).stderr
    assert "nokey.pem" in err and "--tls-key" in err, err
    _, other_key = make_certificate(tmp_path, "other")
    err = run_refused("--tls-cert", str(cert), "--tls-key", str(other_key)).stderr
    assert "does not fit" in err, err
