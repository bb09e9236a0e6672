#!/usr/bin/env bash
# Builds the Lambda layer (deploy/lambda/build-layer.sh: the binary that ships, with its
# static libcurl) and a release gateway, and prints gravel-extension's measurements as JSON
# (scripts/bench_extension.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scratch=${GRAVEL_RELEASE_SCRATCH:-.build-release}
layer=$(mktemp -d)
trap 'rm -rf "$layer"' EXIT
scripts/setup.sh layer >&2
deploy/lambda/build-layer.sh "$layer/layer.zip" >&2
(cd "$layer" && unzip -q layer.zip)
stripped="$layer/extensions/gravel-extension"
swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product gravel-gateway >&2
bin=$(swift build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)
# `bench-extension.sh [OUT.json]`: make bench passes the file to write; alone it prints.
out=${1:-/dev/stdout}
quick=()
if [ "${BENCH_QUICK:-0}" = 1 ]; then quick=(--starts 5 --pushes 500 --invocations 50); fi
python3 scripts/bench_extension.py --extension "$stripped" --gateway "$bin/gravel-gateway" "${quick[@]}" >"$out"
