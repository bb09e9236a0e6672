"""Debian's `prometheus-pushgateway`, started for one test, as the reference the
drop-in tests compare gravel-gateway's answers with.

    from pushgateway_fixture import start_pushgateway  # a fixture: import it into the test module
    pg = start_pushgateway("--web.enable-admin-api")
    pg.url, pg.port, pg.push(method, path, body)
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Iterable

import pytest
import requests

from conftest import HTTP_TIMEOUT_S, START_TIMEOUT_S, _ProcessRegistry, _spawn, _stop_process, _wait_ready, free_port


class Pushgateway:
    def __init__(self, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._http = requests.Session()
        self._http.trust_env = False

    def push(self, method: str, path: str, body: str | bytes = b"") -> requests.Response:
        data = body.encode() if isinstance(body, str) else body
        return self._http.request(method, self.url + path, data=data, timeout=HTTP_TIMEOUT_S)

    def get(self, path: str) -> requests.Response:
        return self._http.get(self.url + path, timeout=HTTP_TIMEOUT_S)


@pytest.fixture
def start_pushgateway(request, tmp_path) -> Iterable[Callable[..., Pushgateway]]:
    """Factory: `start_pushgateway(*extra_args)` starts the Pushgateway on a free
    loopback port without persistence and waits until /-/ready answers."""
    if shutil.which("prometheus-pushgateway") is None:
        pytest.fail("prometheus-pushgateway is not installed; scripts/setup.sh test installs it", pytrace=False)
    registry = _ProcessRegistry(request.node)

    def start(*extra_args: str) -> Pushgateway:
        port = free_port()
        log_path: Path = tmp_path / f"pushgateway-{port}.log"
        args = ["prometheus-pushgateway", f"--web.listen-address=127.0.0.1:{port}", "--persistence.file=", *extra_args]
        proc = _spawn(args, log_path, tmp_path)
        registry.add_log(f"pushgateway :{port}", log_path)
        registry.stoppers.append(lambda p=proc: _stop_process(p))
        if not _wait_ready(f"http://127.0.0.1:{port}/-/ready", proc, START_TIMEOUT_S):
            pytest.fail(f"prometheus-pushgateway did not start:\n{log_path.read_text()}", pytrace=False)
        return Pushgateway(port)

    yield start
    registry.stop_all()
