"""Fixtures and helpers for the gravel-gateway integration tests.

The tests run the real `gravel-gateway` binary on 127.0.0.1 and talk HTTP to
it. The binary is taken from `$GRAVEL_BIN_DIR` (what `make test` sets from
`swift build --show-bin-path`), else from `.build/debug` in the repository.

Fixtures
  gateway            a running gateway for one test (see `Gateway`)
  start_gateway      factory: `start_gateway(*extra_args) -> Gateway`; every
                     gateway it started is stopped when the test ends
  prometheus_server  factory: `prometheus_server(*targets) -> PrometheusServer`,
                     a Debian `prometheus` scraping the targets every second

Helpers (import them with `from conftest import ...`)
  promtool_check(text)          `promtool check metrics`; errors fail the test
  openmetrics_check(text)       structural checks of an OpenMetrics scrape
  parse_scrape(text)            {(name, frozenset(labels.items())): value}
  series(name, **labels)        a key of that dict
  without_self(samples)         drops push_time_seconds, process_* and gravel_gateway_*
  strip_self_text(text)         the same on exposition text, line by line
  assert_samples_equal(a, b)    numeric comparison with a readable diff
  with_labels(samples, **l)     adds labels to every series (as path labels do)
  normalise_bounds(exp, text)   spells le/quantile values of `exp` as `text` does
  buckets(samples, name, **l)   {bound: cumulative count} of one histogram

Every wait loop has a deadline; processes are stopped with SIGTERM, then
SIGKILL after 10 s. When a test fails, the logs of the processes it started
are attached to its report.
"""

from __future__ import annotations

import atexit
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import zlib
from pathlib import Path
from typing import Callable, Iterable, Mapping

import pytest
import requests

# Never send loopback traffic through a proxy from the environment
# (requests, urllib in prometheus_client, and the Go HTTP client in Prometheus
# all honour these variables).
for _var in ("NO_PROXY", "no_proxy"):
    _have = [p for p in os.environ.get(_var, "").split(",") if p]
    os.environ[_var] = ",".join(_have + ["127.0.0.1", "localhost"])

REPO_ROOT = Path(__file__).resolve().parents[2]

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
# What Prometheus 2.x sends when it scrapes.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)

SELF_METRIC_NAMES = frozenset({"push_time_seconds", "push_failure_time_seconds"})
# The gateway's own process metrics (Linux), as every Prometheus client exposes them.
# Pushes may use these names too (a pushed family then replaces the gateway's): only
# the unlabelled series are the gateway's, pushed ones carry their group's labels.
GATEWAY_PROCESS_METRICS = frozenset({
    "process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
    "process_open_fds", "process_max_fds", "process_start_time_seconds",
})
SELF_METRIC_PREFIXES = ("gravel_gateway_",)

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 10.0
LOG_TAIL_BYTES = 64 * 1024


# --------------------------------------------------------------------------
# Exposition text: a small parser of our own for text 0.0.4 and OpenMetrics
# --------------------------------------------------------------------------

class ExpositionError(ValueError):
    """A line of exposition text that does not parse."""


_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}

SeriesKey = tuple[str, frozenset]


def series(name: str, /, **labels: str) -> SeriesKey:
    """The key `parse_scrape` uses for one series. Empty label values are dropped,
    as Prometheus treats them as absent."""
    return (name, frozenset((k, v) for k, v in labels.items() if v != ""))


def _skip_blanks(line: str, i: int) -> int:
    while i < len(line) and line[i] in " \t":
        i += 1
    return i


