#!/usr/bin/env node
// Document-session load: closed-loop editors (one op in flight each, the next
// sent on its ack) running the client state machine; prints ops/s acknowledged
// and the client-side p50/p99 latency from sending an op to its ack.
//   node bench-session.mjs <ringpad-binary> <docs> <editors-per-doc> <always|interval> [seconds] [threads]
// Not a test (no *.test.mjs): figures for the notes, measured on this machine.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Editor, cpLen } from './lib/rp-client.mjs';

const [bin, docsArg, edArg, fsync = 'always', secArg = '5', threadsArg = '2'] = process.argv.slice(2);
const docs = Number(docsArg), perDoc = Number(edArg), seconds = Number(secArg);
const dir = mkdtempSync(path.join(tmpdir(), 'ringpad-bench-'));
const child = spawn(bin, ['--port', '0', '--threads', threadsArg, '--data-dir', dir, '--fsync', fsync,
    '--max-messages-per-sec', '0', '--max-send-queue-bytes', '64m'], { stdio: ['ignore', 'ignore', 'pipe'] });
let err = '';
const port = await new Promise((resolve, reject) => {
    child.stderr.on('data', (c) => {
        err += c;
        const m = err.match(/listening on http:\/\/[^:]+:(\d+)/);
        if (m) resolve(Number(m[1]));
    });
    child.on('exit', () => reject(new Error(err)));
});

const lat = [];
let acked = 0;
let measuring = false;
const eds = [];
for (let d = 0; d < docs; d++) {
    for (let e = 0; e < perDoc; e++) {
        const ed = new Editor(port, `bench/${d}`, { name: `d${d}e${e}` });
        eds.push(ed);
    }
}
await Promise.all(eds.map((e) => e.connect()));
for (const ed of eds) {
    const send = ed.sendOutstanding.bind(ed);
    ed.sendOutstanding = () => { ed.sentAt = process.hrtime.bigint(); send(); };
    const onAck = ed.onAck.bind(ed);
    ed.onAck = (m) => {
        const was = ed.outstanding && m.id === ed.outstanding.id;
        onAck(m);
        if (!was) return;
        if (measuring) {
            lat.push(Number(process.hrtime.bigint() - ed.sentAt) / 1e6);
            acked++;
        }
        if (ed.idle) setImmediate(() => step(ed));
    };
}
function step(ed) {
    if (!running || !ed.idle) return;
    const n = cpLen(ed.text);
    ed.edit(n > 0 ? [n, 'x'] : ['x']);
}
let running = true;
for (const ed of eds) step(ed);
await new Promise((r) => setTimeout(r, 1000));   // warm-up
measuring = true;
const t0 = Date.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
measuring = false;
running = false;
const secs = (Date.now() - t0) / 1000;
// server-side submit-to-ack latency from the /metrics histogram (whole run, warm-up included)
const metricsText = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
const buckets = [...metricsText.matchAll(/ringpad_ack_latency_seconds_bucket\{le="([^"]+)"\} (\d+)/g)]
    .map((m) => [m[1] === '+Inf' ? Infinity : Number(m[1]) * 1000, Number(m[2])]);
const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
const sq = (p) => { for (const [le, c] of buckets) if (c >= p * total) return le; return NaN; };
lat.sort((a, b) => a - b);
const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
console.log(JSON.stringify({
    docs, editorsPerDoc: perDoc, fsync, threads: Number(threadsArg), seconds: secs,
    opsPerSec: Math.round(acked / secs), p50ms: +q(0.5).toFixed(2), p99ms: +q(0.99).toFixed(2),
    serverP50leMs: sq(0.5), serverP99leMs: sq(0.99),
}));
for (const ed of eds) ed.disconnect();
child.kill('SIGTERM');
await new Promise((r) => child.on('exit', r));
rmSync(dir, { recursive: true, force: true });
process.exit(0);
