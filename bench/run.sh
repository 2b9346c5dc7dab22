#!/usr/bin/env bash
# bench/run.sh: ringpad against the peers (ShareDB, a plain ws relay) on the
# same scenarios with the same load generator, side by side.
#
#   bench/run.sh [--scenarios "docs hot@100 fanout@1000"] [--targets "ringpad sharedb ws-relay"]
#                [--fsync-always-in "docs"] [--threads2-in "docs echo"] [--relay-in "docs ..."]
#                [--duration SECONDS] [--repeat N] [--out DIR] [--no-build]
#                [--before-bin PATH]
#
# Scenarios: a ringpad-bench --scenario name, then optionally @N for
#   --connections N and :R for an open loop at --rate R edits/s (docs@100:5000).
# Targets: ringpad (--threads 1, --fsync interval), sharedb, ws-relay. The
#   --threads2-in scenarios also run ringpad-threads2 (--threads 2, not pinned,
#   so it shares CPU 1 with the load generator). The --fsync-always-in scenarios also run
#   ringpad-fsync-always (each ack after an fsync; the peers keep everything in
#   memory and never fsync). The relay does not transform, so with several
#   writers per document its clients diverge at the first concurrent edit: it
#   runs only in the --relay-in scenarios (one writer, transport, connections;
#   and docs, to show the divergence).
# --before-bin PATH adds the target ringpad-before: another ringpad binary (an
#   older commit built with -Doptimize=ReleaseFast --prefix DIR) started exactly
#   like ringpad, interleaved with it, for before/after figures of one run.
# --repeat N (default 2) runs each scenario N times with the targets
#   interleaved; the report gives medians and the spread of the headline figure.
# Defaults take about 10 minutes on 2 cores.
#
# Builds ReleaseFast, then for each scenario runs each target in turn: the
# server pinned to CPU 0, ringpad-bench pinned to CPU 1 (when there are two
# CPUs), both on 127.0.0.1 only. Every run is bounded by `timeout`; every
# process started here is stopped by pid on exit. Results in DIR (default
# bench/results/<time>/): <scenario>-<target>.r<N>.json (ringpad-bench --json)
# and .meta.json (CPU, RSS, load average), logs/, and summary.md (the tables
# with the ratios ringpad / peer, also printed).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SCENARIOS_WANTED="docs docs:4000 docs:12000 hot@10 hot@100 hot@1000 fanout@1000 paste storm echo idle@10000"
TARGETS="ringpad sharedb ws-relay"
FSYNC_ALWAYS_IN="docs"
THREADS2_IN="docs echo"
RELAY_IN="docs fanout@1000 storm echo idle@10000"
DURATION_S=5
REPEAT=2
OUT="bench/results/$(date -u +%Y%m%dT%H%M%SZ)"
BUILD=1
BEFORE_BIN=""
SERVER_START_TIMEOUT_S=15
RUN_SLACK_S=60          # a run may take this much longer than --duration before it is killed
SERVER_STOP_TIMEOUT_S=10

die() { echo "bench/run.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --scenarios) SCENARIOS_WANTED="$2"; shift 2 ;;
        --targets) TARGETS="$2"; shift 2 ;;
        --fsync-always-in) FSYNC_ALWAYS_IN="$2"; shift 2 ;;
        --threads2-in) THREADS2_IN="$2"; shift 2 ;;
        --relay-in) RELAY_IN="$2"; shift 2 ;;
        --duration) DURATION_S="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --before-bin) BEFORE_BIN="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
case "$DURATION_S" in ''|*[!0-9]*) die "--duration must be whole seconds" ;; esac
[ "$DURATION_S" -ge 1 ] && [ "$DURATION_S" -le 120 ] || die "--duration must be 1..120 s"
case "$REPEAT" in ''|*[!0-9]*) die "--repeat must be a whole number" ;; esac
[ "$REPEAT" -ge 1 ] && [ "$REPEAT" -le 9 ] || die "--repeat must be 1..9"

