#!/usr/bin/env node
// RSS per small op while it is in a document's history: one writer sends N
// small ops (1..8 characters inserted, or 1..8 deleted, with a session's id)
// to one document, each on the previous ack, with a history deep enough to
// keep them all; the server's VmRSS after the first WARMUP ops and after all
// of them gives bytes per op. A figure, not a test (bench/RESULTS.md).
//   node bench/history_rss.mjs <ringpad binary> [ops] [extra server flags...]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const [bin, opsArg, ...extra] = process.argv.slice(2);
if (!bin) {
    console.error('usage: node bench/history_rss.mjs <ringpad binary> [ops] [server flags...]');
    process.exit(2);
}
process.env.RINGPAD_BIN = path.resolve(bin);
const { startServer } = await import('../tests/integration/lib/server.mjs');
const { RpConn } = await import('../tests/integration/lib/rp-client.mjs');

const OPS = Number(opsArg ?? 100000);
const WARMUP = 2000;
const dataDir = mkdtempSync(path.join(tmpdir(), 'ringpad-histrss-'));
const flags = { dataDir, fsync: 'interval', historyDepth: Math.min(OPS + WARMUP, 1000000), docIdleMs: 600000, maxMessagesPerSec: 0 };
for (let i = 0; i + 1 < extra.length; i += 2) flags[extra[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = extra[i + 1];
const srv = await startServer(flags);
let rng = 0x2545f491;
const below = (n) => { rng ^= rng << 13; rng >>>= 0; rng ^= rng >>> 17; rng ^= rng << 5; rng >>>= 0; return rng % n; };
try {
    const rssStart = srv.rssKb();
    const c = await RpConn.open(srv.port);
    c.send({ type: 'hello', name: 'w' });
    c.send({ type: 'open', doc: 'hist' });
    const snap = await c.type('snapshot', 5000);
    let v = snap.v;
    let len = [...snap.text].length;
    let rssWarm = 0;
    for (let i = 0; i < OPS + WARMUP; i++) {
        if (i === WARMUP) rssWarm = srv.rssKb();
        const k = 1 + below(8);
        let op;
        if (len > 64 && below(3) === 0) {
            const pos = below(len - k);
            op = [pos, -k, len - pos - k].filter((x) => x !== 0);
            len -= k;
        } else {
            const pos = below(len + 1);
            op = [pos, 'abcdefgh'.slice(0, k), len - pos].filter((x) => x !== 0);
            len += k;
        }
        const id = `k3J9x0QpL2mZ7vTa:${i}`;
        c.send({ type: 'op', doc: 'hist', v, id, op });
        const m = await c.next((x) => (x.type === 'ack' && x.id === id) || x.type === 'error', 10000, `ack ${id}`);
        if (m.type !== 'ack') throw new Error(JSON.stringify(m));
        v += 1;
        c.msgs.length = 0; c.seen = 0;
    }
    const rssEnd = srv.rssKb();
    // The first figure leaves out what a document allocates up front for its
    // history; the second counts everything from before the document existed.
    console.log(`${path.basename(bin)}: ${OPS} small ops in history: RSS ${rssStart} kB (no document), ` +
        `${rssWarm} kB (after ${WARMUP} ops) -> ${rssEnd} kB: ${((rssEnd - rssWarm) * 1024 / OPS).toFixed(0)} B per op ` +
        `(${((rssEnd - rssStart) * 1024 / (OPS + WARMUP)).toFixed(0)} B per op with the document's fixed part)`);
    c.close();
} finally {
    await srv.stop();
    rmSync(dataDir, { recursive: true, force: true });
}
