// Durability: kill -9 under load with --fsync=always loses no acked op; a torn
// log tail is truncated at startup; a corrupt record in the middle of a log
// stops the start with a message naming the file and the offset.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startServer } from './lib/server.mjs';
import { RpConn, Editor, typeAtEnds, collectThrown } from './lib/rp-client.mjs';
import { httpJson, scratchDir, until } from './lib/rp-util.mjs';

function logFile(dir, doc) {
    const d = path.join(dir, doc);
    const segs = readdirSync(d).filter((f) => f.startsWith('log.')).sort();
    return path.join(d, segs[segs.length - 1]);
}

/** Opens `doc` and has five ops acked ("a" then "b"s), ids `<prefix>:<v>`. */
async function fiveOps(port, doc, prefix) {
    const c = await RpConn.open(port);
    c.send({ type: 'open', doc });
    await c.type('snapshot');
    for (let v = 0; v < 5; v++) {
        c.send({ type: 'op', doc, v, id: `${prefix}:${v}`, op: v === 0 ? ['a'] : [v, 'b'] });
        await c.type('ack', 5000, (m) => m.id === `${prefix}:${v}`);
    }
    c.close();
}

async function catchUp(port, doc) {
    const c = await RpConn.open(port);
    c.send({ type: 'open', doc, v: 0 });
    const ops = [];
    const synced = await c.next((m) => { if (m.type === 'op') ops.push(m); return m.type === 'synced' || m.type === 'error'; }, 10000);
    c.close();
    assert.equal(synced.type, 'synced', JSON.stringify(synced));
    return { ops, v: synced.v };
}

test('kill -9 during load with --fsync=always: every acked op survives', { timeout: 60000 }, async (t) => {
    const dir = scratchDir(t);
    const flags = { dataDir: dir, fsync: 'always', historyDepth: 100000 };
    const srv = await startServer(flags);
    t.after(() => srv.stop());
    const eds = [];
    for (let i = 0; i < 4; i++) {
        const e = new Editor(srv.port, 'dur', { name: `k${i}` });
        await e.connect();
        eds.push(e);
    }
    const thrown = collectThrown(t);
    await typeAtEnds(eds, 1200);
    srv.signal('SIGKILL');
    await srv.exited;
    const acked = eds.flatMap((e) => e.acked.map((a) => a.id));
    assert.ok(acked.length > 20, `acked ${acked.length} ops before the kill`);
    for (const e of eds) e.disconnect();
    const again = await startServer(flags);
    t.after(() => again.stop());
    const { ops } = await catchUp(again.port, 'dur');
    const ids = new Set(ops.map((m) => m.id));
    const lost = acked.filter((id) => !ids.has(id));
    assert.deepEqual(lost, [], 'acked ops missing after the restart');
    assert.deepEqual(thrown.map(String), []);
});

test('a torn log tail is truncated at startup and logged', { timeout: 30000 }, async (t) => {
    const dir = scratchDir(t);
    const srv = await startServer({ dataDir: dir });
    await fiveOps(srv.port, 'torn', 't');
    // A crash tears a write: the server never finished (a clean stop records
    // the version reached, and then a shortened log is a loss, not a tear).
    srv.signal('SIGKILL');
    await srv.exited;
    const f = logFile(dir, 'torn');
    truncateSync(f, statSync(f).size - 3);   // the last record loses its end
    const again = await startServer({ dataDir: dir });
    t.after(() => again.stop());
    assert.match(again.stderr(), /torn/);
    const { v, ops } = await catchUp(again.port, 'torn');
    assert.equal(v, 4);
    assert.deepEqual(ops.map((m) => m.id), ['t:0', 't:1', 't:2', 't:3']);
});

