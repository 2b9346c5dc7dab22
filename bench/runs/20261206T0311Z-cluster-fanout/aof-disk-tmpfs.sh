#!/bin/sh
# Three rounds of the fan-out with Redis's AOF on the disk (four modes), then on
# tmpfs (the two cluster modes): how much of the cluster's latency is the AOF's fsync.
#   sh aof-disk-tmpfs.sh <bin dir> <out dir> 2> runs-aof-disk-tmpfs.log
#   node aof-disk-tmpfs-medians.mjs runs-aof-disk-tmpfs.log
set -u
bin=$1
out=$2
mkdir -p "$out"
for r in 1 2 3; do
  echo "== round $r disk" >&2
  timeout 600 node bench/cluster_bench.mjs "$bin" --repeat 1 --duration 5 --readers 1500 --only cfanout \
     --modes single-interval,single-always,cluster-3,cluster-3-3 --out "$out/json-disk-$r" > "$out/disk-$r.out"
  echo "== round $r tmpfs" >&2
  timeout 600 node bench/cluster_bench.mjs "$bin" --repeat 1 --duration 5 --readers 1500 --only cfanout \
     --modes cluster-3,cluster-3-3 --redis-dir-under /dev/shm --out "$out/json-shm-$r" > "$out/shm-$r.out"
done
echo done >&2
