// Convergence: editors running the client state machine edit one document at
// random (emoji, CJK) with random disconnects and reconnects; all end with the
// server's text, and with the text rebuilt from the stored log after a restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from './lib/server.mjs';
import { RpConn, Editor, randomEdit } from './lib/rp-client.mjs';
import { scratchDir, until } from './lib/rp-util.mjs';

function rng(seed) {
    let s = seed >>> 0 || 1;
    return () => { s = (s * 48271) % 2147483647; return s / 2147483647; };
}

async function snapshotText(port, doc) {
    const c = await RpConn.open(port);
    c.send({ type: 'open', doc });
    const s = await c.type('snapshot');
    c.close();
    return s;
}

async function run(t, { threads, editors, ms, doc, seed }) {
    const dir = scratchDir(t);
    let srv = await startServer({ dataDir: dir, threads, historyDepth: 100000 });
    t.after(() => srv.stop());
    const thrown = [];
    const onThrow = (err) => thrown.push(err);
    process.on('uncaughtException', onThrow);
    t.after(() => process.off('uncaughtException', onThrow));
    const rnd = rng(seed);
    const eds = [];
    for (let i = 0; i < editors; i++) {
        const e = new Editor(srv.port, doc, { name: `e${i}` });
        await e.connect();
        eds.push(e);
    }
    const workers = new Set();
    for (const e of eds) workers.add(e.conn.msgs[0].session.split('-')[0]);
    const end = Date.now() + ms;
    let reconnects = 0;
    while (Date.now() < end) {
        for (const e of eds) {
            const r = rnd();
            if (e.conn === null) {
                if (r < 0.3) {
                    await e.connect();
                    workers.add(e.conn.msgs[0].session.split('-')[0]);
                    reconnects++;
                }
                continue;
            }
            if (r < 0.03) { e.disconnect(); continue; }
            if (r < 0.7 && e.ready) e.edit(randomEdit(e.text, rnd));
        }
        await new Promise((r) => setTimeout(r, 5));
    }
    for (const e of eds) if (e.conn === null) await e.connect();
    await until(() => eds.every((e) => e.idle), 15000, 'every edit acked');
    const target = (await snapshotText(srv.port, doc));
    await until(() => eds.every((e) => e.v === target.v), 10000, 'every editor at the server version');
    assert.deepEqual(thrown.map(String), [], 'no ordering violation seen by any client');
    for (const e of eds) assert.equal(e.text, target.text, `${e.name} equals the server`);
    assert.ok(target.v > editors * 5, `enough ops (${target.v})`);
    for (const e of eds) e.disconnect();
    // the stored log replays to the same text
    await srv.stop();
    srv = await startServer({ dataDir: dir, threads, historyDepth: 100000 });
    const again = await snapshotText(srv.port, doc);
    assert.equal(again.v, target.v);
    assert.equal(again.text, target.text);
    return { workers, reconnects, v: target.v };
}

test('8 editors, random edits with emoji/CJK, random disconnects: convergence and log replay', { timeout: 60000 }, async (t) => {
    const r = await run(t, { threads: 1, editors: 8, ms: 3000, doc: 'conv', seed: 7 });
    assert.ok(r.reconnects > 0, 'some editors reconnected');
});

test('--threads 2: editors on both workers converge on one document', { timeout: 60000 }, async (t) => {
    const r = await run(t, { threads: 2, editors: 8, ms: 2000, doc: 'cross/worker', seed: 11 });
    assert.equal(r.workers.size, 2, `connections landed on both workers (${[...r.workers]})`);
});
