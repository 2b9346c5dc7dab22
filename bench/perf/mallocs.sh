#!/bin/bash
# libc malloc calls per echoed message once warmed up (a perf uprobe; needs root).
# usage: mallocs.sh BIN_DIR CONNECTIONS
. "$(dirname "$0")/common.sh"
BIN=$1; N=$2
LIBC=$(ldd "$BIN/ringpad" | awk '/libc.so/{print $3}')
perf probe -q -x "$LIBC" malloc 2>/dev/null || true
start_server "$BIN" --threads 1 --enable-echo --max-messages-per-sec 0 || exit 1
echo_run() { taskset -c 1 "$BIN/ringpad-bench" --scenario echo --port "$PORT" --connections "$N" \
    --message-bytes 1024 --duration-s "$1" --warmup-s 0 --quiet >/dev/null 2>&1; }
echo_run 1                                   # warm-up: pools fill
M0=$(metric ringpad_ws_messages_in_total)
perf stat -e probe_libc:malloc -p "$SP" -o "$SCRATCH/stat.txt" -- sleep 3 & PS=$!
sleep 0.2; echo_run 2; wait $PS
M1=$(metric ringpad_ws_messages_in_total)
stop_server
MA=$(awk '/probe_libc:malloc/{gsub(",","",$1); print $1}' "$SCRATCH/stat.txt")
python3 -c "import sys; m=$M1-$M0; print('messages=%d mallocs=%s per_message=%.4f' % (m, '$MA', int('$MA' or 0)/max(1,m)))"
