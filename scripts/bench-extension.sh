#!/usr/bin/env bash
# Builds release binaries (the extension with the static Swift stdlib, stripped as in the
# layer) and prints gravel-extension's measurements as JSON (scripts/bench_extension.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scratch=${GRAVEL_RELEASE_SCRATCH:-.build-release}
swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product gravel-extension >&2
swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product gravel-gateway >&2
bin=$(swift build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)
stripped=$(mktemp -d)/gravel-extension
trap 'rm -rf "$(dirname "$stripped")"' EXIT
cp "$bin/gravel-extension" "$stripped"
strip "$stripped"
# `bench-extension.sh [OUT.json]`: make bench passes the file to write; alone it prints.
out=${1:-/dev/stdout}
quick=()
if [ "${BENCH_QUICK:-0}" = 1 ]; then quick=(--starts 5 --pushes 500 --invocations 50); fi
python3 scripts/bench_extension.py --extension "$stripped" --gateway "$bin/gravel-gateway" "${quick[@]}" >"$out"
