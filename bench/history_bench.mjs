#!/usr/bin/env node
// The history figures: `?v=N` latency at random versions on a long document
// (its files written directly in the store's format, a checkpoint every
// 1000 ops, as the server writes them), and the disk bytes per op of a
// document the server itself wrote through REST.
//
//   node bench/history_bench.mjs <ringpad-binary> [ops=1000000] [requests=1000]
//
// Prints medians of 3 runs of the request loop (p50, p99, max in ms) and
// the bytes per op. Build the server first: ./zigw build (ReleaseSafe).
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeDoc } from '../tests/integration/lib/store-writer.mjs';

const [bin, opsArg = '1000000', reqArg = '1000'] = process.argv.slice(2);
if (!bin) {
    console.error('usage: node bench/history_bench.mjs <ringpad-binary> [ops] [requests]');
    process.exit(2);
}
const COUNT_OPS = Number(opsArg), REQUESTS = Number(reqArg), EVERY = 1000;
let seed = 42;
const rnd = (n) => { seed = (seed * 1664525 + 1013904223) >>> 0; return Math.floor((seed / 2 ** 32) * n); };

function buildOps() {
    let text = '';
    const ops = [], texts = [''];
    let time = Date.UTC(2026, 0, 1);
    for (let v = 0; v < COUNT_OPS; v++) {
        const len = text.length, pos = rnd(len + 1);
        const del = len > 20000 && len - pos > 0 ? 1 + rnd(Math.min(8, len - pos)) : 0;
        const ins = del && rnd(2) ? '' : 'abcdefgh'.slice(0, 1 + rnd(8));
        const op = [];
        if (pos) op.push(pos);
        if (ins) op.push(ins);
        if (del) op.push(-del);
        if (len - pos - del) op.push(len - pos - del);
        time += 500;
        ops.push({ v, time, id: `b:${v}`, by: `user${v % 4}`, op });
        text = text.slice(0, pos) + ins + text.slice(pos + del);
        if ((v + 1) % EVERY === 0) texts.push(text);
    }
    return { ops, texts, text };
}

process.env.RINGPAD_BIN = path.resolve(bin);
const { startServer } = await import('../tests/integration/lib/server.mjs');

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dir = mkdtempSync(path.join(tmpdir(), 'ringpad-hbench-'));
try {
    let t0 = Date.now();
    const { ops, texts, text } = buildOps();
    writeDoc(dir, 'long', ops, EVERY, texts);
    console.log(`wrote ${COUNT_OPS} ops (text ${text.length} chars) in ${Date.now() - t0} ms`);
    const srv = await startServer({ dataDir: dir });
    t0 = Date.now();
    const first = await (await fetch(`http://127.0.0.1:${srv.port}/api/docs/long`)).json();
    if (first.v !== COUNT_OPS || first.text !== text) throw new Error('the server does not see the document');
    console.log(`first load: ${Date.now() - t0} ms`);
    const runs = [];
    for (let run = 0; run < 3; run++) {
        const lat = [];
        for (let i = 0; i < REQUESTS; i++) {
            const v = rnd(COUNT_OPS);
            const s = process.hrtime.bigint();
            const r = await fetch(`http://127.0.0.1:${srv.port}/api/docs/long?v=${v}`);
            await r.arrayBuffer();
            lat.push(Number(process.hrtime.bigint() - s) / 1e6);
            if (r.status !== 200) throw new Error(`?v=${v}: ${r.status}`);
        }
        lat.sort((a, b) => a - b);
        runs.push({ p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1] });
    }
    const f = (x) => x.toFixed(2);
    console.log(`?v=N over ${COUNT_OPS} ops, ${REQUESTS} random versions x 3 runs: ` +
        `p50 ${f(median(runs.map((r) => r.p50)))} ms, p99 ${f(median(runs.map((r) => r.p99)))} ms, ` +
        `max ${f(median(runs.map((r) => r.max)))} ms (medians of the runs)`);
    await srv.stop();

    // disk bytes per op, as the server writes them (REST, small inserts, default checkpoints)
    const wdir = mkdtempSync(path.join(tmpdir(), 'ringpad-hbench-w-'));
    const w = await startServer({ dataDir: wdir, fsync: 'interval', closeTimeoutMs: 40 });
    const N = 20000;
    for (let v = 0; v < N; v++) {
        const body = JSON.stringify({ v, id: `w:${v}`, op: v === 0 ? ['ab'] : [v * 2, 'ab'] });
        const r = await fetch(`http://127.0.0.1:${w.port}/api/docs/w/ops`, { method: 'POST', body });
        await r.arrayBuffer();
    }
    await new Promise((r) => setTimeout(r, 1500));
    await w.stop();
    let log = 0, ckpt = 0;
    for (const name of readdirSync(path.join(wdir, 'w'))) {
        const size = statSync(path.join(wdir, 'w', name)).size;
        if (name.startsWith('log.')) log += size;
        if (name.startsWith('ckpt.')) ckpt += size;
    }
    console.log(`disk per op (${N} ops of 2 chars through REST, text ${2 * N} bytes): log ${f(log / N)} B/op, ` +
        `checkpoints ${f(ckpt / N)} B/op, total ${f((log + ckpt) / N)} B/op`);
    rmSync(wdir, { recursive: true, force: true });
} finally {
    rmSync(dir, { recursive: true, force: true });
}