def _parse_label_set(line: str, i: int, lineno: int) -> tuple[dict[str, str], int]:
    """Parses `{name="value",...}` starting at the `{` at `line[i]`; returns the
    labels and the index just past the `}`."""
    assert line[i] == "{"
    i += 1
    labels: dict[str, str] = {}
    while True:
        i = _skip_blanks(line, i)
        if i >= len(line):
            raise ExpositionError(f"line {lineno}: unterminated label set: {line!r}")
        if line[i] == "}":
            return labels, i + 1
        m = _LABEL_NAME.match(line, i)
        if not m:
            raise ExpositionError(f"line {lineno}: bad label name at column {i + 1}: {line!r}")
        name = m.group(0)
        i = _skip_blanks(line, m.end())
        if i >= len(line) or line[i] != "=":
            raise ExpositionError(f"line {lineno}: expected '=' after label {name}: {line!r}")
        i = _skip_blanks(line, i + 1)
        if i >= len(line) or line[i] != '"':
            raise ExpositionError(f"line {lineno}: expected '\"' for label {name}: {line!r}")
        i += 1
        value = []
        while True:
            if i >= len(line):
                raise ExpositionError(f"line {lineno}: unterminated value of label {name}: {line!r}")
            c = line[i]
            if c == "\\":
                if i + 1 >= len(line):
                    raise ExpositionError(f"line {lineno}: dangling backslash: {line!r}")
                nxt = line[i + 1]
                value.append(_ESCAPES.get(nxt, "\\" + nxt))
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise ExpositionError(f"line {lineno}: duplicate label {name}: {line!r}")
        labels[name] = "".join(value)
        i = _skip_blanks(line, i)
        if i < len(line) and line[i] == ",":
            i += 1
        elif i < len(line) and line[i] == "}":
            continue
        else:
            raise ExpositionError(f"line {lineno}: expected ',' or '}}' after label {name}: {line!r}")


def parse_sample_line(line: str, lineno: int = 0) -> tuple[str, dict[str, str], float]:
    """Parses one sample line: name, optional label set, value, optional
    timestamp, optional OpenMetrics exemplar (ignored)."""
    i = _skip_blanks(line, 0)
    m = _METRIC_NAME.match(line, i)
    if not m:
        raise ExpositionError(f"line {lineno}: bad metric name: {line!r}")
    name = m.group(0)
    i = m.end()
    labels: dict[str, str] = {}
    j = _skip_blanks(line, i)
    if j < len(line) and line[j] == "{":
        labels, i = _parse_label_set(line, j, lineno)
    rest = line[i:]
    # An exemplar starts with " # " after the value (and timestamp).
    hash_at = rest.find(" # ")
    if hash_at >= 0:
        rest = rest[:hash_at]
    if rest and rest[0] not in " \t":
        raise ExpositionError(f"line {lineno}: expected a blank before the value: {line!r}")
    tokens = rest.split()
    if len(tokens) not in (1, 2):
        raise ExpositionError(f"line {lineno}: expected a value and an optional timestamp: {line!r}")
    try:
        value = float(tokens[0])
    except ValueError:
        raise ExpositionError(f"line {lineno}: bad value {tokens[0]!r}: {line!r}") from None
    if len(tokens) == 2:
        try:
            float(tokens[1])
        except ValueError:
            raise ExpositionError(f"line {lineno}: bad timestamp {tokens[1]!r}: {line!r}") from None
    return name, labels, value


def parse_scrape(text: str, *, drop_self: bool = False, drop_created: bool = False) -> dict[SeriesKey, float]:
    """Parses exposition text (0.0.4 or OpenMetrics) into
    `{(name, frozenset(labels.items())): value}`.

    Lines starting with `#` and blank lines are ignored. Labels with an empty
    value are dropped (Prometheus treats them as absent). A series that appears
    twice is an error: a scrape must expose each series once.
    `drop_self` removes `push_time_seconds` and `gravel_gateway_*`;
    `drop_created` removes samples whose name ends in `_created`.
    """
    out: dict[SeriesKey, float] = {}
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip(" \t\r")
        if not line or line.startswith("#"):
            continue
        name, labels, value = parse_sample_line(line, lineno)
        if drop_self and is_self_metric(name, {k: v for k, v in labels.items() if v}):
            continue
        if drop_created and name.endswith("_created"):
            continue
        key = series(name, **labels)
        if key in out:
            raise ExpositionError(f"line {lineno}: series exposed twice: {line!r}")
        out[key] = value
    return out


def parse_types(text: str) -> dict[str, str]:
    """`{family name: type}` from the `# TYPE` lines."""
    types: dict[str, str] = {}
    for line in text.split("\n"):
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "#" and parts[1] == "TYPE":
            types[parts[2]] = parts[3]
    return types


def is_self_metric(name: str, labels: Mapping[str, str] | None = None) -> bool:
    """Whether a series is the gateway's own; `labels` (non-empty values only)
    tell the gateway's unlabelled process metrics from pushed ones of that name."""
    if name in GATEWAY_PROCESS_METRICS:
        return not labels
    return name in SELF_METRIC_NAMES or name.startswith(SELF_METRIC_PREFIXES)


