#!/usr/bin/env bash
# make bench: Gravel side by side with the Prometheus Pushgateway on this machine.
#
# Phases, each bounded in time:
#   build    release gravel-gateway and gravel-bench (once)
#   cpu      gravel-bench run: parser MB/s on a 10 MB exposition, one push's parse and
#            merge without HTTP, merge of the parsed exposition, render of 1,000,000 series
#   ingest   wrk POSTs of the same 112-sample body to /metrics/job/bench, 16 connections,
#            gravel-gateway then pushgateway, alternating for BENCH_ROUNDS rounds (median)
#   stored   the same ingest with 1k and 100k series already stored in other groups
#   scrape   1,000,000 series (1,000 groups x 1,000) loaded into each gateway in turn:
#            GET /metrics time (median of 3 after one cold scrape), resident memory
#   extension  scripts/bench-extension.sh, when it exists
# then scripts/bench/report.py prints the table and writes bench/results.json and
# bench/RESULTS.md.
#
# Environment:
#   BENCH_QUICK=1          short smoke run: 3 s wrk runs, 1 round, 100k-series scrape
#   BENCH_DURATION=10      seconds per measured wrk run
#   BENCH_ROUNDS=3         alternating ingest rounds per gateway (median reported)
#   BENCH_CONNECTIONS=16   wrk connections;  BENCH_WRK_THREADS=2 wrk threads
#   BENCH_SCRAPE_GROUPS=1000  groups of 1,000 series for the scrape phase
#   BENCH_PHASES="cpu ingest stored scrape scrapemem durability cluster extension"   a subset to run
#   BENCH_SKIP_BUILD=1     use the existing release build
#   BENCH_OUT=bench        where results.json and RESULTS.md go
#
# scripts/bench-extension.sh contract: called as `bash scripts/bench-extension.sh OUT.json`
# with GRAVEL_BIN_DIR (release binaries) and BENCH_QUICK in the environment; it writes a
# JSON object to OUT.json (or prints it on stdout), which lands under "extension".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
    DURATION=${BENCH_DURATION:-3}
    WARMUP=1
    ROUNDS=${BENCH_ROUNDS:-1}
    SCRAPE_GROUPS=${BENCH_SCRAPE_GROUPS:-100}
    STORED_LARGE_GROUPS=100
else
    DURATION=${BENCH_DURATION:-10}
    WARMUP=2
    ROUNDS=${BENCH_ROUNDS:-3}
    SCRAPE_GROUPS=${BENCH_SCRAPE_GROUPS:-1000}
    STORED_LARGE_GROUPS=100
fi
CONNECTIONS=${BENCH_CONNECTIONS:-16}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
PHASES=${BENCH_PHASES:-"cpu ingest stored scrape scrapemem durability cluster extension"}
OUT=${BENCH_OUT:-bench}
SERIES_PER_GROUP=1000   # 10 families x 100 series (gravel-bench body scrape)

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
WORK="$ROOT/bench/tmp/$STAMP"
mkdir -p "$WORK" "$OUT"
echo "bench: work files in ${WORK#"$ROOT"/}"

# --- processes: every one we start is recorded and ended on exit -------------
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

stop() {  # stop PID: end one process we started
    local pid=$1 p keep=()
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do [ "$p" != "$pid" ] && keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_ready() {  # wait_ready PORT PID NAME
    local i
    for i in $(seq 1 200); do
        if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$1/-/ready" 2>/dev/null; then return 0; fi
        if ! kill -0 "$2" 2>/dev/null; then echo "bench: $3 exited at start-up" >&2; return 1; fi
        sleep 0.1
    done
    echo "bench: $3 not ready on port $1 after 20 s" >&2
    return 1
}

# start_gateway NAME LOG [EXTRA ARGS...]: starts gravel-gateway or pushgateway on a free
# port and sets GW_PID and GW_PORT.
start_gateway() {
    local name=$1 log=$2
    shift 2
    GW_PORT=$(free_port)
    case "$name" in
        gravel)
            "$BIN/gravel-gateway" -l "127.0.0.1:$GW_PORT" --max-series 4000000 --log-level warning "$@" >"$log" 2>&1 &
            ;;
        pushgateway)
            prometheus-pushgateway --web.listen-address="127.0.0.1:$GW_PORT" --persistence.file= \
                --log.level=warn "$@" >"$log" 2>&1 &
            ;;
    esac
    GW_PID=$!
    PIDS+=("$GW_PID")
    wait_ready "$GW_PORT" "$GW_PID" "$name"
}

