"""The Go programs the tests push with (IntegrationTests/goclient, IntegrationTests/gonative),
built offline against Debian's client_golang (golang-github-prometheus-client-golang-dev)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT


def build_go_program(name: str, out_dir: Path) -> Path:
    """Builds IntegrationTests/<name> into out_dir/<name> with GO111MODULE=off and
    GOPATH=/usr/share/gocode (no network), and returns the binary's path."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("go is not installed; scripts/setup.sh test installs golang-go", pytrace=False)
    out = out_dir / name
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOCACHE=str(out_dir / "cache"), GOFLAGS="")
    build = subprocess.run(
        [go, "build", "-o", str(out), "."], cwd=REPO_ROOT / "IntegrationTests" / name, env=env,
        capture_output=True, text=True, timeout=900,
    )
    assert build.returncode == 0, f"go build of {name} failed:\n{build.stdout}\n{build.stderr}"
    return out
