#!/bin/bash
# 1 writer -> N readers on one document: delivery latency, and which side spent the CPU.
# usage: fanout.sh BIN_DIR CONNECTIONS RATE LG_THREADS LG_CPUS [server flags]
#   RATE: the writer's edits/s (0 = closed loop); LG_CPUS: taskset list for ringpad-bench
#   ("1", or "0,1" to let --threads 2 use both cores). The server: CPU 0 and one worker unless
#   SERVER_CPUS=0,1 SERVER_THREADS=2.
. "$(dirname "$0")/common.sh"
BIN=$1; N=$2; RATE=$3; LGT=$4; LGCPUS=$5; shift 5
start_server "$BIN" --threads "${SERVER_THREADS:-1}" --fsync interval --max-messages-per-sec 0 "$@" || exit 1
T0=$(server_cpu_ticks)
TIMEFORMAT='%U %S %R'
{ time taskset -c "$LGCPUS" "$BIN/ringpad-bench" --scenario fanout --port "$PORT" --connections "$N" \
    --rate "$RATE" --threads "$LGT" --duration-s 5 --warmup-s 1 --server-pid "$SP" \
    --json "$SCRATCH/f.json" --quiet >/dev/null 2>&1; } 2>"$SCRATCH/time"
TICKS=$(( $(server_cpu_ticks) - T0 ))
stop_server
python3 - "$SCRATCH/f.json" "$TICKS" "$SCRATCH/time" "$N" "$RATE" "$LGT" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); ticks = int(sys.argv[2])
u, s, r = (float(x) for x in open(sys.argv[3]).read().split())
d, a = j['latency_us']['delivery'], j['latency_us']['ack']
print("conns=%s rate=%s lg_threads=%s deliveries/s=%.0f delivery_p50_ms=%.2f p99_ms=%.2f ack_p99_ms=%.2f "
      "server_cpu=%.0f%% lg_cpu=%.0f%% failed=%s" % (sys.argv[4], sys.argv[5], sys.argv[6],
      j['throughput']['ops_delivered_per_s'], d['p50'] / 1000, d['p99'] / 1000, a['p99'] / 1000,
      ticks / r, (u + s) * 100 / r, j['failed']))
PY
