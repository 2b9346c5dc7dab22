#!/bin/bash
# Echo throughput and server CPU per message: closed loop, one masked binary message of
# MESSAGE_BYTES (1024) in flight per connection.  usage: [MESSAGE_BYTES=N] echo.sh BIN_DIR CONNECTIONS [server flags]
. "$(dirname "$0")/common.sh"
BIN=$1; N=$2; shift 2
start_server "$BIN" --threads 1 --enable-echo --no-deflate --max-messages-per-sec 0 "$@" || exit 1
taskset -c 1 "$BIN/ringpad-bench" --scenario echo --port "$PORT" --connections "$N" --message-bytes "${MESSAGE_BYTES:-1024}" \
    --duration-s 4 --warmup-s 1 --json "$SCRATCH/echo.json" --quiet >/dev/null 2>&1
TICKS=$(server_cpu_ticks); MSGS=$(metric ringpad_ws_messages_in_total)
stop_server
python3 - "$SCRATCH/echo.json" "$TICKS" "$MSGS" "$N" "${MESSAGE_BYTES:-1024}" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); ticks, msgs = int(sys.argv[2]), max(1, int(sys.argv[3]))
print("conns=%s bytes=%s msg/s=%.0f cpu_us/msg=%.2f" % (sys.argv[4], sys.argv[5], j['throughput']['echoes_per_s'], ticks * 1e4 / msgs))
PY
