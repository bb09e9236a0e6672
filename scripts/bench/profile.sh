#!/usr/bin/env bash
# Instruction profiles (valgrind --tool=callgrind) of the hot paths, for bench/PROFILE.md.
#
#   bash scripts/bench/profile.sh [phase ...]
#
# phases: parse merge-insert merge-aggregate render push gateway-push gateway-scrape
#
# callgrind counts instructions, not time, so the numbers repeat on a busy machine.
# gravel-bench phases are profiled alone with --toggle-collect on their @inline(never)
# function; the gateway runs under callgrind with instrumentation switched on only
# while the load runs (callgrind_control -i on).
#
# Needs a release build (swift build -c release --product gravel-bench / gravel-gateway).
# valgrind 3.19 cannot read the DWARF 5 debug info of these binaries, so the profiled
# copies are stripped of debug info: functions are named from the symbol table, without
# source lines. Output: bench/tmp/profile-<stamp>/*.md (the tables) and *.out (callgrind).
#
#   PROFILE_MB=1            MB of exposition for parse and merge
#   PROFILE_SERIES=100000   series for render and gateway-scrape
#   PROFILE_PUSHES=2000     pushes for push and gateway-push
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
PHASES=("$@")
[ "${#PHASES[@]}" -gt 0 ] || PHASES=(parse merge-insert merge-aggregate render push gateway-push gateway-scrape)
MB=${PROFILE_MB:-1}
SERIES=${PROFILE_SERIES:-100000}
PUSHES=${PROFILE_PUSHES:-2000}

BIN=$(swift build -c release --show-bin-path)
# Swift seeds its hash function per process; a fixed seed makes dictionary collisions, and
# so the instruction counts, repeat from run to run.
export SWIFT_DETERMINISTIC_HASHING=1
OUT="$ROOT/bench/tmp/profile-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
objcopy --strip-debug "$BIN/gravel-bench" "$OUT/gravel-bench"
objcopy --strip-debug "$BIN/gravel-gateway" "$OUT/gravel-gateway"
# valgrind 3.19 dies on libdispatch's sigsuspend in the gateway (see vg_sigsuspend.c).
gcc -shared -fPIC -O2 -o "$OUT/vg_sigsuspend.so" "$ROOT/scripts/bench/vg_sigsuspend.c"
"$OUT/gravel-bench" body push >"$OUT/push.txt"
"$OUT/gravel-bench" body scrape --families 10 --per-family 100 >"$OUT/scrape-group.txt"
echo "profile: output in ${OUT#"$ROOT"/}"

symbol() {  # the mangled name of a gravel-bench phase function
    nm "$OUT/gravel-bench" | awk -v f="$1" '$3 ~ "^\\$s11GravelBench[0-9]+" f "_" && !found { print $3; found = 1 }'
}

bench_phase() {  # bench_phase PHASE FUNCTION PER UNIT ARGS...
    local phase=$1 fn=$2 per=$3 unit=$4 sym
    shift 4
    sym=$(symbol "$fn")
    [ -n "$sym" ] || { echo "profile: no symbol for $fn" >&2; return 1; }
    echo "profile: $phase"
    timeout 1800 valgrind --tool=callgrind --callgrind-out-file="$OUT/$phase.out" --toggle-collect="$sym" \
        "$OUT/gravel-bench" profile "$phase" "$@" 2>"$OUT/$phase.valgrind.log"
    python3 "$ROOT/scripts/bench/cg_top.py" "$OUT/$phase.out" --title "$phase" --per "$per" --per-unit "$unit" >"$OUT/$phase.md"
}

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# gateway_phase PHASE PER UNIT: gravel-gateway under callgrind; instrumentation on only
# around the measured load.
gateway_phase() {
    local phase=$1 per=$2 unit=$3 port pid i
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "profile: $phase (gravel-gateway under callgrind, port $port)"
    LD_PRELOAD="$OUT/vg_sigsuspend.so" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/$phase.out" \
        "$OUT/gravel-gateway" -l "127.0.0.1:$port" --max-series 4000000 --log-level warning \
        2>"$OUT/$phase.valgrind.log" &
    pid=$!
    PIDS+=("$pid")
    for i in $(seq 1 600); do
        curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/-/ready" 2>/dev/null && break
        sleep 0.2
    done
    case "$phase" in
        gateway-push)
            # One unmeasured push first: the group and its families exist from then on.
            curl -fsS -o /dev/null -X POST --data-binary @"$OUT/push.txt" "http://127.0.0.1:$port/metrics/job/bench"
            callgrind_control -i on "$pid" >/dev/null
            timeout 1800 python3 "$ROOT/scripts/bench/load.py" --port "$port" --body "$OUT/push.txt" \
                --method POST --path /metrics/job/bench --groups "$PUSHES" --concurrency 4 --timeout 600 >"$OUT/$phase.load.json"
            ;;
        gateway-scrape)
            timeout 1800 python3 "$ROOT/scripts/bench/load.py" --port "$port" --body "$OUT/scrape-group.txt" \
                --job scrape --groups $((SERIES / 1000)) --concurrency 2 --timeout 600 >"$OUT/$phase.load.json"
            # One unmeasured scrape sorts the keys, as any scrape after the first push would.
            curl -fsS -o /dev/null --max-time 600 "http://127.0.0.1:$port/metrics"
            callgrind_control -i on "$pid" >/dev/null
            curl -fsS -o /dev/null --max-time 600 "http://127.0.0.1:$port/metrics"
            ;;
    esac
    callgrind_control -i off "$pid" >/dev/null
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local parts
    case "$phase" in
        gateway-push) parts='HTTP responder, push route=GatewayResponder\.push\(;parse=ExpositionParser\.parse\(;store (lock held)=MetricStore\.push\(;store validate=MetricStore\.validate;store apply=MetricStore\.apply;GroupState.apply=GroupState\.apply\(;grouping key from path=GroupingKey\.init\(path:' ;;
        gateway-scrape) parts='scrape route=GatewayResponder\.scrape\(;store snapshot=MetricStore\.snapshot\(;render=Snapshot\.render\(;ExpositionWriter.writeSeries=ExpositionWriter\.writeSeries;gateway metrics=GatewayMetrics\.render;ByteBuffer copy=ByteBuffer\.init\(bytes' ;;
    esac
    python3 "$ROOT/scripts/bench/cg_top.py" "$OUT/$phase.out" --title "$phase" --per "$per" --per-unit "$unit" \
        --inclusive-top 0 --components "$parts" >"$OUT/$phase.md"
}

for phase in "${PHASES[@]}"; do
    case "$phase" in
        parse) bench_phase parse phaseParse "$MB" MB --mb "$MB" ;;
        merge-insert | merge-aggregate) bench_phase "$phase" phaseMerge "$MB" "MB of parsed exposition" --mb "$MB" ;;
        render) bench_phase render phaseRender "$SERIES" series --render-series "$SERIES" ;;
        push) bench_phase push phasePush "$PUSHES" push --pushes "$PUSHES" ;;
        gateway-push) gateway_phase gateway-push "$PUSHES" push ;;
        gateway-scrape) gateway_phase gateway-scrape "$SERIES" series ;;
        *) echo "profile: unknown phase $phase" >&2; exit 2 ;;
    esac
done
cat "$OUT"/*.md >"$OUT/all.md"
echo "profile: tables in ${OUT#"$ROOT"/}/all.md"