def without_self(samples: Mapping[SeriesKey, float]) -> dict[SeriesKey, float]:
    """Drops `push_time_seconds`, `push_failure_time_seconds`, `process_*` and
    `gravel_gateway_*` samples."""
    return {k: v for k, v in samples.items() if not is_self_metric(k[0], dict(k[1]))}


def strip_self_text(text: str) -> str:
    """Removes the lines (samples, HELP, TYPE, UNIT) of `push_time_seconds`,
    `push_failure_time_seconds`, `gravel_gateway_*` and the gateway's own
    `process_*`, keeping every other byte as it was."""
    # A process_* family with a labelled sample was pushed: it stays whole.
    pushed = {m.group(0) for line in text.split("\n") if line and not line.startswith("#")
              if (m := _METRIC_NAME.match(line.lstrip(" \t"))) and m.group(0) in GATEWAY_PROCESS_METRICS
              and line.lstrip(" \t")[m.end():m.end() + 1] == "{"}
    kept = []
    for line in text.split("\n"):
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "#" and parts[1] in ("HELP", "TYPE", "UNIT"):
            name = parts[2]
        elif line and not line.startswith("#"):
            m = _METRIC_NAME.match(line.lstrip(" \t"))
            name = m.group(0) if m else ""
        else:
            name = ""
        if name and name not in pushed and (name in GATEWAY_PROCESS_METRICS or is_self_metric(name)):
            continue
        kept.append(line)
    return "\n".join(kept)


def _same_value(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _fmt_key(key: SeriesKey) -> str:
    name, labels = key
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels))
    return f"{name}{{{inner}}}"


def assert_samples_equal(actual: Mapping[SeriesKey, float], expected: Mapping[SeriesKey, float]) -> None:
    """Asserts both have the same series with numerically equal values
    (NaN equals NaN). The message lists what is missing, extra and different."""
    missing = sorted(set(expected) - set(actual), key=_fmt_key)
    extra = sorted(set(actual) - set(expected), key=_fmt_key)
    differ = sorted((k for k in set(actual) & set(expected) if not _same_value(actual[k], expected[k])), key=_fmt_key)
    if missing or extra or differ:
        lines = []
        lines += [f"missing  {_fmt_key(k)} = {expected[k]!r}" for k in missing]
        lines += [f"extra    {_fmt_key(k)} = {actual[k]!r}" for k in extra]
        lines += [f"differs  {_fmt_key(k)}: got {actual[k]!r}, want {expected[k]!r}" for k in differ]
        pytest.fail("samples differ:\n  " + "\n  ".join(lines), pytrace=False)


def with_labels(samples: Mapping[SeriesKey, float], /, **labels: str) -> dict[SeriesKey, float]:
    """Adds (or overrides) labels on every series, as path labels do."""
    out = {}
    for (name, lset), value in samples.items():
        merged = dict(lset)
        merged.update(labels)
        out[series(name, **merged)] = value
    return out


def normalise_bounds(expected: Mapping[SeriesKey, float], scraped_text: str) -> dict[SeriesKey, float]:
    """Bucket bounds (`le`) and quantiles may be spelled differently in the
    scrape ("1" for "1.0", "+Inf" for "inf"): rewrites them in `expected` to
    the spelling the scrape uses for the same number."""
    spelled: dict[tuple[str, float], str] = {}
    for _, labels in parse_scrape(scraped_text):
        for k, v in labels:
            if k in ("le", "quantile"):
                try:
                    spelled[(k, float(v))] = v
                except ValueError:
                    pass
    out = {}
    for (name, labels), value in expected.items():
        lab = {}
        for k, v in labels:
            if k in ("le", "quantile"):
                try:
                    v = spelled.get((k, float(v)), v)
                except ValueError:
                    pass
            lab[k] = v
        out[series(name, **lab)] = value
    return out


def buckets(samples: Mapping[SeriesKey, float], name: str, /, **labels: str) -> dict[float, float]:
    """`{upper bound: cumulative count}` of histogram `name` with exactly these
    other labels."""
    want = series(name + "_bucket", **labels)[1]
    out = {}
    for (n, lset), value in samples.items():
        if n != name + "_bucket":
            continue
        rest = frozenset((k, v) for k, v in lset if k != "le")
        if rest == want:
            out[float(dict(lset)["le"])] = value
    return out


