"""Helpers for the gravel-extension integration tests (no tests of its own).

`extension_sandbox` starts the Lambda sandbox emulator (IntegrationTests/lambda/emulator.py)
with the real `gravel-extension` binary attached, talking to a real
`gravel-gateway`. Import what you need:

    from test_extension_harness import extension_sandbox, ExtensionSandbox, push_body

Every wait has a deadline; the sandbox is shut down (or stopped, which kills
what is still running) when the test ends, and the extension's log is attached
to a failing test's report.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping

import pytest
import requests

from conftest import REPO_ROOT, Gateway, _ProcessRegistry, _wait_ready, free_port

sys.path.insert(0, str(REPO_ROOT / "IntegrationTests" / "lambda"))
from emulator import InvocationResult, LambdaSandbox  # noqa: E402

HTTP_TIMEOUT_S = 10.0


def extension_binary() -> Path:
    bin_dir = os.environ.get("GRAVEL_BIN_DIR")
    path = Path(bin_dir) / "gravel-extension" if bin_dir else REPO_ROOT / ".build" / "debug" / "gravel-extension"
    if not path.exists():
        pytest.fail(f"{path} does not exist: build it (`swift build`) or set GRAVEL_BIN_DIR", pytrace=False)
    return path


class ExtensionSandbox:
    """A LambdaSandbox with gravel-extension registered and subscribed.

    `listen` is the extension's push address (host:port) for the function;
    `push(method, path, body)` pushes to it like a function would.
    """

    def __init__(self, sandbox: LambdaSandbox, proc: subprocess.Popen, listen: str, log_path: Path):
        self.sb = sandbox
        self.proc = proc
        self.listen = listen
        self.log_path = log_path
        self._http = requests.Session()
        self._http.trust_env = False

    def push(self, method: str, path: str, body: str | bytes = b"", headers: Mapping[str, str] | None = None) -> requests.Response:
        data = body.encode() if isinstance(body, str) else body
        return self._http.request(method, f"http://{self.listen}{path}", data=data, headers=dict(headers or {}), timeout=HTTP_TIMEOUT_S)

    def invoke(self, handler: Callable | None = None, **kw) -> InvocationResult:
        result = self.sb.invoke(handler, **kw)
        if result.handler_exception is not None:
            raise result.handler_exception
        return result

    def shutdown(self, deadline_ms: int = 2000, reason: str = "spindown"):
        return self.sb.shutdown(reason=reason, deadline_ms=deadline_ms)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20000:]
        except OSError:
            return ""


@pytest.fixture
def extension_sandbox(request, tmp_path) -> Iterable[Callable[..., ExtensionSandbox]]:
    """Factory: `extension_sandbox(gateway_url, sandbox_kw={}, **GRAVEL_env)`.

    Keyword arguments other than `sandbox_kw`, `wait_subscription` and
    `expect_running` (False for an extension meant to fail its init) become
    environment variables (`flush="end"` sets GRAVEL_FLUSH=end). `argv` runs another
    command line (a renamed copy, a chroot) registering as `name`. Waits (5 s
    each) for registration and, unless told otherwise, the subscription.
    """
    started: list[ExtensionSandbox] = []
    registry = _ProcessRegistry(request.node)

    def start(gateway_url: str, *, sandbox_kw: Mapping | None = None, wait_subscription: bool = True,
              expect_running: bool = True, argv: list[str] | None = None, name: str = "gravel-extension",
              **settings: str) -> ExtensionSandbox:
        port = free_port()
        listen = f"127.0.0.1:{port}"
        env = {
            "GRAVEL_GATEWAY_URL": gateway_url,
            "GRAVEL_LISTEN": listen,
            "GRAVEL_LOG_LEVEL": "debug",
        }
        env.update({f"GRAVEL_{k.upper()}": str(v) for k, v in settings.items()})
        sb = LambdaSandbox(expected_extensions=1, **dict(sandbox_kw or {}))
        sb.start()
        log_path = tmp_path / f"gravel-extension-{len(started) + 1}.log"
        proc = sb.spawn_extension(argv or [str(extension_binary())], name=name, env=env, log_path=log_path)
        registry.add_log(f"gravel-extension {listen}", log_path)
        es = ExtensionSandbox(sb, proc, listen, log_path)
        started.append(es)
        sb.wait_for_registration(1, timeout=5)
        if not expect_running:
            return es
        if wait_subscription and settings.get("telemetry", "1") not in ("0", 0):
            sb.wait_for_subscription(1, timeout=5)
        wait_listening(listen, proc, timeout=5)
        return es

    yield start
    for es in started:
        es.sb.stop()
        if es.proc.poll() is None:
            es.proc.kill()
            es.proc.wait(timeout=10)


def wait_listening(address: str, proc: subprocess.Popen, timeout: float) -> None:
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gravel-extension exited with code {proc.returncode} before listening on {address}", pytrace=False)
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                return
        except OSError:
            time.sleep(0.01)
    pytest.fail(f"gravel-extension did not listen on {address} within {timeout} s", pytrace=False)


def restart_gateway(gateway: Gateway, tmp_path: Path) -> subprocess.Popen:
    """Starts a gateway with the same arguments (so the same port) after
    `gateway.stop()`; the caller stops it."""
    log = open(tmp_path / f"gravel-gateway-restart-{gateway.port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(gateway.args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    if not _wait_ready(f"{gateway.url}/-/ready", proc, 20.0):
        proc.kill()
        pytest.fail("the restarted gateway did not become ready", pytrace=False)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def function_samples(gateway_url: str, job: str) -> dict:
    """The gateway's samples of one job's groups (platform group and self metrics excluded)."""
    from conftest import parse_scrape

    text = requests.get(gateway_url + "/metrics", timeout=HTTP_TIMEOUT_S, proxies={"http": None}).text
    out = {}
    for (name, labels), value in parse_scrape(text, drop_self=True).items():
        d = dict(labels)
        if d.get("job") == job and "function_name" not in d:
            out[(name, labels)] = value
    return out


def platform_labels(sb: LambdaSandbox) -> dict[str, str]:
    """The labels of gravel-extension's platform metrics in this sandbox: the function,
    its region and account (from registration with the accountId feature)."""
    return {"job": sb.function_name, "function_name": sb.function_name, "region": sb.region, "account_id": sb.account_id}