proc_field_kb() {  # proc_field_kb PID FIELD -> bytes
    awk -v f="$2:" '$1 == f { print $2 * 1024 }' "/proc/$1/status"
}

proc_cpu_ticks() {  # user + system clock ticks of PID
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

proc_cpu_split() {  # "user system" clock ticks of PID
    awk '{ print $14, $15 }' "/proc/$1/stat"
}

proc_ctx_switches() {  # context switches of all threads of PID
    cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

sys_cpu() {  # "busy total" jiffies over all CPUs
    awk '$1 == "cpu" { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6 }' /proc/stat
}

# CPU seconds of this shell's finished (waited-for) children and their descendants, from
# bash's `times`. It must run in this shell, not in $(...): a subshell starts from zero.
children_cpu_s() {  # children_cpu_s VAR
    times >"$WORK/.times"
    printf -v "$1" '%s' "$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$WORK/.times")"
}

CLK_TCK=$(getconf CLK_TCK)

# run_wrk NAME PORT PID OUT.json SECONDS: one wrk run against a gateway, with the CPU the
# gateway, wrk and everything else on the machine used meanwhile.
run_wrk() {
    local name=$1 port=$2 pid=$3 out=$4 seconds=$5
    local gw0 gw1 sys0 sys1 ch0 ch1 cs0 cs1
    gw0=$(proc_cpu_split "$pid"); cs0=$(proc_ctx_switches "$pid"); sys0=$(sys_cpu); children_cpu_s ch0
    BENCH_BODY="$WORK/push.txt" BENCH_WRK_JSON="$out.wrk" \
        timeout $((seconds + 60)) wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${seconds}s" --timeout 30s \
        -s "$ROOT/scripts/bench/push.lua" "http://127.0.0.1:$port/metrics/job/bench" >"$out.log" 2>&1 \
        || { echo "bench: wrk against $name failed:" >&2; cat "$out.log" >&2; return 1; }
    children_cpu_s ch1; gw1=$(proc_cpu_split "$pid"); cs1=$(proc_ctx_switches "$pid"); sys1=$(sys_cpu)
    python3 - "$out.wrk" "$out" "$name" "$gw0" "$gw1" "$sys0" "$sys1" "$ch0" "$ch1" "$CLK_TCK" "$(nproc)" "$cs0" "$cs1" <<'EOF'
import json, sys
src, dst, name, gw0, gw1, sys0, sys1, ch0, ch1, tck, ncpu, cs0, cs1 = sys.argv[1:]
u0, k0 = map(float, gw0.split()); u1, k1 = map(float, gw1.split())
r = json.load(open(src))
tck = float(tck)
busy0, total0 = map(float, sys0.split()); busy1, total1 = map(float, sys1.split())
gw_s = (u1 + k1 - u0 - k0) / tck
wrk_s = float(ch1) - float(ch0)
wall_cpu_s = (total1 - total0) / tck          # CPU-seconds available on all cores
busy_s = (busy1 - busy0) / tck
r["gateway"] = name
r["gateway_cpu_s"] = round(gw_s, 3)
r["gateway_user_s"] = round((u1 - u0) / tck, 3)
r["gateway_system_s"] = round((k1 - k0) / tck, 3)
r["gateway_context_switches"] = int(cs1) - int(cs0)
r["wrk_cpu_s"] = round(wrk_s, 3)
r["other_cpu_s"] = round(max(0.0, busy_s - gw_s - wrk_s), 3)
r["other_cpu_fraction"] = round(max(0.0, busy_s - gw_s - wrk_s) / wall_cpu_s, 3) if wall_cpu_s else None
json.dump(r, open(dst, "w"), indent=1)
EOF
}

# --- machine --------------------------------------------------------------
machine_json() {
    local s0 s1
    s0=$(sys_cpu); sleep 2; s1=$(sys_cpu)
    python3 - "$s0" "$s1" <<'EOF'
import json, os, platform, subprocess, sys, datetime
b0, t0 = map(float, sys.argv[1].split()); b1, t1 = map(float, sys.argv[2].split())
def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""
def pushgateway_version():
    try:
        r = subprocess.run(["prometheus-pushgateway", "--version"], capture_output=True, text=True, timeout=20)
    except Exception:
        return ""
    text = (r.stdout + r.stderr).strip()
    return text.splitlines()[0] if text else ""
cpu = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip(); break
mem = 0
for line in open("/proc/meminfo"):
    if line.startswith("MemTotal:"):
        mem = int(line.split()[1]) * 1024
status = sh("git", "status", "--porcelain", "--untracked-files=no")
print(json.dumps({
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "git_commit": sh("git", "rev-parse", "HEAD"),
    "git_branch": sh("git", "rev-parse", "--abbrev-ref", "HEAD"),
    "git_dirty": bool(status),
    "nproc": os.cpu_count(),
    "cpu_model": cpu,
    "memory_bytes": mem,
    "kernel": platform.release(),
    "swift": sh("swift", "--version").splitlines()[0] if sh("swift", "--version") else "",
    "pushgateway": pushgateway_version(),
    "wrk": "wrk " + sh("dpkg-query", "-W", "-f=${Version}", "wrk"),
    "loadavg": open("/proc/loadavg").read().split()[:3],
    "busy_fraction_before": round((b1 - b0) / (t1 - t0), 3) if t1 > t0 else None,
}))
EOF
}

phase_enabled() { [[ " $PHASES " == *" $1 "* ]]; }

pids_cpu_ticks() {  # summed user + system ticks of the given PIDs
    local pid sum=0
    for pid in "$@"; do sum=$((sum + $(proc_cpu_ticks "$pid"))); done
    echo "$sum"
}

# phase_load_begin [PID...] / phase_load_end NAME [PID...]: the share of all CPUs that
# processes other than ours used during a phase. Ours: this script's finished children
# (gravel-bench, curl, loaders) and the long-running PIDs given (gateways).
phase_load_begin() {
    PHASE_SYS0=$(sys_cpu)
    PHASE_TICKS0=$(pids_cpu_ticks "$@")
    children_cpu_s PHASE_CH0
}
phase_load_end() {
    local name=$1 sys1 ch1 ticks1
    shift
    children_cpu_s ch1
    sys1=$(sys_cpu)
    ticks1=$(pids_cpu_ticks "$@")
    python3 - "$WORK/load-$name.json" "$name" "$PHASE_SYS0" "$sys1" "$PHASE_CH0" "$ch1" \
        "$((ticks1 - PHASE_TICKS0))" "$CLK_TCK" <<'PY'
import json, sys
out, name, s0, s1, c0, c1, ticks, tck = sys.argv[1:]
b0, t0 = map(float, s0.split()); b1, t1 = map(float, s1.split())
tck = float(tck)
busy, total = (b1 - b0) / tck, (t1 - t0) / tck
mine = float(c1) - float(c0) + float(ticks) / tck
json.dump({"phase": name, "other_cpu_fraction": round(max(0.0, busy - mine) / total, 3) if total else None},
          open(out, "w"))
PY
}

START_S=$SECONDS
machine_json >"$WORK/machine-start.json"
echo "bench: machine: $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["nproc"], "cores,", m["cpu_model"], "| load", " ".join(m["loadavg"]), "| busy before start", m["busy_fraction_before"])' "$WORK/machine-start.json")"

# --- build ----------------------------------------------------------------
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    echo "bench: building release (swift build -c release)"
    timeout 3600 swift build -c release --product gravel-gateway
    timeout 3600 swift build -c release --product gravel-bench
fi
BIN=$(swift build -c release --show-bin-path)
for exe in gravel-gateway gravel-bench; do
    [ -x "$BIN/$exe" ] || { echo "bench: $BIN/$exe is missing; run without BENCH_SKIP_BUILD" >&2; exit 1; }
done
"$BIN/gravel-bench" body push >"$WORK/push.txt"
"$BIN/gravel-bench" body scrape --families 10 --per-family 100 >"$WORK/scrape-group.txt"
echo "{\"gravel_gateway_bytes\": $(stat -c %s "$BIN/gravel-gateway"), \"duration_s\": $DURATION, \"warmup_s\": $WARMUP, \"rounds\": $ROUNDS, \"connections\": $CONNECTIONS, \"wrk_threads\": $WRK_THREADS, \"scrape_groups\": $SCRAPE_GROUPS, \"series_per_group\": $SERIES_PER_GROUP, \"quick\": $([ "$QUICK" = 1 ] && echo true || echo false), \"push_body_bytes\": $(stat -c %s "$WORK/push.txt"), \"pushgateway_scrape_consistency_check\": $([ "${BENCH_PGW_CHECK:-0}" = 1 ] && echo true || echo false)}" >"$WORK/config.json"

# --- cpu: gravel-bench ------------------------------------------------------
if phase_enabled cpu; then
    echo "bench: cpu benchmarks (gravel-bench run)"
    quick_flag=()
    [ "$QUICK" = 1 ] && quick_flag=(--quick)
    phase_load_begin
    timeout 1200 "$BIN/gravel-bench" run "${quick_flag[@]+"${quick_flag[@]}"}" >"$WORK/cpu.json"
    phase_load_end cpu
fi

# --- ingest: side by side, alternating --------------------------------------
check_push() {  # check_push NAME PORT: the body must be accepted before measuring
    local code
    code=$(curl -s -o "$WORK/check-$1.txt" -w '%{http_code}' --max-time 10 -X POST \
        -H 'Content-Type: text/plain; version=0.0.4' --data-binary @"$WORK/push.txt" \
        "http://127.0.0.1:$2/metrics/job/bench")
    if [[ "$code" != 2* ]]; then
        echo "bench: $1 refused the push body ($code): $(cat "$WORK/check-$1.txt")" >&2
        return 1
    fi
}

# ingest_runs LABEL ROUNDS: wrk against both running gateways (GRAVEL_*, PGW_*), alternating.
ingest_runs() {
    local label=$1 rounds=$2 r name port pid
    for r in $(seq 1 "$rounds"); do
        for name in gravel pushgateway; do
            if [ "$name" = gravel ]; then port=$GRAVEL_PORT; pid=$GRAVEL_PID; else port=$PGW_PORT; pid=$PGW_PID; fi
            run_wrk "$name" "$port" "$pid" "$WORK/warmup.json" "$WARMUP" >/dev/null
            run_wrk "$name" "$port" "$pid" "$WORK/$label-$name-$r.json" "$DURATION"
            python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("bench:   %-11s round %s: %8.0f pushes/s  p99 %6.2f ms  errors %d  other CPU %.0f%%" % (sys.argv[2], sys.argv[3], r["requests"] / (r["duration_us"] / 1e6), r["latency_us"]["p99"] / 1000, sum(r["errors"].values()), 100 * (r["other_cpu_fraction"] or 0)))' \
                "$WORK/$label-$name-$r.json" "$name" "$r"
        done
    done
}

start_both() {
    start_gateway gravel "$WORK/gravel-$1.log"; GRAVEL_PORT=$GW_PORT; GRAVEL_PID=$GW_PID
    start_gateway pushgateway "$WORK/pushgateway-$1.log"; PGW_PORT=$GW_PORT; PGW_PID=$GW_PID
}

stop_both() { stop "$GRAVEL_PID"; stop "$PGW_PID"; }

rss_json() {  # rss_json PID -> {"rss": .., "hwm": ..}
    echo "{\"rss_bytes\": $(proc_field_kb "$1" VmRSS), \"hwm_bytes\": $(proc_field_kb "$1" VmHWM)}"
}

if phase_enabled ingest; then
    echo "bench: ingest, ${DURATION}s x $ROUNDS rounds per gateway, $CONNECTIONS connections"
    start_both ingest
    check_push gravel "$GRAVEL_PORT"
    check_push pushgateway "$PGW_PORT"
    ingest_runs ingest "$ROUNDS"
    rss_json "$GRAVEL_PID" >"$WORK/ingest-gravel-rss.json"
    rss_json "$PGW_PID" >"$WORK/ingest-pushgateway-rss.json"
    curl -s --max-time 30 "http://127.0.0.1:$GRAVEL_PORT/metrics" >"$WORK/ingest-gravel-scrape.txt"
    curl -s --max-time 30 "http://127.0.0.1:$PGW_PORT/metrics" >"$WORK/ingest-pushgateway-scrape.txt"
    stop_both
fi

# --- stored: ingest with 1k and 100k series already in other groups ----------
preload() {  # preload PORT GROUPS LABEL
    timeout 900 python3 "$ROOT/scripts/bench/load.py" --port "$1" --body "$WORK/scrape-group.txt" \
        --job preload --groups "$2" --concurrency 2 >"$WORK/$3.json"
}

if phase_enabled stored; then
    for level in 1k:1 100k:$STORED_LARGE_GROUPS; do
        label=stored-${level%%:*}; groups=${level##*:}
        echo "bench: ingest with $((groups * SERIES_PER_GROUP)) series stored"
        start_both "$label"
        preload "$GRAVEL_PORT" "$groups" "$label-gravel-preload"
        preload "$PGW_PORT" "$groups" "$label-pushgateway-preload"
        check_push gravel "$GRAVEL_PORT"
        check_push pushgateway "$PGW_PORT"
        ingest_runs "$label" "$ROUNDS"
        stop_both
    done
fi

# --- scrape: 1,000,000 series, one gateway at a time -------------------------
# The Pushgateway checks every push against everything it stores, so loading grows with
# the square of the series (here 100,000 took 8-13 s, 200,000 took 42 s; 1,000,000 would
# take about 17 minutes). For this phase it runs with --push.disable-consistency-check,
# which changes only the push path: the scrape and the memory it holds are the same.
# BENCH_PGW_CHECK=1 keeps the check.
PGW_SCRAPE_ARGS=(--push.disable-consistency-check)
[ "${BENCH_PGW_CHECK:-0}" = 1 ] && PGW_SCRAPE_ARGS=()
if phase_enabled scrape; then
    for name in gravel pushgateway; do
        echo "bench: scrape, $name: loading $((SCRAPE_GROUPS * SERIES_PER_GROUP)) series"
        if [ "$name" = pushgateway ]; then
            start_gateway "$name" "$WORK/$name-scrape.log" "${PGW_SCRAPE_ARGS[@]+"${PGW_SCRAPE_ARGS[@]}"}"
        else
            start_gateway "$name" "$WORK/$name-scrape.log"
        fi
        sleep 1
        rss_json "$GW_PID" >"$WORK/scrape-$name-rss-idle.json"
        preload_out="$WORK/scrape-$name-load.json"
        timeout 1800 python3 "$ROOT/scripts/bench/load.py" --port "$GW_PORT" --body "$WORK/scrape-group.txt" \
            --job scrape --groups "$SCRAPE_GROUPS" --concurrency 2 >"$preload_out"
        sleep 2
        rss_json "$GW_PID" >"$WORK/scrape-$name-rss-loaded.json"
        phase_load_begin "$GW_PID"
        # One cold scrape (saved, to count the series), then three timed ones.
        curl -s --max-time 300 -o "$WORK/scrape-$name.txt" -w '%{time_total} %{size_download}\n' \
            "http://127.0.0.1:$GW_PORT/metrics" >"$WORK/scrape-$name-cold.txt"
        : >"$WORK/scrape-$name-times.txt"
        for i in 1 2 3; do
            curl -s --max-time 300 -o /dev/null -w '%{time_total} %{size_download}\n' \
                "http://127.0.0.1:$GW_PORT/metrics" >>"$WORK/scrape-$name-times.txt"
        done
        phase_load_end "scrape-$name" "$GW_PID"
        rss_json "$GW_PID" >"$WORK/scrape-$name-rss-scraped.json"
        grep -c -v '^#' "$WORK/scrape-$name.txt" >"$WORK/scrape-$name-lines.txt" || true
        grep -c '^load_' "$WORK/scrape-$name.txt" >"$WORK/scrape-$name-series.txt" || true
        rm -f "$WORK/scrape-$name.txt"
        echo "bench:   $name: load $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$preload_out") s, scrape times (s, bytes): $(tr '\n' ' ' <"$WORK/scrape-$name-times.txt")"
        stop "$GW_PID"
    done
fi

# --- scrape memory: four concurrent scrapes of the loaded store -------------------
if phase_enabled scrapemem; then
    echo "bench: scrape memory ($SCRAPE_GROUPS groups, 4 concurrent scrapes)"
    timeout 1800 python3 "$ROOT/scripts/bench/scrape_memory.py" --bin "$BIN" --groups "$SCRAPE_GROUPS" \
        --body "$WORK/scrape-group.txt" --scrapers 4 >"$WORK/scrapemem.json" || echo '{"error": "scrape_memory.py failed"}' >"$WORK/scrapemem.json"
fi

# --- durability: --data-dir ingest and time to ready (scripts/bench/durability.sh) --
if phase_enabled durability; then
    echo "bench: durability (scripts/bench/durability.sh)"
    timeout 1800 bash "$ROOT/scripts/bench/durability.sh" "$BIN" >"$WORK/durability.log" 2>&1 \
        || echo "bench: durability.sh failed (see ${WORK#"$ROOT"/}/durability.log)" >&2
fi

# --- cluster: three nodes behind nginx against one node alone ------------------------
if phase_enabled cluster; then
    echo "bench: cluster (scripts/bench/cluster.py)"
    BENCH_QUICK="$QUICK" timeout 1800 python3 "$ROOT/scripts/bench/cluster.py" --bin "$BIN" --body "$WORK/push.txt" \
        --out "$WORK/cluster.json" >"$WORK/cluster.log" 2>&1 || echo "bench: cluster.py failed (see ${WORK#"$ROOT"/}/cluster.log)" >&2
fi

# --- extension ---------------------------------------------------------------
if phase_enabled extension && [ -f scripts/bench-extension.sh ]; then
    echo "bench: extension (scripts/bench-extension.sh)"
    if GRAVEL_BIN_DIR="$BIN" BENCH_QUICK="$QUICK" timeout 1800 bash scripts/bench-extension.sh "$WORK/extension.json" \
        >"$WORK/extension.stdout" 2>"$WORK/extension.log"; then
        [ -s "$WORK/extension.json" ] || cp "$WORK/extension.stdout" "$WORK/extension.json"
    else
        echo "bench: scripts/bench-extension.sh failed (see ${WORK#"$ROOT"/}/extension.log)" >&2
        echo '{"error": "scripts/bench-extension.sh failed"}' >"$WORK/extension.json"
    fi
fi

machine_json >"$WORK/machine-end.json"
echo "bench: done in $((SECONDS - START_S)) s"
python3 "$ROOT/scripts/bench/report.py" --work "$WORK" --json "$OUT/results.json" --markdown "$OUT/RESULTS.md"
