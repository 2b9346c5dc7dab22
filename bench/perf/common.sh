# Shared by the bench/perf scripts: a scratch dir, a random loopback port, and
# the server started pinned to CPU 0 (SERVER_CPUS=0,1 to unpin; the load generator goes to CPU 1).
# Everything started is stopped by the caller's stop_server.
set -u
SCRATCH=$(mktemp -d /tmp/ringpad-perf.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
PORT=$((20000 + RANDOM % 10000))

start_server() {   # start_server BIN_DIR [flags...]  -> sets SP
    local bin=$1; shift
    taskset -c "${SERVER_CPUS:-0}" "$bin/ringpad" --port "$PORT" --data-dir "$SCRATCH/data" --log-level warn "$@" \
        2>>"$SCRATCH/server.log" &
    SP=$!
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0; sleep 0.1; done
    echo "server did not start" >&2; cat "$SCRATCH/server.log" >&2; return 1
}

stop_server() { kill -TERM "$SP" 2>/dev/null; wait "$SP" 2>/dev/null; }

server_cpu_ticks() { awk '{print $14+$15}' "/proc/$SP/stat"; }   # utime+stime, 1/100 s

metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1==m {print $2}'; }
