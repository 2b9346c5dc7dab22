// Storage faults injected at named points (RINGPAD_STORE_FAULTS, see
// src/store_faults.h): a crash (_exit, like a power cut) at every log write,
// log fsync, torn write, compaction segment and snapshot point, then a
// restart: every acked op is there, in order, and nothing that was never
// sent; and I/O failures (EIO, ENOSPC, short writes) at the log write and
// fsync: no ack until the data is durable, every op lands exactly once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sleep, startServer, within } from './lib/server.mjs';
import { RpConn } from './lib/rp-client.mjs';
import { scratchDir } from './lib/rp-util.mjs';

const CRASH_EXIT = 86;
const DOC = 'f';
// With --history-depth 8 compaction starts once 72 ops are past the snapshot.
const FLAGS = { historyDepth: 8, fsync: 'always' };

const token = (i) => `<${i}>`;

/** Sends ops one at a time (each appends its token) until `maxOps` are
 * acked or the connection drops. Returns { acked, sent }. */
async function writeSequentially(port, maxOps, prefix = 'w') {
    const c = await RpConn.open(port);
    const gone = c.closed.then(() => ({ type: 'closed' }));
    c.send({ type: 'open', doc: DOC });
    const snap = await c.type('snapshot');
    let len = [...snap.text].length;
    let v = snap.v;
    const acked = [];
    let sent = 0;
    const first = v;
    for (let i = first; i < first + maxOps; i++) {
        const id = `${prefix}:${i}`;
        c.send({ type: 'op', doc: DOC, v, id, op: len > 0 ? [len, token(i)] : [token(i)] });
        sent++;
        let m = await Promise.race([gone, c.next((x) => (x.type === 'ack' && x.id === id) || (x.type === 'error' && x.ref === id), 10000)]);
        if (m.type === 'error') {
            assert.equal(m.code, 'storage_unavailable', JSON.stringify(m));
            // applied, not durable: acked once a retried write succeeds
            m = await Promise.race([gone, c.next((x) => x.type === 'ack' && x.id === id, 10000)]);
        }
        if (m.type === 'closed') break;
        assert.equal(m.v, v);
        acked.push(i);
        v++;
        // compaction waits for an idle log at a timer tick: pause now and then
        if (i % 100 === 99) await sleep(300);
        len += token(i).length;
    }
    c.close();
    return { acked, sent };
}

async function readDoc(port) {
    const r = await fetch(`http://127.0.0.1:${port}/api/docs/${DOC}`);
    assert.equal(r.status, 200);
    return r.json();
}

/** The text is the tokens 0..v-1 in order: every acked op, nothing unsent. */
function assertRecovered(doc, { acked, sent }) {
    const expect = Array.from({ length: doc.v }, (_, i) => token(i)).join('');
    assert.equal(doc.text, expect, 'the text is the ops in order, each once');
    assert.ok(doc.v >= acked.length, `v ${doc.v} lost acked ops (${acked.length} acked)`);
    assert.ok(doc.v <= sent, `v ${doc.v} holds ops never sent (${sent} sent)`);
}

// RINGPAD_FAULT_SWEEP=1 crashes at every passage 1..40 of every log point
// (a few minutes); the default set keeps `zig build test` fast.
const SWEEP = process.env.RINGPAD_FAULT_SWEEP === '1';
const MAX_OPS = 240;
const CRASHES = SWEEP
    ? ['log-write', 'log-fsync', 'log-torn'].flatMap((p) => Array.from({ length: 40 }, (_, i) => [p, i + 1]))
        .concat([['segment', 1], ['segment', 2], ['snapshot', 1], ['snapshot', 2]])
    : [['log-write', 5], ['log-fsync', 5], ['log-torn', 5], ['log-torn', 1], ['segment', 1], ['snapshot', 1], ['log-fsync', 90]];

