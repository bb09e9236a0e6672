#!/usr/bin/env bash
# Durability bench: what --data-dir costs and how fast the gateway comes back.
#
#   bash scripts/bench/durability.sh [BIN_DIR]
#
# BIN_DIR holds gravel-gateway and gravel-bench (default: the release build). Measures, each
# bounded in time, and prints one JSON object:
#   ingest        wrk POSTs of the bench body, 16 connections, DURATION s each: gravel in
#                 memory, gravel --data-dir (group commit, every push fdatasynced), the
#                 Pushgateway (no persistence file, as in make bench)
#   ready_clean   1,000,000 series (SERIES_GROUPS groups x 1,000) loaded, SIGTERM (shutdown
#                 snapshot), start again: seconds until /-/ready answers 200
#   ready_kill9   the same load into a fresh directory, kill -9 before any snapshot (the whole
#                 load is in the log), start again: seconds until /-/ready
#   disk          bytes of the newest snapshot per series, and of the whole directory (the
#                 log since the older kept snapshot included) after the clean stop
#
# Environment: DURATION (10), SERIES_GROUPS (1000), CONNECTIONS (16), DATA_ROOT (a directory on the
# disk to measure; default a fresh one under bench/tmp).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
BIN=${1:-$(swift build -c release --show-bin-path)}
DURATION=${DURATION:-10}
SERIES_GROUPS=${SERIES_GROUPS:-1000}
CONNECTIONS=${CONNECTIONS:-16}
WORK=$(mktemp -d "$ROOT/bench/tmp/durability-XXXXXX" 2>/dev/null || { mkdir -p "$ROOT/bench/tmp"; mktemp -d "$ROOT/bench/tmp/durability-XXXXXX"; })
DATA_ROOT=${DATA_ROOT:-$WORK}

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# seconds_until_ready PORT PID: polls /-/ready every 10 ms for at most 120 s.
seconds_until_ready() {
    python3 - "$1" "$2" <<'EOF'
import os, sys, time, urllib.request
port, pid = int(sys.argv[1]), int(sys.argv[2])
start = time.monotonic()
while time.monotonic() - start < 120:
    try:
        if urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1).status == 200:
            print(round(time.monotonic() - start, 3)); sys.exit(0)
    except Exception:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        print("exited", file=sys.stderr); sys.exit(1)
    time.sleep(0.01)
sys.exit(1)
EOF
}

# start NAME ARGS...: sets PORT and PID, waits until ready.
start() {
    local name=$1
    shift
    PORT=$(free_port)
    case "$name" in
        gravel) "$BIN/gravel-gateway" -l "127.0.0.1:$PORT" --max-series 4000000 --log-level warning "$@" >>"$WORK/$name.log" 2>&1 & ;;
        pushgateway) prometheus-pushgateway --web.listen-address="127.0.0.1:$PORT" --persistence.file= --log.level=warn >>"$WORK/$name.log" 2>&1 & ;;
    esac
    PID=$!
    PIDS+=("$PID")
    READY_S=$(seconds_until_ready "$PORT" "$PID")
}

stop() {  # stop SIGNAL
    kill "-$1" "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
}

wrk_run() {  # wrk_run NAME -> pushes/s and p99 ms as JSON
    BENCH_BODY="$WORK/push.txt" BENCH_WRK_JSON="$WORK/$1.json" timeout $((DURATION + 60)) \
        wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 30s -s "$ROOT/scripts/bench/push.lua" \
        "http://127.0.0.1:$PORT/metrics/job/bench" >"$WORK/$1.wrk.log" 2>&1
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({"pushes_per_s": round(r["requests"] / (r["duration_us"] / 1e6)), "p99_ms": r["latency_us"]["p99"] / 1000, "errors": r["errors"]}))' "$WORK/$1.json"
}

load_series() {
    timeout 1800 python3 "$ROOT/scripts/bench/load.py" --port "$PORT" --body "$WORK/group.txt" --groups "$SERIES_GROUPS" >/dev/null
}

"$BIN/gravel-bench" body push >"$WORK/push.txt"
"$BIN/gravel-bench" body scrape --families 10 --per-family 100 >"$WORK/group.txt"

start gravel
memory=$(wrk_run memory)
stop TERM
start gravel --data-dir "$DATA_ROOT/ingest"
durable=$(wrk_run durable)
batch=$(curl -fsS "http://127.0.0.1:$PORT/metrics" | awk '/^gravel_gateway_wal_batch_size_(sum|count) / { v[$1] = $2 } END { if (v["gravel_gateway_wal_batch_size_count"] > 0) printf "%.1f", v["gravel_gateway_wal_batch_size_sum"] / v["gravel_gateway_wal_batch_size_count"]; else print 0 }')
stop TERM
start pushgateway
pgw=$(wrk_run pushgateway)
stop TERM

start gravel --data-dir "$DATA_ROOT/clean"
load_series
series=$(curl -fsS "http://127.0.0.1:$PORT/metrics" | awk '/^gravel_gateway_series / { print $2 }')
stop TERM
disk=$(du -sb "$DATA_ROOT/clean" | cut -f1)
snapshot=$(stat -c %s "$(ls "$DATA_ROOT"/clean/snapshot-*.snap | tail -1)")
start gravel --data-dir "$DATA_ROOT/clean"
ready_clean=$READY_S
stop TERM

start gravel --data-dir "$DATA_ROOT/kill9"
load_series
stop KILL
log_bytes=$(du -sb "$DATA_ROOT/kill9" | cut -f1)
start gravel --data-dir "$DATA_ROOT/kill9"
ready_kill9=$READY_S
stop TERM

cat <<EOF
{"ingest": {"memory": $memory, "data_dir": $durable, "data_dir_mean_batch": $batch, "pushgateway": $pgw},
 "series": $series, "ready_after_clean_stop_s": $ready_clean, "ready_after_kill9_s": $ready_kill9,
 "data_dir_bytes": $disk, "snapshot_bytes": $snapshot, "snapshot_bytes_per_series": $(( snapshot / ${series%.*} )),
 "log_dir_bytes_after_kill9": $log_bytes}
EOF
rm -rf "$WORK"
