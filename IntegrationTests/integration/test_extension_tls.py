"""gravel-extension's flush over HTTPS: TLS verification on, the extra CA from
GRAVEL_GATEWAY_CA_FILE trusted besides the system's, the password as Basic auth,
keep-alive reuse across invocations. The gateway here is a small Python HTTPS
server that records what arrives."""

from __future__ import annotations

import base64
import gzip
import http.server
import shutil
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from test_extension_harness import extension_sandbox  # noqa: F401  (fixture)


class RecordingGateway:
    def __init__(self, cert: Path, key: Path):
        self.requests: list[dict] = []
        self.connections = 0
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                recorder.connections += 1

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                recorder.requests.append({"method": "POST", "path": self.path, "auth": self.headers.get("Authorization"),
                                          "body": body.decode()})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_POST

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://localhost:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tls_gateway(tmp_path):
    if shutil.which("openssl") is None:
        pytest.fail("openssl not found: run scripts/setup.sh test", pytrace=False)
    cert, key = tmp_path / "gateway.pem", tmp_path / "gateway.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60)
    gateway = RecordingGateway(cert, key)
    yield gateway, cert
    gateway.close()


def pushing(ext, n):
    def handler(ctx):
        r = ext.push("POST", "/metrics/job/secure", f"# TYPE hits counter\nhits {n}\n")
        assert r.status_code == 200, r.text
    return handler


def test_https_flush_with_extra_ca_and_basic_auth(tls_gateway, extension_sandbox):
    gateway, ca = tls_gateway
    ext = extension_sandbox(gateway.url, gateway_ca_file=str(ca), gateway_password="s3cret", flush="end",
                            platform_metrics="0")
    for n in (1, 2, 3):
        ext.invoke(pushing(ext, n))
    assert ext.shutdown().exit_codes == {"gravel-extension": 0}
    assert [r["path"] for r in gateway.requests] == ["/metrics/job/secure"] * 3
    assert {r["auth"] for r in gateway.requests} == {"Basic " + base64.b64encode(b"gravel:s3cret").decode()}
    assert gateway.requests[1]["body"] == '# TYPE hits counter\nhits{job="secure",clearmode="aggregate"} 2\n'
    # One keep-alive connection for every flush.
    assert gateway.connections == 1


def test_untrusted_certificate_is_not_sent_to(tls_gateway, extension_sandbox):
    gateway, _ = tls_gateway
    ext = extension_sandbox(gateway.url, flush="end", platform_metrics="0", flush_timeout_ms="500")
    for n in (1, 2):
        r = ext.invoke(pushing(ext, n))
        assert not r.timed_out
    assert gateway.requests == []
    assert "flush failed" in ext.log()
    ext.shutdown(deadline_ms=1000)
    assert gateway.requests == []
