#!/bin/bash
# Server RSS per idle /ws connection.  usage: idle.sh BIN_DIR CONNECTIONS THREADS
# (CONNECTIONS is bounded by `ulimit -Hn` of both processes; see docs/server.md)
. "$(dirname "$0")/common.sh"
BIN=$1; N=$2; T=$3
start_server "$BIN" --threads "$T" || exit 1
taskset -c 1 "$BIN/ringpad-bench" --scenario idle --port "$PORT" --connections "$N" --docs 1 \
    --duration-s 2 --warmup-s 0 --server-pid "$SP" --connect-timeout-s 60 --quiet 2>&1 | grep -E "ready|RSS"
stop_server
