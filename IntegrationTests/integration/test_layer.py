"""The Lambda layer zip that `make layer` builds (dist/gravel-extension-layer.zip, or
$GRAVEL_LAYER_ZIP): its binary must start on Amazon Linux 2023, which has glibc 2.34 and
none of Debian's libraries.

- The ELF check: NEEDED entries are glibc's own and libgcc_s, no symbol version above
  GLIBC_2.34, at most 20 MB.
- The zipped binary runs against the Lambda sandbox emulator inside a root that holds
  only glibc and libgcc_s, taken from a Debian bookworm minbase (debootstrap, built once
  and cached in /var/cache/gravel/roots/ (GRAVEL_MACHINE_CACHE), about two minutes the first time).
- HTTPS to a gateway with the CA only where Amazon Linux keeps it
  (/etc/pki/tls/certs/ca-bundle.crt), and only where Debian keeps it.

Needs root (chroot, debootstrap), as `make test` on CI runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
import requests

from conftest import REPO_ROOT, series
from test_extension_harness import extension_sandbox, function_samples  # noqa: F401  (fixture)
from test_extension_tls import RecordingGateway, tls_gateway  # noqa: F401  (fixture)

LAYER_ZIP = Path(os.environ.get("GRAVEL_LAYER_ZIP") or REPO_ROOT / "dist" / "gravel-extension-layer.zip")
# Kept outside the clone, for every clone on the machine (CI clones afresh): as root
# /var/cache/gravel, else ~/.cache/gravel, or GRAVEL_MACHINE_CACHE.
ROOTS = Path(os.environ.get("GRAVEL_MACHINE_CACHE")
             or ("/var/cache/gravel" if os.geteuid() == 0 else str(Path.home() / ".cache" / "gravel"))) / "roots"
SUITE = "bookworm"
MIRROR = os.environ.get("GRAVEL_DEBOOTSTRAP_MIRROR", "http://deb.debian.org/debian")
IN_ROOT = "/opt/extensions/gravel-extension"

ALLOWED_NEEDED = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
                  "ld-linux-x86-64.so.2", "libgcc_s.so.1"}
MAX_GLIBC = (2, 34)


@pytest.fixture(scope="session")
def layer_binary(tmp_path_factory) -> Path:
    if not LAYER_ZIP.exists():
        pytest.fail(f"{LAYER_ZIP} does not exist: run `make layer` (or set GRAVEL_LAYER_ZIP)", pytrace=False)
    out = tmp_path_factory.mktemp("layer")
    with zipfile.ZipFile(LAYER_ZIP) as z:
        names = [i.filename for i in z.infolist() if not i.is_dir()]
        assert names == ["extensions/gravel-extension"], names
        info = z.getinfo("extensions/gravel-extension")
        assert (info.external_attr >> 16) & 0o111 == 0o111, "the binary must be executable for everyone"
        z.extractall(out)
    binary = out / "extensions" / "gravel-extension"
    binary.chmod(0o755)
    return binary


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the layer tests chroot into a minimal root: run them as root (CI does)", pytrace=False)


@pytest.fixture(scope="session")
def minbase() -> Path:
    """Debian bookworm minbase, built once (debootstrap) and kept in the machine cache."""
    require_root()
    root = ROOTS / f"{SUITE}-minbase"
    if (root / "var/lib/dpkg/status").exists():
        return root
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap not found: run scripts/setup.sh test", pytrace=False)
    partial = ROOTS / f"{SUITE}-minbase.partial"
    shutil.rmtree(partial, ignore_errors=True)
    ROOTS.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(["debootstrap", "--variant=minbase", SUITE, str(partial), MIRROR],
                         capture_output=True, text=True, timeout=900)
    if run.returncode != 0:
        pytest.fail(f"debootstrap failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}", pytrace=False)
    partial.rename(root)
    return root


def package_files(root: Path, package: str) -> list[str]:
    for name in (f"{package}:amd64.list", f"{package}.list"):
        listing = root / "var/lib/dpkg/info" / name
        if listing.exists():
            return [line for line in listing.read_text().splitlines() if line and line != "/."]
    raise AssertionError(f"{package} is not installed in {root}")


@pytest.fixture
def libc_root(minbase, tmp_path) -> Path:
    """A root with glibc (libc6) and libgcc_s (libgcc-s1) from the minbase and nothing
    else: no shell, no libcurl, no OpenSSL, no CA certificates."""
    root = tmp_path / "root"
    root.mkdir()
    # The merged-/usr links (/lib -> usr/lib, /lib64 -> usr/lib64) that the loader path uses.
    for entry in minbase.iterdir():
        if entry.is_symlink():
            target = os.readlink(entry)
            (root / entry.name).symlink_to(target)
            (root / target).mkdir(parents=True, exist_ok=True)
    for package in ("libc6", "libgcc-s1"):
        for path in package_files(minbase, package):
            src, dst = minbase / path.lstrip("/"), root / path.lstrip("/")
            if src.is_symlink():
                dst.parent.mkdir(parents=True, exist_ok=True)
                if not dst.is_symlink() and not dst.exists():
                    os.symlink(os.readlink(src), dst)
            elif src.is_dir():
                dst.mkdir(parents=True, exist_ok=True)
            elif src.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
    (root / "tmp").mkdir(mode=0o1777)
    return root


def install(binary: Path, root: Path, name: str = "gravel-extension") -> list[str]:
    target = root / "opt/extensions" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, target)
    return ["chroot", str(root), f"/opt/extensions/{name}"]


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


# ---------------------------------------------------------------------------- ELF


def test_binary_needs_only_glibc_234_and_libgcc_s(layer_binary):
    dynamic = subprocess.run(["objdump", "-p", str(layer_binary)], capture_output=True, text=True, check=True).stdout
    needed = set(re.findall(r"^\s*NEEDED\s+(\S+)", dynamic, re.M))
    assert needed, "a dynamic binary (glibc's loader is required on Lambda)"
    assert needed <= ALLOWED_NEEDED, f"libraries Lambda may not have: {sorted(needed - ALLOWED_NEEDED)}"

    symbols = subprocess.run(["objdump", "-T", str(layer_binary)], capture_output=True, text=True, check=True).stdout
    too_new = sorted({line.split()[-1] + " " + v for line in symbols.splitlines()
                      for v in re.findall(r"GLIBC_(\d+\.\d+)", line)
                      if tuple(map(int, v.split("."))) > MAX_GLIBC})
    assert not too_new, f"symbols newer than GLIBC_2.34: {too_new}"
    # Nothing of OpenSSL, libcurl or libstdc++ is left to the system.
    assert not re.search(r"\b(OPENSSL_|CURL_|GLIBCXX_|CXXABI_)\d", symbols)

    assert layer_binary.stat().st_size <= 20 * 1024 * 1024
    # Stripped: no symbol table beyond the dynamic one.
    sections = subprocess.run(["objdump", "-h", str(layer_binary)], capture_output=True, text=True, check=True).stdout
    assert ".symtab" not in sections


# ---------------------------------------------------------------------------- a root with only libc


def test_runs_in_a_root_with_only_glibc(layer_binary, libc_root, gateway, extension_sandbox, record_property):
    argv = install(layer_binary, libc_root)
    started = time.time()
    ext = extension_sandbox(gateway.url, argv=argv, flush="end", job="layer")
    registered_ms = (ext.sb.registrations[0].time - started) * 1000
    time.sleep(0.3)
    idle_rss_kb = rss_kb(ext.proc.pid)
    record_property("exec_to_registered_ms", round(registered_ms, 1))
    record_property("idle_rss_kb", idle_rss_kb)
    print(f"layer binary in a glibc-only root: registered {registered_ms:.1f} ms after exec, idle RSS {idle_rss_kb} kB")

    for n in (1, 2, 3):
        def handler(ctx, n=n):
            r = ext.push("POST", "/metrics/job/layer", f"# TYPE jobs_done counter\njobs_done {n}\n")
            assert r.status_code == 200, r.text
        result = ext.invoke(handler)
        assert not result.timed_out
    assert function_samples(gateway.url, "layer")[series("jobs_done", job="layer")] == 6
    assert ext.shutdown().exit_codes == {"gravel-extension": 0}
    # The platform metrics made it too: the telemetry listener works in the root.
    text = requests.get(gateway.url + "/metrics", timeout=10, proxies={"http": None}).text
    assert re.search(r'^lambda_invocations_total\{[^}]*job="layer"[^}]*\} 3$', text, re.M), text
    assert idle_rss_kb <= 15 * 1024
    assert registered_ms < 2000


def test_registers_under_its_file_name(layer_binary, libc_root, gateway, extension_sandbox):
    argv = install(layer_binary, libc_root, name="metrics-sidecar")
    ext = extension_sandbox(gateway.url, argv=argv, name="metrics-sidecar", flush="end")
    assert [r.name for r in ext.sb.registrations] == ["metrics-sidecar"]
    assert ext.shutdown().exit_codes == {"metrics-sidecar": 0}


# ---------------------------------------------------------------------------- CA certificates


@pytest.mark.parametrize("bundle", ["etc/pki/tls/certs/ca-bundle.crt", "etc/ssl/certs/ca-certificates.crt"],
                         ids=["amazon-linux", "debian"])
def test_https_trusts_the_system_bundle_where_the_root_keeps_it(layer_binary, libc_root, tls_gateway,
                                                                extension_sandbox, bundle):
    gateway, ca = tls_gateway
    target = libc_root / bundle
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ca, target)
    argv = install(layer_binary, libc_root)
    url = gateway.url.replace("localhost", "127.0.0.1")
    ext = extension_sandbox(url, argv=argv, flush="end", platform_metrics="0")
    def handler(ctx):
        assert ext.push("POST", "/metrics/job/secure", "# TYPE hits counter\nhits 1\n").status_code == 200
    ext.invoke(handler)
    assert ext.shutdown().exit_codes == {"gravel-extension": 0}
    assert [r["path"] for r in gateway.requests] == ["/metrics/job/secure"]


def test_https_without_any_system_bundle_is_refused(layer_binary, libc_root, tls_gateway, extension_sandbox):
    gateway, _ = tls_gateway
    argv = install(layer_binary, libc_root)
    url = gateway.url.replace("localhost", "127.0.0.1")
    ext = extension_sandbox(url, argv=argv, flush="end", platform_metrics="0", flush_timeout_ms="500")
    def handler(ctx):
        assert ext.push("POST", "/metrics/job/secure", "# TYPE hits counter\nhits 1\n").status_code == 200
    ext.invoke(handler)
    ext.shutdown(deadline_ms=1000)
    assert gateway.requests == []
    assert "no system CA bundle found" in ext.log()