# ---- everything started here is stopped here ------------------------------------
PIDS=()
stop_pid() {
    local pid="$1" waited=0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((SERVER_STOP_TIMEOUT_S * 10)) ]; do
        sleep 0.1; waited=$((waited + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local pid
    for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && stop_pid "$pid"; done
    [ -n "${DATA_DIR:-}" ] && rm -rf "$DATA_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- prerequisites ----------------------------------------------------------------
command -v node >/dev/null || die "node is required for the peers (apt-get install nodejs npm)"
command -v curl >/dev/null || die "curl is required (readiness checks)"
if [ "$BUILD" = 1 ]; then
    echo "== ./zigw build install tools -Doptimize=ReleaseFast"
    ./zigw build install tools -Doptimize=ReleaseFast
fi
BENCH=zig-out/bin/ringpad-bench
SERVER=zig-out/bin/ringpad
[ -x "$BENCH" ] || die "$BENCH was not built: the load generator (bench/loadgen/main.c) is not in this tree yet. Nothing was measured."
[ -x "$SERVER" ] || die "$SERVER was not built. Nothing was measured."
if [ -n "$BEFORE_BIN" ]; then
    [ -x "$BEFORE_BIN" ] || die "--before-bin $BEFORE_BIN is not an executable ringpad"
    TARGETS="${TARGETS/ringpad/ringpad ringpad-before}"
fi

if [ ! -d bench/peers/node_modules ] || [ bench/peers/package-lock.json -nt bench/peers/node_modules/.package-lock.json ]; then
    echo "== npm ci (bench/peers)"
    (cd bench/peers && npm ci --no-audit --no-fund --loglevel=error)
fi

HELP="$("$BENCH" --help 2>&1 || true)"
bench_has() { grep -q -- "$1" <<<"$HELP"; }
SCENARIOS=""
for s in $SCENARIOS_WANTED; do
    name="${s%%[@:]*}"
    if grep -Eq "^ *--scenario .*(^|[^a-z])$name([^a-z]|$)" <<<"$HELP"; then SCENARIOS="$SCENARIOS $s"
    else echo "(ringpad-bench --help does not list scenario '$name': skipped)"; fi
done
[ -n "$SCENARIOS" ] || die "none of the scenarios ($SCENARIOS_WANTED) is implemented by $BENCH"

CPUS=$(nproc)
if command -v taskset >/dev/null && [ "$CPUS" -ge 2 ]; then
    PIN_SERVER=(taskset -c 0); PIN_CLIENT=(taskset -c 1)
else
    PIN_SERVER=(); PIN_CLIENT=()
    echo "(fewer than 2 CPUs or no taskset: server and load generator share CPUs)"
fi

mkdir -p "$OUT/logs"
DATA_DIR="$(mktemp -d /tmp/ringpad-bench-data.XXXXXX)"

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# start_target NAME PORT LOG -> sets SERVER_PID
start_target() {
    local name="$1" port="$2" log="$3"
    case "$name" in
        ringpad|ringpad-before|ringpad-fsync-always|ringpad-threads2)
            local fsync=interval threads=1 pin=("${PIN_SERVER[@]}") bin="$SERVER"
            [ "$name" = ringpad-before ] && bin="$BEFORE_BIN"
            [ "$name" = ringpad-fsync-always ] && fsync=always
            # Two workers need both CPUs: this one shares CPU 1 with the load generator.
            [ "$name" = ringpad-threads2 ] && threads=2 && pin=()
            rm -rf "${DATA_DIR:?}/$name"
            # --history-depth: with 1,000 editors in a closed loop a client's base
            # falls ~1,000 versions behind; ShareDB (in memory) keeps all history.
            "${pin[@]}" "$bin" --host 127.0.0.1 --port "$port" --threads "$threads" \
                --data-dir "$DATA_DIR/$name" --fsync "$fsync" --history-depth 20000 \
                --max-messages-per-sec 0 --max-connections 1000000 --enable-echo --log-level warn \
                >"$log" 2>&1 &
            ;;
        sharedb)
            "${PIN_SERVER[@]}" node bench/peers/sharedb/server.mjs --port "$port" >"$log" 2>&1 & ;;
        ws-relay)
            "${PIN_SERVER[@]}" node bench/peers/ws-relay/server.mjs --port "$port" >"$log" 2>&1 & ;;
        *) die "unknown target $name" ;;
    esac
    SERVER_PID=$!
    PIDS=("$SERVER_PID")   # one server at a time; cleared once it is stopped
    local waited=0
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; die "$name exited during startup"; }
        [ "$waited" -lt $((SERVER_START_TIMEOUT_S * 10)) ] || die "$name not ready after ${SERVER_START_TIMEOUT_S}s"
        sleep 0.1; waited=$((waited + 1))
    done
}

