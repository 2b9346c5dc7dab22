// Medians per (AOF on disk or tmpfs, mode) of aof-disk-tmpfs.sh's log: node aof-disk-tmpfs-medians.mjs <log>
import { readFileSync } from 'node:fs';
const lines = readFileSync(process.argv[2], 'utf8').split('\n');
let where = '';
const got = {};
for (const l of lines) {
  const h = l.match(/^== round \d+ (\w+)/);
  if (h) { where = h[1]; continue; }
  const m = l.match(/cfanout (\S+) run \d+: load ([\d.]+), (\d+)\/(\d+) delivered, p50 ([\d.]+) p99 ([\d.]+) max ([\d.]+) ms, ack p50 ([\d.]+) p99 ([\d.]+) ms, owner's readers p50\/p99 ([\w.]+)\/([\w.]+), followers' ([\w.]+)\/([\w.]+) ms, Redis RTT mean ([\w.]+) ms .*servers ([\d.]+) ms, ringpad-bench ([\d.]+) ms, Redis fsync >= 1 ms in (\w+) s \(slowest (\w+) ms\)/);
  if (!m) continue;
  const k = `${where} ${m[1]}`;
  (got[k] ??= []).push(m.slice(2).map(Number));
}
const med = (xs) => { const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b); return v.length ? v[Math.floor(v.length / 2)] : NaN; };
const names = ['load', 'delivered', 'want', 'p50', 'p99', 'max', 'ackP50', 'ackP99', 'ownP50', 'ownP99', 'folP50', 'folP99', 'rtt', 'srvCpu', 'genCpu', 'slowS', 'fsyncMax'];
console.log(`| AOF | mode | runs | delivered | p50 | p99 | max | ack p50 / p99 | p50 owner's / followers' | p99 owner's / followers' | Redis RTT mean | slowest fsync (each run) | CPU ms/op servers / bench | load (each) |`);
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const [k, rows] of Object.entries(got)) {
  const col = (n) => rows.map((r) => r[names.indexOf(n)]);
  const f = (n, d = 2) => { const v = med(col(n)); return Number.isNaN(v) ? '-' : v.toFixed(d); };
  const [aof, mode] = k.split(' ');
  console.log(`| ${aof} | ${mode} | ${rows.length} | ${f('delivered', 0)}/${f('want', 0)} | ${f('p50')} | ${f('p99')} | ${f('max', 1)} | ${f('ackP50')} / ${f('ackP99')} | ${f('ownP50')} / ${f('folP50')} | ${f('ownP99')} / ${f('folP99')} | ${f('rtt')} | ${col('fsyncMax').map((x) => Number.isNaN(x) ? '-' : x).join(', ')} | ${f('srvCpu', 1)} / ${f('genCpu', 1)} | ${col('load').join(', ')} |`);
}
