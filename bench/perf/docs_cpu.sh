#!/bin/bash
# User and kernel CPU of the server per acked op in the `docs` closed loop: the
# server pinned to CPU 0 (--threads 1 --fsync interval, as bench/run.sh starts
# it), ringpad-bench pinned to CPU 1. utime/stime from /proc/PID/stat and
# ringpad_ops_applied_total are sampled twice inside the measured window.
# usage: [PERF_OUT=FILE] [BENCH=ringpad-bench] docs_cpu.sh BIN_DIR [server flags]
#   PERF_OUT: also `perf record -g -e cpu-clock` the server over the same window.
. "$(dirname "$0")/common.sh"
BIN=$1; shift
start_server "$BIN" --threads 1 --fsync interval --history-depth 20000 --max-messages-per-sec 0 "$@" || exit 1
taskset -c 1 "${BENCH:-$BIN/ringpad-bench}" --scenario docs --port "$PORT" --duration-s 8 --warmup-s 1 \
    --json "$SCRATCH/d.json" --quiet >/dev/null 2>&1 &
LG=$!
sleep 2.5
stat_ut() { sed 's/.*) //' "/proc/$SP/stat" | awk '{print $12, $13}'; }
read -r U0 S0 < <(stat_ut); O0=$(metric ringpad_ops_applied_total); T0=$(date +%s.%N)
if [ -n "${PERF_OUT:-}" ]; then
    perf record -q -g -e cpu-clock -p "$SP" -o "$PERF_OUT" -- sleep 5 >/dev/null 2>&1
else
    sleep 5
fi
read -r U1 S1 < <(stat_ut); O1=$(metric ringpad_ops_applied_total); T1=$(date +%s.%N)
wait "$LG"; RC=$?
stop_server
python3 - "$U0" "$S0" "$O0" "$T0" "$U1" "$S1" "$O1" "$T1" "$RC" "$(getconf CLK_TCK)" <<'PY'
import sys
u0, s0, o0, t0, u1, s1, o1, t1, rc, tck = (float(x) for x in sys.argv[1:])
ops = max(1.0, o1 - o0)
print("user_us_per_op=%.2f sys_us_per_op=%.2f ops_per_s=%.0f cpu=%.0f%% bench_rc=%d" % (
    (u1 - u0) / tck * 1e6 / ops, (s1 - s0) / tck * 1e6 / ops, ops / (t1 - t0),
    ((u1 - u0) + (s1 - s0)) / tck / (t1 - t0) * 100, rc))
PY
