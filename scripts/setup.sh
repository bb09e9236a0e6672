#!/usr/bin/env bash
# Installs what Gravel needs on a Debian machine, for one or more profiles:
#
#   scripts/setup.sh run     C libraries the Swift build links against
#   scripts/setup.sh test    run + prometheus (promtool, server), the Pushgateway, htpasswd,
#                            openssl, curl, Go with client_golang (a real Go client, built
#                            offline), nginx (the cluster router), chromium (the web page),
#                            yamllint, debootstrap (the layer's minimal root), and the Python
#                            packages of IntegrationTests/
#   scripts/setup.sh bench   run + prometheus-pushgateway, wrk, hyperfine
#   scripts/setup.sh layer   run + what `make layer` needs to build libcurl from Debian's
#                            source package (dpkg-dev, gcc, make) and pack the zip
#
# Several profiles may be given at once (`scripts/setup.sh test bench`).
# Idempotent, and quick when everything is present: apt-get and pip are only
# called for what is missing. Uses sudo only when not run as root.
set -euo pipefail

usage() {
    echo "usage: $0 run|test|bench|layer [run|test|bench|layer ...]" >&2
    exit 2
}

[ "$#" -ge 1 ] || usage

run_pkgs=(libcurl4-openssl-dev libssl-dev libcrypt-dev zlib1g-dev)
test_pkgs=(prometheus prometheus-pushgateway prometheus-node-exporter apache2-utils openssl curl
    golang-go golang-github-prometheus-client-golang-dev nginx chromium yamllint
    debootstrap binutils zip unzip)
bench_pkgs=(prometheus-pushgateway wrk hyperfine)
layer_pkgs=(dpkg-dev gcc make binutils zip)

# Python module to import -> PyPI distribution that provides it.
test_py_modules=(prometheus_client pytest requests kubernetes_validate)
test_py_dists=(prometheus-client pytest requests kubernetes-validate)

debs=()
py_modules=()
py_dists=()
for profile in "$@"; do
    case "$profile" in
        run)
            debs+=("${run_pkgs[@]}")
            ;;
        test)
            debs+=("${run_pkgs[@]}" "${test_pkgs[@]}" "${layer_pkgs[@]}")
            py_modules+=("${test_py_modules[@]}")
            py_dists+=("${test_py_dists[@]}")
            ;;
        bench)
            debs+=("${run_pkgs[@]}" "${bench_pkgs[@]}")
            ;;
        layer)
            debs+=("${run_pkgs[@]}" "${layer_pkgs[@]}")
            ;;
        -h|--help)
            usage
            ;;
        *)
            echo "setup.sh: unknown profile '$profile'" >&2
            usage
            ;;
    esac
done

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

is_installed() {
    # `dpkg -s` also succeeds for removed packages whose config files remain,
    # so look at the status line itself.
    # Capture first: `grep -q` closing the pipe early would fail it under pipefail.
    local status
    status=$(dpkg -s "$1" 2>/dev/null) || return 1
    grep -q '^Status: install ok installed$' <<<"$status"
}

# --- Debian packages --------------------------------------------------------
missing_debs=()
declare -A seen=()
for pkg in "${debs[@]}"; do
    [ -n "${seen[$pkg]:-}" ] && continue
    seen[$pkg]=1
    is_installed "$pkg" || missing_debs+=("$pkg")
done

# pip itself, when Python packages will be needed and the interpreter lacks it.
need_pip=0
missing_py=()
for i in "${!py_modules[@]}"; do
    if ! python3 -c "import ${py_modules[$i]}" >/dev/null 2>&1; then
        missing_py+=("${py_dists[$i]}")
    fi
done
if [ "${#missing_py[@]}" -gt 0 ] && ! python3 -m pip --version >/dev/null 2>&1; then
    need_pip=1
    is_installed python3-pip || missing_debs+=(python3-pip)
fi

if [ "${#missing_debs[@]}" -gt 0 ]; then
    echo "setup.sh: installing Debian packages: ${missing_debs[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing_debs[@]}"
fi

# --- Python packages --------------------------------------------------------
if [ "${#missing_py[@]}" -gt 0 ]; then
    if [ "$need_pip" -eq 1 ] && ! python3 -m pip --version >/dev/null 2>&1; then
        echo "setup.sh: python3 has no pip even after installing python3-pip" >&2
        exit 1
    fi
    echo "setup.sh: installing Python packages: ${missing_py[*]}"
    if ! python3 -m pip install --quiet --disable-pip-version-check "${missing_py[@]}"; then
        # A Debian-managed interpreter refuses plain installs (PEP 668).
        extra=(--break-system-packages)
        if [ "$(id -u)" -ne 0 ]; then
            extra+=(--user)
        fi
        python3 -m pip install --quiet --disable-pip-version-check "${extra[@]}" "${missing_py[@]}"
    fi
    for m in "${py_modules[@]}"; do
        python3 -c "import $m" || { echo "setup.sh: python3 still cannot import $m" >&2; exit 1; }
    done
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "setup.sh: warning: swift is not on PATH; Gravel needs a Swift 6 toolchain" >&2
fi

exit 0