def _numbered(text: str, limit: int = 400) -> str:
    lines = text.split("\n")
    shown = [f"{n:5d}| {line}" for n, line in enumerate(lines[:limit], start=1)]
    if len(lines) > limit:
        shown.append(f"      ... {len(lines) - limit} more lines")
    return "\n".join(shown)


# --------------------------------------------------------------------------
# promtool and OpenMetrics checks
# --------------------------------------------------------------------------

def promtool_check(text: str | bytes) -> str:
    """Runs `promtool check metrics` on the text. Exit 1 or "error while
    linting" fails the test; exit 3 (lint advice only) is fine. Returns
    promtool's output."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: run scripts/setup.sh test (Debian package prometheus)", pytrace=False)
    data = text.encode("utf-8") if isinstance(text, str) else text
    proc = subprocess.run(
        [promtool, "check", "metrics"], input=data, capture_output=True, timeout=60,
    )
    output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    if proc.returncode not in (0, 3) or "error while linting" in output:
        shown = data.decode("utf-8", "replace")
        pytest.fail(
            f"promtool check metrics failed (exit {proc.returncode}):\n{output}\n"
            f"--- exposition ---\n{_numbered(shown)}",
            pytrace=False,
        )
    return output


def openmetrics_check(text: str) -> None:
    """Checks what promtool cannot (it reads text 0.0.4 only): an OpenMetrics
    exposition ends with `# EOF\\n`, has no blank lines, only HELP, TYPE, UNIT
    and EOF comments, and every sample line parses."""
    problems = []
    if not text.endswith("# EOF\n"):
        problems.append("does not end with '# EOF\\n'")
    body = text[: -len("# EOF\n")] if text.endswith("# EOF\n") else text
    for lineno, line in enumerate(body.split("\n")[:-1] if body.endswith("\n") else body.split("\n"), start=1):
        if line == "":
            problems.append(f"line {lineno}: blank line")
        elif line.startswith("# EOF"):
            problems.append(f"line {lineno}: '# EOF' before the end")
        elif line.startswith("#"):
            parts = line.split(" ")
            if len(parts) < 3 or parts[0] != "#" or parts[1] not in ("HELP", "TYPE", "UNIT"):
                problems.append(f"line {lineno}: comment that is not HELP/TYPE/UNIT: {line!r}")
        else:
            try:
                parse_sample_line(line, lineno)
            except ExpositionError as e:
                problems.append(str(e))
    try:
        parse_scrape(text)
    except ExpositionError as e:
        problems.append(str(e))
    if problems:
        pytest.fail(
            "OpenMetrics scrape is invalid:\n  " + "\n  ".join(problems[:50]) + f"\n--- exposition ---\n{_numbered(text)}",
            pytrace=False,
        )


def _media_type_params(value: str | None) -> list[str]:
    """`text/plain; version=0.0.4; charset=utf-8` -> normalised parts, so that
    spacing and case do not matter."""
    return [p.strip().lower().replace(" ", "") for p in (value or "").split(";")]


def same_content_type(actual: str | None, expected: str) -> bool:
    return _media_type_params(actual) == _media_type_params(expected)


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------

def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, limit: int = LOG_TAIL_BYTES) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            data = f.read()
    except OSError as e:
        return f"(cannot read {path}: {e})"
    prefix = f"... (first {size - limit} bytes cut)\n" if size > limit else ""
    return prefix + data.decode("utf-8", "replace")


# Every process the fixtures started and have not stopped yet: stopped at exit
# too, in case pytest itself is interrupted before fixture teardown.
_LIVE: set[subprocess.Popen] = set()


@atexit.register
def _stop_leftovers() -> None:
    for proc in list(_LIVE):
        _stop_process(proc)


def _spawn(args: list[str], log_path: Path, cwd: Path) -> subprocess.Popen:
    """Starts a process with stdout and stderr going to `log_path`."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=cwd, start_new_session=True,
        )
    _LIVE.add(proc)
    return proc


def _stop_process(proc: subprocess.Popen) -> int | None:
    """SIGTERM, wait up to STOP_TIMEOUT_S, then SIGKILL. Returns the exit code."""
    _LIVE.discard(proc)
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)
    return proc.returncode