for (const [point, n] of CRASHES) {
    test(`crash at ${point} #${n}: the restart has every acked op and nothing unsent`, { timeout: 60000 }, async (t) => {
        const dir = scratchDir(t);
        const srv = await startServer({ dataDir: dir, ...FLAGS }, { env: { RINGPAD_STORE_FAULTS: `crash=${point}:${n}` } });
        t.after(() => srv.stop());
        const res = await writeSequentially(srv.port, MAX_OPS);
        // compaction runs from the timer once the log is idle: give it a moment
        const exit = await within(10000, srv.exited, `a crash at ${point} #${n} (acked ${res.acked.length})`);
        assert.equal(exit.code, CRASH_EXIT, `the server did not crash at ${point} (acked ${res.acked.length})\n${srv.stderrTail()}`);
        assert.match(srv.stderr(), new RegExp(`crashing at ${point} \\(passage ${n}\\)`));
        const again = await startServer({ dataDir: dir, ...FLAGS });
        t.after(() => again.stop());
        if (point === 'log-torn') assert.match(again.stderr(), /truncated a torn log tail/);
        assertRecovered(await readDoc(again.port), res);
        // and it takes ops again where it stopped
        const more = await writeSequentially(again.port, 3, 'again');
        assert.equal(more.acked.length, 3);
    });
}

const FAILURES = [
    ['log-write', 'EIO'], ['log-write', 'ENOSPC'], ['log-write', 'SHORT'], ['log-fsync', 'EIO'],
];

for (const [point, err] of FAILURES) {
    test(`${err} at ${point}: no ack before it is durable, every op lands once, health recovers`, { timeout: 60000 }, async (t) => {
        const dir = scratchDir(t);
        const srv = await startServer({ dataDir: dir, ...FLAGS }, { env: { RINGPAD_STORE_FAULTS: `fail=${point}:${err}:4:2` } });
        t.after(() => srv.stop());
        const res = await writeSequentially(srv.port, 12);
        assert.equal(res.acked.length, 12, 'every op acked in the end');
        assert.match(srv.stderr(), new RegExp(`failing ${point} \\(passage 4\\)`));
        if (err !== 'SHORT') assert.match(srv.stderr(), /storage failed/);
        assert.equal((await fetch(`http://127.0.0.1:${srv.port}/healthz`)).status, 200);
        assertRecovered(await readDoc(srv.port), res);
        // what the log holds is what was acked
        srv.signal('SIGKILL');
        await srv.exited;
        const again = await startServer({ dataDir: dir, ...FLAGS });
        t.after(() => again.stop());
        const doc = await readDoc(again.port);
        assert.equal(doc.v, 12);
        assertRecovered(doc, res);
    });
}

test('a load that fails (EIO) answers storage_unavailable and the next load works', { timeout: 30000 }, async (t) => {
    const dir = scratchDir(t);
    const srv = await startServer({ dataDir: dir }, { env: { RINGPAD_STORE_FAULTS: 'fail=load:EIO:1:1' } });
    t.after(() => srv.stop());
    const c = await RpConn.open(srv.port);
    c.send({ type: 'open', doc: DOC });
    assert.equal((await c.error('storage_unavailable')).ref, DOC);
    assert.equal((await fetch(`http://127.0.0.1:${srv.port}/healthz`)).status, 503);
    c.send({ type: 'open', doc: DOC });
    assert.equal((await c.type('snapshot')).v, 0);
    assert.equal((await fetch(`http://127.0.0.1:${srv.port}/healthz`)).status, 200);
    c.close();
});

test('RINGPAD_STORE_FAULTS that cannot be read stops the start', { timeout: 10000 }, async (t) => {
    await assert.rejects(startServer({ dataDir: scratchDir(t) }, { env: { RINGPAD_STORE_FAULTS: 'crash=nowhere:1' } }),
        /RINGPAD_STORE_FAULTS: cannot read "crash=nowhere:1"/);
});
