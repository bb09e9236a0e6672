#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/) in their own scratch path and runs each for a while.
#
#   scripts/fuzz.sh                    every target for $FUZZ_SECONDS seconds (default 600)
#   FUZZ_SECONDS=25 scripts/fuzz.sh    the short run `make test` does
#   FUZZ_TARGETS="text path" ...       a subset (text, protobuf, path, pipeline)
#
# Package.swift adds the fuzz targets, and compiles Shared with coverage and
# AddressSanitizer, only when GRAVEL_FUZZ_RUNTIME names libFuzzer's no-main runtime; the
# build lives in .build-fuzz, so the normal build is never touched.
#
# A failing input is saved as .build-fuzz/crashes/<target>-crash-<sha1> and the script
# exits 1. Reproduce it with `.build-fuzz/release/Fuzz<Target> <file>`, then keep it as a
# regression test in Tests/SharedTests.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-600}"
targets="${FUZZ_TARGETS:-text protobuf path pipeline}"
scratch=.build-fuzz

swift_bin="$(readlink -f "$(command -v swift)")"
runtime="$(ls "$(dirname "$swift_bin")"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-*.a 2>/dev/null | head -n 1 || true)"
if [[ -z "$runtime" ]]; then
    echo "fuzz.sh: libclang_rt.fuzzer_no_main not found next to $swift_bin; this toolchain cannot fuzz" >&2
    exit 1
fi
export GRAVEL_FUZZ_RUNTIME="$runtime"

product() {
    case "$1" in
        text) echo FuzzText ;;
        protobuf) echo FuzzProtobuf ;;
        path) echo FuzzPath ;;
        pipeline) echo FuzzPipeline ;;
        *) echo "fuzz.sh: unknown target $1 (text, protobuf, path, pipeline)" >&2; exit 2 ;;
    esac
}

for target in $targets; do
    swift build -c release --scratch-path "$scratch" --product "$(product "$target")"
done
bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)"

mkdir -p "$scratch/crashes"
status=0
for target in $targets; do
    corpus="$scratch/corpus/$target"
    mkdir -p "$corpus"
    echo "fuzz.sh: $target for ${seconds}s" >&2
    # New inputs go to the first directory; the committed seeds are only read.
    # -rss_limit_mb and -malloc_limit_mb turn unbounded memory into a failure;
    # -timeout turns a slow input (quadratic work) into one.
    # The Swift backtracer would read freed memory under ASan; libFuzzer reports the trap.
    if ! SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 "$bin/$(product "$target")" "$corpus" "Fuzz/Corpus/$target" \
        -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
        -artifact_prefix="$scratch/crashes/$target-" -print_final_stats=1 2> "$scratch/$target.log"; then
        echo "fuzz.sh: $target FAILED; the input is in $scratch/crashes/, the log in $scratch/$target.log:" >&2
        grep -E "ERROR|Fatal error|precondition|SUMMARY|Test unit written" "$scratch/$target.log" | head -n 20 >&2 || true
        status=1
    else
        grep -E "DONE|^stat::number_of_executed_runs|^stat::peak_rss_mb" "$scratch/$target.log" | tail -n 3 >&2 || true
    fi
done
exit "$status"