def _http_session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # no proxies, no .netrc
    return s


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    """Polls `url` until it answers 200 (True) or the process exits or the
    deadline passes (False)."""
    deadline = time.monotonic() + timeout
    with _http_session() as s:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                if s.get(url, timeout=1).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
    return False


class _ProcessRegistry:
    """Processes one test started, with their logs, so that all of them are
    stopped at teardown and their logs shown when the test fails."""

    def __init__(self, item: pytest.Item):
        self.item = item
        self.stoppers: list[Callable[[], None]] = []
        if not hasattr(item, "_gravel_logs"):
            item._gravel_logs = []

    def add_log(self, label: str, path: Path) -> None:
        self.item._gravel_logs.append((label, path))

    def stop_all(self) -> None:
        while self.stoppers:
            self.stoppers.pop()()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for label, path in getattr(item, "_gravel_logs", []):
            report.sections.append((f"{label} log ({path})", _tail(path)))


# --------------------------------------------------------------------------
# The gateway
# --------------------------------------------------------------------------

def gateway_binary() -> Path:
    bin_dir = os.environ.get("GRAVEL_BIN_DIR")
    path = Path(bin_dir) / "gravel-gateway" if bin_dir else REPO_ROOT / ".build" / "debug" / "gravel-gateway"
    if not path.exists():
        pytest.fail(
            f"{path} does not exist: build it (`swift build`) or set GRAVEL_BIN_DIR "
            "to `swift build --show-bin-path` (`make test` does both)",
            pytrace=False,
        )
    return path


