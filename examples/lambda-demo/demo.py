#!/usr/bin/env python3
"""`make demo`: the whole of Gravel on one machine, in one command.

Starts gravel-gateway, a Lambda sandbox emulator (IntegrationTests/lambda/emulator.py) with
gravel-extension attached as Lambda would start it, invokes the Python function
in function.py a few times, shuts the sandbox down, and prints what Prometheus
would scrape from the gateway. Loopback only; every process is stopped at the end.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = Path(os.environ.get("GRAVEL_BIN_DIR", ROOT / ".build" / "debug"))
INVOCATIONS = int(os.environ.get("DEMO_INVOCATIONS", "5"))

sys.path.insert(0, str(ROOT / "IntegrationTests" / "lambda"))
from emulator import LambdaSandbox  # noqa: E402

for var in ("NO_PROXY", "no_proxy"):
    os.environ[var] = ",".join(filter(None, [os.environ.get(var, ""), "127.0.0.1", "localhost"]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{proc.args[0]} exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{url} did not answer within {timeout} s")


def load_function():
    spec = importlib.util.spec_from_file_location("function", HERE / "function.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    logs = Path(tempfile.mkdtemp(prefix="gravel-demo-"))
    gateway_port, push_port = free_port(), free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    # The function and the extension both read GRAVEL_LISTEN, as in Lambda.
    os.environ["GRAVEL_LISTEN"] = f"127.0.0.1:{push_port}"

    print(f"1. gravel-gateway on {gateway_url}")
    gateway = subprocess.Popen([str(BIN / "gravel-gateway"), "-l", f"127.0.0.1:{gateway_port}"],
                               stdout=open(logs / "gateway.log", "w"), stderr=subprocess.STDOUT)
    try:
        wait_http(gateway_url + "/-/ready", gateway)
        function = load_function()
        with LambdaSandbox(function_name="checkout", expected_extensions=1) as sandbox:
            print(f"2. Lambda sandbox emulator on {sandbox.runtime_api}; starting /opt/extensions/gravel-extension")
            sandbox.spawn_extension(
                [str(BIN / "gravel-extension")], name="gravel-extension",
                env={"GRAVEL_GATEWAY_URL": gateway_url, "GRAVEL_LISTEN": os.environ["GRAVEL_LISTEN"], "GRAVEL_FLUSH": "end"},
                log_path=logs / "extension.log")
            sandbox.wait_for_registration(1, timeout=10)
            sandbox.wait_for_subscription(1, timeout=10)
            print("   registered with the Extensions API, subscribed to the Telemetry API")
            print(f"3. {INVOCATIONS} invocations of examples/lambda-demo/function.py (prometheus_client, pushadd to localhost)")
            for n in range(1, INVOCATIONS + 1):
                result = sandbox.invoke(lambda ctx: function.handler({"items": n}, ctx), timeout_s=5.0)
                if result.handler_exception is not None:
                    raise result.handler_exception
                print(f"   invocation {n}: {result.handler_result['body']}; runtime answered, extension flushed and "
                      f"was back in /next {result.post_runtime_ms:.1f} ms later (includes Lambda's 25 ms telemetry buffer)")
            done = sandbox.shutdown(reason="spindown", deadline_ms=2000)
            print(f"4. SHUTDOWN: extension exited with {done.exit_codes.get('gravel-extension')} "
                  f"in {done.duration_ms:.0f} ms (deadline 2000 ms)")
        with urllib.request.urlopen(gateway_url + "/metrics", timeout=5) as r:
            scrape = r.read().decode()
        print(f"5. what Prometheus scrapes from the gateway (GET {gateway_url}/metrics), the gateway's own metrics left out:\n")
        for line in scrape.splitlines():
            name = line.split()[2] if line.startswith("# ") and len(line.split()) > 2 else line.split("{")[0].split(" ")[0]
            if not name.startswith("gravel_gateway_"):
                print("   " + line)
        print(f"\nLogs: {logs}")
    finally:
        gateway.terminate()
        try:
            gateway.wait(timeout=10)
        except subprocess.TimeoutExpired:
            gateway.kill()


if __name__ == "__main__":
    main()
