"""Debian's headless chromium, driven over the DevTools protocol on a pipe.

`chromium --remote-debugging-pipe` reads NUL-terminated JSON commands on fd 3 and
writes answers and events on fd 4; this speaks just enough of it to load a page,
run a line of script (a click, a form submit), accept confirm() dialogs and wait
for the next page load. No websocket library, no browser-automation package.

    with HeadlessChromium(tmp_path) as browser:
        browser.open(url)
        browser.evaluate("document.title")
        browser.run_and_wait_for_load("document.querySelector('form').submit()")
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

TIMEOUT_S = 30.0


def chromium_binary() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed; scripts/setup.sh test installs it", pytrace=False)
    return path


def base_args(profile: Path) -> list[str]:
    return [chromium_binary(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
            f"--user-data-dir={profile}", "--no-proxy-server"]


def dump_dom(url: str, profile: Path) -> str:
    """The DOM after the page loaded, as `chromium --dump-dom` prints it."""
    done = subprocess.run([*base_args(profile), "--dump-dom", url],
                          capture_output=True, text=True, timeout=TIMEOUT_S * 2)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def screenshot(url: str, path: Path, profile: Path, size: str = "1280,900") -> None:
    done = subprocess.run([*base_args(profile), f"--screenshot={path}", f"--window-size={size}",
                           "--hide-scrollbars", url], capture_output=True, text=True, timeout=TIMEOUT_S * 2)
    assert done.returncode == 0 and path.exists(), done.stderr[-2000:]


class HeadlessChromium:
    def __init__(self, profile: Path):
        self.profile = profile
        self.next_id = 0
        self.buffer = b""
        self.loads = 0
        self.dialogs: list[str] = []

    def __enter__(self) -> HeadlessChromium:
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire_fds():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.proc = subprocess.Popen(
            [*base_args(self.profile), "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire_fds, pass_fds=(3, 4), start_new_session=True)
        os.close(to_browser_r)
        os.close(from_browser_w)
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.send("Browser.close")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self.to_browser)
        os.close(self.from_browser)

    # -- protocol -------------------------------------------------------------

    def send(self, method: str, params: dict | None = None, session: bool = False) -> int:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        return self.next_id

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            assert left > 0, "chromium did not answer in time"
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if ready:
                chunk = os.read(self.from_browser, 1 << 16)
                assert chunk, "chromium closed its DevTools pipe"
                self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        message = json.loads(raw)
        if message.get("method") == "Page.loadEventFired":
            self.loads += 1
        elif message.get("method") == "Page.javascriptDialogOpening":
            # confirm() blocks the page until answered: accept, as a user clicking OK.
            self.dialogs.append(message["params"]["message"])
            self.send("Page.handleJavaScriptDialog", {"accept": True}, session=True)
        return message

    def call(self, method: str, params: dict | None = None, session: bool = False) -> dict:
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            message = self._read_message(deadline)
            if message.get("id") == wanted:
                assert "error" not in message, f"{method}: {message['error']}"
                return message["result"]

    def wait_for_loads(self, count: int) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while self.loads < count:
            self._read_message(deadline)

    # -- pages ----------------------------------------------------------------

    def open(self, url: str) -> None:
        before = self.loads
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for_loads(before + 1)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def run_and_wait_for_load(self, expression: str) -> None:
        """Runs a script that leads to a navigation or reload, and waits for it."""
        before = self.loads
        self.evaluate(expression)
        self.wait_for_loads(before + 1)
