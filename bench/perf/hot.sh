#!/bin/bash
# One document, N closed-loop editors: ops/s, p99 ack, server CPU per op.
# usage: hot.sh BIN_DIR EDITORS [server flags]   (1,000 editors want --history-depth 20000)
. "$(dirname "$0")/common.sh"
BIN=$1; N=$2; shift 2
start_server "$BIN" --threads 1 --fsync interval --max-messages-per-sec 0 "$@" || exit 1
taskset -c 1 "$BIN/ringpad-bench" --scenario hot --port "$PORT" --connections "$N" --duration-s 4 \
    --warmup-s 1 --json "$SCRATCH/hot.json" --quiet >/dev/null 2>&1
TICKS=$(server_cpu_ticks); OPS=$(metric ringpad_ops_applied_total)
stop_server
python3 - "$SCRATCH/hot.json" "$TICKS" "$OPS" "$N" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); ticks, ops = int(sys.argv[2]), max(1, int(sys.argv[3]))
print("editors=%s ops/s=%.0f p99_ack_ms=%.1f cpu_us/op=%.1f failed=%s" % (sys.argv[4],
      j['throughput']['ops_acked_per_s'], j['latency_us']['ack']['p99'] / 1000, ticks * 1e4 / ops, j['failed']))
PY
