"""GravelExtension and Shared stay free of Foundation (docs/ARCHITECTURE.md, design rules).

Foundation costs the extension its cold start: measured on this project, a NIO-only
server listens about 2.6 ms after exec in 9.8 MB of RSS, with FoundationEssentials 3.7 ms,
with full Foundation 13 ms and 29 MB. Like swift-nio's own linker check, this looks at what
the built binary links and what its sources import, so a stray `import Foundation` (or a
dependency that brings it) fails the build's tests, not a user's cold start.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from conftest import REPO_ROOT
from test_extension_harness import extension_binary

IMPORT = re.compile(r"^\s*(@_exported\s+)?import\s+(Foundation|FoundationEssentials|FoundationNetworking)\b", re.M)


def test_sources_do_not_import_foundation():
    offenders = []
    for target in ("Shared", "GravelExtension"):
        for path in sorted((REPO_ROOT / "Sources" / target).rglob("*.swift")):
            if IMPORT.search(path.read_text()):
                offenders.append(str(path.relative_to(REPO_ROOT)))
    assert not offenders, f"these files import Foundation: {offenders}"


def test_extension_binary_does_not_link_foundation():
    binary = extension_binary()
    ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, timeout=30)
    linked = [line.split()[0] for line in ldd.stdout.splitlines() if line.strip()]
    assert not [lib for lib in linked if "Foundation" in lib], f"gravel-extension links {linked}"
    nm = shutil.which("nm")
    assert nm, "nm (binutils) is needed: scripts/setup.sh test installs it"
    symbols = subprocess.run([nm, "-D", "--undefined-only", str(binary)], capture_output=True, text=True, timeout=60)
    # Swift mangles Foundation's symbols with the module name "10Foundation".
    foundation = [line for line in symbols.stdout.splitlines() if "10Foundation" in line]
    assert not foundation, f"gravel-extension needs Foundation symbols: {foundation[:5]}"
    # And it does link what it is built on, so the check above is looking at a real Swift binary.
    assert any("libswiftCore" in lib for lib in linked) or Path(binary).stat().st_size > 5_000_000
