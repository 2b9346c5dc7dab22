#!/bin/sh
# Starts a redis-server for a test: loopback, a free port, append-only file
# with appendfsync always, in its own temp dir. Prints "PORT PID DIR" once it
# answers PING. The caller stops it by PID (kill) and removes DIR.
#   redis-server.sh            a new server in a new dir
#   redis-server.sh DIR PORT   again on that dir and port (a restart: the AOF is replayed)
set -u
dir=${1:-}
fixed_port=${2:-}
[ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/ringpad-redis.XXXXXX") || exit 1
for try in 1 2 3 4 5 6 7 8; do
  if [ -n "$fixed_port" ]; then port=$fixed_port
  else port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 )); fi
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync always \
    --save '' --daemonize no --logfile "$dir/redis.log" </dev/null >/dev/null 2>&1 &
  pid=$!
  i=0
  while [ $i -lt 100 ]; do
    if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then echo "$port $pid $dir"; exit 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
    i=$((i + 1))
  done
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done
echo "redis-server did not start (see $dir/redis.log)" >&2
exit 1