test('a corrupt record in the middle of a log refuses to start, naming file and offset', { timeout: 30000 }, async (t) => {
    const dir = scratchDir(t);
    const srv = await startServer({ dataDir: dir });
    await fiveOps(srv.port, 'bad', 'b');
    await srv.stop();
    const f = logFile(dir, 'bad');
    const bytes = readFileSync(f);
    bytes[24 + 12 + 3] ^= 0xff;            // inside the first record's payload
    writeFileSync(f, bytes);
    await assert.rejects(startServer({ dataDir: dir }), (err) => {
        assert.match(err.message, /exited before listening \(code 1/);
        assert.match(err.message, /log\.0+/);
        assert.match(err.message, /offset/);
        return true;
    });
    // nothing was changed: the same damage is reported again
    assert.equal(readFileSync(f).length, bytes.length);
});

test('checkpoints: written beside the log, old segments kept, restart recovers text and recent history', { timeout: 30000 }, async (t) => {
    const dir = scratchDir(t);
    const flags = { dataDir: dir, historyDepth: 10, checkpointOps: 50 };
    const srv = await startServer(flags);
    const c = await RpConn.open(srv.port);
    c.send({ type: 'open', doc: 'comp' });
    await c.type('snapshot');
    let text = '';
    for (let v = 0; v < 200; v++) {
        const ch = v % 2 ? '中' : 'a';
        c.send({ type: 'op', doc: 'comp', v, id: `c:${v}`, op: v === 0 ? [ch] : [v, ch] });
        text += ch;
        await c.type('ack', 5000, (m) => m.id === `c:${v}`);
        if (v === 120) await new Promise((r) => setTimeout(r, 600));   // a timer tick compacts
    }
    await new Promise((r) => setTimeout(r, 600));
    c.close();
    const files = readdirSync(path.join(dir, 'comp'));
    assert.ok(files.some((f) => f.startsWith('ckpt.')), `a checkpoint was written: ${files}`);
    assert.ok(files.includes('log.00000000000000000000'), `the first segment was kept: ${files}`);
    await srv.stop();
    const again = await startServer(flags);
    t.after(() => again.stop());
    const d = await RpConn.open(again.port);
    d.send({ type: 'open', doc: 'comp' });
    const s = await d.type('snapshot');
    assert.equal(s.v, 200);
    assert.equal(s.text, text);
    d.send({ type: 'open', doc: 'comp', v: 195 });
    const synced = await d.type('synced');
    assert.equal(synced.v, 200);
    // a WebSocket catches up from the in-memory history only; REST reads the past from the files
    d.send({ type: 'open', doc: 'comp', v: 0 });
    await d.error('version_too_old');
    const old = await httpJson(again.port, 'GET', '/api/docs/comp?v=7');
    assert.deepEqual(old.json, { v: 7, codepoints: 7, doc: 'comp', text: text.slice(0, 7) });
    d.close();
});

test('an emptied active log segment stops the start with the missing range; --accept-data-loss starts and says what is lost', { timeout: 30000 }, async (t) => {
    const dir = scratchDir(t);
    const srv = await startServer({ dataDir: dir });
    await fiveOps(srv.port, 'gone', 'g');
    await srv.stop();
    const seg = logFile(dir, 'gone');
    truncateSync(seg, 0);
    await assert.rejects(startServer({ dataDir: dir }),
        /document gone cannot be recovered: gone: ops \[0, 5\) are missing: the log ends at version 0 but version 5 was reached \(gone\/meta recorded it\)/);
    assert.equal(statSync(seg).size, 0, 'nothing was changed');
    const lossy = await startServer({ dataDir: dir, acceptDataLoss: true });
    t.after(() => lossy.stop());
    assert.match(lossy.stderr(), /document gone: gone: ops \[0, 5\) are lost: .*continues at version 0/);
    const r = await fetch(`http://127.0.0.1:${lossy.port}/api/docs/gone`);
    assert.deepEqual(await r.json(), { v: 0, codepoints: 0, doc: 'gone', text: '' });
    // accepted once: the next start is clean
    await lossy.stop();
    const again = await startServer({ dataDir: dir });
    t.after(() => again.stop());
    assert.doesNotMatch(again.stderr(), /lost|missing/);
});