server_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# utime + stime of a process (all its threads), in clock ticks
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0; }
CLK_TCK="$(getconf CLK_TCK)"

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "== machine: $(nproc) CPUs, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'), $(uname -sr), node $(node --version)"
echo "== results in $OUT"
DURATION_ARGS=()
bench_has "--duration-s" && DURATION_ARGS=(--duration-s "$DURATION_S")

run_one() { # scenario name target rep extra-args...
    local scenario="$1" name="$2" target="$3" rep="$4"; shift 4
    local id="$scenario-$target.r$rep" port log json rc=0 load_before srv_t0 srv_t1 t0_ns wall_ms
    local srv_cpu_pct cli_cpu_pct rss args
    port="$(free_port)"
    log="$OUT/logs/$id.log"
    json="$OUT/$id.json"
    echo "-- $scenario / $target / run $rep of $REPEAT (port $port)"
    load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
    start_target "$target" "$port" "$log"
    args=("${DURATION_ARGS[@]}" "$@")
    [ "$name" = idle ] && bench_has "--server-pid" && args+=(--server-pid "$SERVER_PID")
    # CPU used by each side over the whole run (connect + warm-up + window +
    # drain): which of the two was saturated is what limits the figure.
    srv_t0="$(cpu_ticks "$SERVER_PID")"
    t0_ns="$(date +%s%N)"
    TIMEFORMAT='%U %S'
    { time "${PIN_CLIENT[@]}" timeout --signal=INT --kill-after=5 $((DURATION_S + RUN_SLACK_S)) \
        "$BENCH" --scenario "$name" --host 127.0.0.1 --port "$port" "${args[@]}" \
        --quiet --json "$json" >"$OUT/logs/$id.bench.txt" 2>&1 || rc=$?; } \
        2>"$OUT/logs/$id.time"
    wall_ms=$(( ($(date +%s%N) - t0_ns) / 1000000 ))
    srv_t1="$(cpu_ticks "$SERVER_PID")"
    srv_cpu_pct=$(( (srv_t1 - srv_t0) * 100000 / CLK_TCK / (wall_ms > 0 ? wall_ms : 1) ))
    cli_cpu_pct="$(awk -v w="$wall_ms" '{printf "%d", ($1 + $2) * 100000 / (w > 0 ? w : 1)}' "$OUT/logs/$id.time")"
    rss="$(server_rss_kb "$SERVER_PID")"
    stop_pid "$SERVER_PID"
    PIDS=()
    printf '{"scenario":"%s","target":"%s","rep":%d,"exit":%d,"server_rss_kb":%d,"loadavg_before":"%s","wall_ms":%d,"server_cpu_pct":%d,"client_cpu_pct":%d}\n' \
        "$scenario" "$target" "$rep" "$rc" "${rss:-0}" "$load_before" "$wall_ms" "$srv_cpu_pct" "${cli_cpu_pct:-0}" \
        >"$OUT/$id.meta.json"
    echo "$id" >>"$OUT/order.txt"
    [ "$rc" = 0 ] || echo "   ringpad-bench exited $rc (see $OUT/logs/$id.bench.txt)"
}

for scenario in $SCENARIOS; do
    name="${scenario%%[@:]*}"
    extra=()
    case "$scenario" in *@*) conns="${scenario#*@}"; extra+=(--connections "${conns%%:*}") ;; esac
    case "$scenario" in *:*) extra+=(--rate "${scenario##*:}") ;; esac
    targets="$TARGETS"
    for s in $FSYNC_ALWAYS_IN; do
        [ "$s" = "$scenario" ] && targets="${targets/ringpad/ringpad ringpad-fsync-always}"
    done
    for s in $THREADS2_IN; do
        [ "$s" = "$scenario" ] && targets="${targets/ringpad/ringpad ringpad-threads2}"
    done
    relay_here=0
    for s in $RELAY_IN; do [ "$s" = "$scenario" ] && relay_here=1; done
    [ "$relay_here" = 1 ] || targets="$(tr ' ' '\n' <<<"$targets" | grep -vx ws-relay | tr '\n' ' ')"
    # Repeats interleave the targets, so a change in the machine's other load
    # hits all of them rather than one.
    for rep in $(seq 1 "$REPEAT"); do
        for target in $targets; do
            run_one "$scenario" "$name" "$target" "$rep" "${extra[@]}"
        done
    done
done

node bench/peers/report.mjs "$OUT" | tee "$OUT/summary.md"