class Gateway:
    """A running gravel-gateway.

    Attributes: `url` (http://127.0.0.1:<port>), `port`, `proc` (the Popen),
    `log_path` (its stdout and stderr), `args` (its command line).
    Stop it on purpose with `stop()` / `kill()`; a gateway that exits any other
    way during a test fails the test at teardown.
    """

    def __init__(self, proc: subprocess.Popen, port: int, log_path: Path, args: list[str]):
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.args = args
        self._http = _http_session()

    def __repr__(self) -> str:
        return f"<Gateway {self.url} pid={self.proc.pid}>"

    # -- lifecycle ----------------------------------------------------------

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Stops the gateway on purpose (SIGTERM by default, SIGKILL for a
        crash) and returns its exit code, or None if it did not exit in time."""
        self.stopped_on_purpose = True
        _LIVE.discard(self.proc)
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
        return self.proc.returncode

    def kill(self) -> int | None:
        """SIGKILL, as a crash would."""
        return self.stop(signal.SIGKILL)

    stopped_on_purpose = False

    # -- pushing ------------------------------------------------------------

    def push(self, method: str, path: str, body: str | bytes = b"", headers: Mapping[str, str] | None = None) -> requests.Response:
        """Sends `method path` with the body (a str is sent as UTF-8) and
        returns the response. Unless `headers` say otherwise the body is
        labelled `text/plain; version=0.0.4`, as client libraries do."""
        if not path.startswith("/"):
            path = "/" + path
        data = body.encode("utf-8") if isinstance(body, str) else body
        hdrs = {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"} if method.upper() != "DELETE" else {}
        if headers:
            lower = {k.lower() for k in headers}
            if "content-type" in lower:
                hdrs = {}
            hdrs.update(headers)
        return self._http.request(method.upper(), self.url + path, data=data, headers=hdrs, timeout=HTTP_TIMEOUT_S)

    def post(self, path: str, body: str | bytes, **kw) -> requests.Response:
        return self.push("POST", path, body, **kw)

    def put(self, path: str, body: str | bytes, **kw) -> requests.Response:
        return self.push("PUT", path, body, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.push("DELETE", path, b"", **kw)

    def ok(self, method: str, path: str, body: str | bytes = b"", headers: Mapping[str, str] | None = None) -> requests.Response:
        """`push`, asserting success: 200, or 202 Accepted for a DELETE (as the Pushgateway)."""
        r = self.push(method, path, body, headers)
        expected = 202 if method.upper() == "DELETE" else 200
        assert r.status_code == expected, f"{method} {path} answered {r.status_code}: {r.text!r}\nbody:\n{body!r}"
        return r

    # -- reading ------------------------------------------------------------

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
        """A plain GET with exactly these headers (no automatic
        Accept-Encoding, no decompression): (status, headers, raw body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT_S)
        try:
            conn.putrequest("GET", path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            conn.endheaders()
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()

    def scrape_raw(self, headers: Mapping[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
        """GET /metrics without decompressing: (status, headers, bytes)."""
        return self.get("/metrics", headers)

    def scrape(self, headers: Mapping[str, str] | None = None, *, check: bool = True) -> tuple[int, http.client.HTTPMessage, str]:
        """GET /metrics: (status, headers, text), gunzipped if the response is
        gzip. With `check`, a 200 is validated: text 0.0.4 by promtool,
        OpenMetrics by `openmetrics_check`."""
        status, hdrs, raw = self.scrape_raw(headers)
        if (hdrs.get("Content-Encoding") or "").strip().lower() == "gzip":
            raw = zlib.decompress(raw, 16 + zlib.MAX_WBITS)
        text = raw.decode("utf-8")
        if check and status == 200:
            if (hdrs.get("Content-Type") or "").lower().startswith("application/openmetrics-text"):
                openmetrics_check(text)
            else:
                promtool_check(text)
        return status, hdrs, text

    def scrape_text(self, headers: Mapping[str, str] | None = None) -> str:
        """The checked scrape text, asserting a 200."""
        status, _, text = self.scrape(headers)
        assert status == 200, f"scrape answered {status}: {text!r}"
        return text

    def samples(self, *, drop_self: bool = True, drop_created: bool = False,
                headers: Mapping[str, str] | None = None) -> dict[SeriesKey, float]:
        """The parsed scrape, without self metrics unless `drop_self=False`."""
        return parse_scrape(self.scrape_text(headers), drop_self=drop_self, drop_created=drop_created)

    def state(self) -> str:
        """The scrape minus self metrics, as text: for byte-for-byte
        before/after comparisons."""
        return strip_self_text(self.scrape_text())

    def log(self) -> str:
        return _tail(self.log_path)


@pytest.fixture
def start_gateway(request, tmp_path) -> Iterable[Callable[..., Gateway]]:
    """Factory: `start_gateway(*extra_args)` starts `gravel-gateway -l
    127.0.0.1:<free port> --log-level debug <extra_args>` and waits (at most
    20 s) until GET /-/ready answers 200."""
    registry = _ProcessRegistry(request.node)
    binary = gateway_binary()
    counter = [0]
    started: list[Gateway] = []

    def start(*extra_args: str) -> Gateway:
        last_log = ""
        for _attempt in range(3):
            counter[0] += 1
            port = free_port()
            log_path = tmp_path / f"gravel-gateway-{counter[0]}-{port}.log"
            args = [str(binary), "-l", f"127.0.0.1:{port}", "--log-level", "debug", *map(str, extra_args)]
            proc = _spawn(args, log_path, tmp_path)
            registry.add_log(f"gravel-gateway :{port}", log_path)
            registry.stoppers.append(lambda p=proc: _stop_process(p))
            if _wait_ready(f"http://127.0.0.1:{port}/-/ready", proc, START_TIMEOUT_S):
                gw = Gateway(proc, port, log_path, args)
                started.append(gw)
                return gw
            exited_early = proc.poll() is not None
            rc = _stop_process(proc)
            last_log = _tail(log_path)
            # Another process may have taken the port between free_port() and bind: retry.
            if "in use" not in last_log.lower():
                break
        what = (f"exited with code {rc} before it was ready" if exited_early
                else f"did not answer 200 on /-/ready within {START_TIMEOUT_S:.0f} s")
        pytest.fail(
            f"gravel-gateway {what}; command: {' '.join(args)}\n--- log ---\n{last_log}",
            pytrace=False,
        )

    yield start
    # A gateway that exited by itself during the test crashed: report it, even
    # if the test's assertions passed.
    crashed = [(gw, gw.proc.returncode) for gw in started if not gw.stopped_on_purpose and gw.proc.poll() is not None]
    registry.stop_all()
    if crashed:
        pytest.fail(
            "gravel-gateway exited during the test: "
            + ", ".join(f"{gw!r} exit code {rc}" for gw, rc in crashed),
            pytrace=False,
        )


@pytest.fixture
def gateway(start_gateway) -> Gateway:
    """A fresh gravel-gateway for this test."""
    return start_gateway()


# --------------------------------------------------------------------------
# A real Prometheus server
# --------------------------------------------------------------------------

class PrometheusServer:
    """A running Debian `prometheus` scraping some targets every second with
    `honor_labels: true` (scrape job name `gravel`)."""

    def __init__(self, proc: subprocess.Popen, port: int, log_path: Path, config_path: Path):
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.config_path = config_path
        self._http = _http_session()

    def api(self, path: str, **params) -> dict:
        r = self._http.get(self.url + path, params=params, timeout=HTTP_TIMEOUT_S)
        payload = r.json()
        if r.status_code != 200 or payload.get("status") != "success":
            raise AssertionError(f"Prometheus {path} {params} answered {r.status_code}: {payload}")
        return payload["data"]

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, Mapping[str, str], bytes]:
        """A GET on the server (e.g. its own /metrics): (status, headers, body)."""
        r = self._http.get(self.url + path, headers=dict(headers or {}), timeout=HTTP_TIMEOUT_S)
        return r.status_code, r.headers, r.content

    def query(self, expr: str) -> list[dict]:
        """An instant query through /api/v1/query: the `result` list (for a
        vector, items with `metric` and `value` = [time, "string value"])."""
        return self.api("/api/v1/query", query=expr)["result"]

    def targets(self) -> list[dict]:
        return self.api("/api/v1/targets")["activeTargets"]

    def wait_for(self, expr: str, predicate: Callable[[list[dict]], bool], timeout: float = 30.0) -> list[dict]:
        """Polls `query(expr)` until `predicate(result)` holds; fails the test
        with the last result and the targets' state after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        result: list[dict] = []
        while True:
            result = self.query(expr)
            if predicate(result):
                return result
            if time.monotonic() >= deadline:
                break
            time.sleep(0.25)
        targets = [
            {k: t.get(k) for k in ("scrapeUrl", "health", "lastError", "lastScrape")} for t in self.targets()
        ]
        pytest.fail(
            f"Prometheus query {expr!r} did not reach the expected result within {timeout:.0f} s; "
            f"last result: {json.dumps(result)}\ntargets: {json.dumps(targets, indent=1)}",
            pytrace=False,
        )


@pytest.fixture
def prometheus_server(request, tmp_path) -> Iterable[Callable[..., PrometheusServer]]:
    """Factory: `prometheus_server(*targets)` where each target is a `Gateway`
    or a "host:port" string; starts Prometheus on a free loopback port and
    waits (at most 30 s) for /-/ready."""
    registry = _ProcessRegistry(request.node)
    binary = shutil.which("prometheus")
    counter = [0]

    def start(*targets: Gateway | str) -> PrometheusServer:
        if binary is None:
            pytest.fail("prometheus not found: run scripts/setup.sh test", pytrace=False)
        counter[0] += 1
        workdir = tmp_path / f"prometheus-{counter[0]}"
        (workdir / "data").mkdir(parents=True)
        addresses = [t if isinstance(t, str) else f"127.0.0.1:{t.port}" for t in targets]
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n"
            "  scrape_interval: 1s\n"
            "  scrape_timeout: 1s\n"
            "  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: gravel\n"
            "    honor_labels: true\n"
            "    scrape_interval: 1s\n"
            "    scrape_timeout: 1s\n"
            "    static_configs:\n"
            f"      - targets: {json.dumps(addresses)}\n"
        )
        port = free_port()
        log_path = workdir / "prometheus.log"
        args = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.console.templates={workdir}",
            f"--web.console.libraries={workdir}",
            "--log.level=info",
        ]
        proc = _spawn(args, log_path, workdir)
        registry.add_log(f"prometheus :{port}", log_path)
        registry.stoppers.append(lambda p=proc: _stop_process(p))
        if not _wait_ready(f"http://127.0.0.1:{port}/-/ready", proc, 30.0):
            rc = _stop_process(proc)
            pytest.fail(
                f"prometheus did not become ready within 30 s (exit code {rc})\n--- log ---\n{_tail(log_path)}",
                pytrace=False,
            )
        return PrometheusServer(proc, port, log_path, config)

    yield start
    registry.stop_all()
