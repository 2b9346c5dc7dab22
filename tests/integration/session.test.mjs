// ringpad.v1 on /ws against the real binary: every message, every error code,
// the ordering guarantee, duplicates, reconnection and presence.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from './lib/server.mjs';
import { RpConn, Editor, cpLen } from './lib/rp-client.mjs';
import { scratchDir, until } from './lib/rp-util.mjs';

async function docServer(t, flags = {}) {
    const dir = scratchDir(t);
    const srv = await startServer({ dataDir: dir, ...flags });
    t.after(() => srv.stop());
    return srv;
}

async function hello(srv, name = 'x') {
    const c = await RpConn.open(srv.port);
    c.send({ type: 'hello', name, color: '#e91e63' });
    const w = await c.type('welcome');
    c.session = w.session;
    return c;
}

test('hello, open, op, ack, broadcast, presence, leave, ping', async (t) => {
    const srv = await docServer(t);
    const a = await hello(srv, 'Alice');
    const w = a.msgs[0];
    assert.equal(w.server.startsWith('ringpad'), true);
    for (const k of ['max_message_bytes', 'max_op_bytes', 'max_op_components', 'max_doc_codepoints',
        'max_doc_name_bytes', 'max_open_docs', 'history_depth', 'presence_per_second']) {
        assert.equal(typeof w.limits[k], 'number', k);
    }
    a.send({ type: 'open', doc: 'notes/today' });
    const s0 = await a.type('snapshot');
    assert.deepEqual(s0, { type: 'snapshot', doc: 'notes/today', v: 0, text: '', peers: [] });
    a.send({ type: 'op', doc: 'notes/today', v: 0, id: 'a:1', op: ['héllo 😀!'] });
    assert.deepEqual(await a.type('ack'), { type: 'ack', doc: 'notes/today', id: 'a:1', v: 0 });

    const b = await hello(srv, 'Bob');
    b.send({ type: 'open', doc: 'notes/today' });
    const s1 = await b.type('snapshot');
    assert.equal(s1.text, 'héllo 😀!');
    assert.equal(s1.v, 1);
    assert.equal(s1.peers.length, 1);
    assert.equal(s1.peers[0].session, a.session);
    assert.equal(s1.peers[0].name, 'Alice');
    assert.equal(s1.peers[0].color, '#e91e63');

    // concurrent ops on v1: Bob's first, Alice's transformed after it
    b.send({ type: 'op', doc: 'notes/today', v: 1, id: 'b:1', op: [7, '🎉', 1] });
    await b.type('ack');
    a.send({ type: 'op', doc: 'notes/today', v: 1, id: 'a:2', op: [1, -1, 'e', 6] });
    const opAtA = await a.type('op');
    assert.deepEqual(opAtA, { type: 'op', doc: 'notes/today', v: 1, id: 'b:1', op: [7, '🎉', 1], by: b.session });
    const ackA = await a.type('ack');
    assert.equal(ackA.v, 2);
    const opAtB = await b.type('op');
    assert.deepEqual(opAtB.op, [1, 'e', -1, 7]);
    assert.equal(opAtB.v, 2);

    // presence: positions at v2 forwarded with name and colour
    a.send({ type: 'presence', doc: 'notes/today', v: 3, sel: [[1, 3]] });
    const p = await b.type('presence');
    assert.deepEqual(p, { type: 'presence', doc: 'notes/today', session: a.session, name: 'Alice', color: '#e91e63', v: 3, sel: [[1, 3]] });
    // presence at an older version is moved through the ops since
    b.send({ type: 'presence', doc: 'notes/today', v: 1, sel: [[8, 8]] });
    const p2 = await a.type('presence');
    assert.equal(p2.v, 3);
    assert.deepEqual(p2.sel, [[9, 9]]);   // 🎉 was inserted before it

    a.send({ type: 'ping' });
    await a.type('pong');

    a.send({ type: 'close', doc: 'notes/today' });
    assert.deepEqual(await b.type('leave'), { type: 'leave', doc: 'notes/today', session: a.session });
    a.send({ type: 'open', doc: 'notes/today' });
    await a.type('snapshot', 5000, (m) => m.v === 3);
    a.terminate();
    const l2 = await b.type('leave');
    assert.equal(l2.session, a.session);
    b.close();
});

test('reopen with v: catch-up in order with ids, synced, duplicate acked with original version', async (t) => {
    const srv = await docServer(t);
    const a = await hello(srv);
    a.send({ type: 'open', doc: 'd' });
    await a.type('snapshot');
    for (let i = 0; i < 5; i++) {
        a.send({ type: 'op', doc: 'd', v: i, id: `a:${i}`, op: i === 0 ? ['中'] : [i, '文'] });
        await a.type('ack', 5000, (m) => m.id === `a:${i}`);
    }
    const b = await hello(srv);
    b.send({ type: 'open', doc: 'd', v: 2 });
    const got = [];
    const synced = await b.next((m) => { if (m.type === 'op') got.push(m); return m.type === 'synced'; });
    assert.deepEqual(got.map((m) => [m.v, m.id]), [[2, 'a:2'], [3, 'a:3'], [4, 'a:4']]);
    assert.equal(synced.v, 5);
    // a resend of an applied op is acked with its first version, not applied again
    b.send({ type: 'op', doc: 'd', v: 0, id: 'a:1', op: ['x'] });
    assert.deepEqual(await b.type('ack'), { type: 'ack', doc: 'd', id: 'a:1', v: 1 });
    b.send({ type: 'open', doc: 'd' });
    const s = await b.type('snapshot');
    assert.equal(s.v, 5);
    assert.equal(s.text, '中文文文文');
    a.close();
    b.close();
});

test('every error code of the protocol (auth codes: auth.test.mjs, storage: storage.test.mjs)', async (t) => {
    const srv = await docServer(t, {
        historyDepth: 2, maxDocCodepoints: 20, maxOpComponents: 4, maxOpenDocs: 2, presencePerSec: 1,
    });
    const c = await hello(srv);
    const expectError = async (msg, code, ref) => {
        c.send(msg);
        const e = await c.error(code);
        assert.equal(typeof e.message, 'string');
        if (ref !== undefined) assert.equal(e.ref, ref, `${code} ref`);
        return e;
    };
    await expectError('{"type":', 'bad_json');
    await expectError('[1,2]', 'bad_json');
    await expectError({ type: 'open' }, 'bad_message');
    await expectError({ type: 'hello' }, 'bad_message');   // second hello
    await expectError({ type: 'dance' }, 'unknown_type');
    await expectError({ type: 'open', doc: '../etc' }, 'bad_doc_name');
    await expectError({ type: 'open', doc: 'x'.repeat(201) }, 'bad_doc_name');
    await expectError({ type: 'op', doc: 'e', v: 0, id: 'n:1', op: ['a'] }, 'not_open', 'n:1');
    await expectError({ type: 'presence', doc: 'e', v: 0, sel: [] }, 'not_open', 'e');
    await expectError({ type: 'close', doc: 'e' }, 'not_open', 'e');
    c.send({ type: 'open', doc: 'e' });
    await c.type('snapshot');
    c.send({ type: 'open', doc: 'f' });
    await c.type('snapshot', 5000, (m) => m.doc === 'f');
    await expectError({ type: 'open', doc: 'g' }, 'too_many_docs', 'g');
    await expectError({ type: 'op', doc: 'e', v: 0, id: 'o:1', op: [3] }, 'bad_op', 'o:1');
    await expectError({ type: 'op', doc: 'e', v: 0, id: 'o:2', op: [0] }, 'bad_op', 'o:2');
    await expectError({ type: 'op', doc: 'e', v: 9, id: 'o:3', op: ['a'] }, 'version_ahead', 'o:3');
    await expectError({ type: 'op', doc: 'e', v: 0, id: 'o:4', op: ['a', -0, 'b'] }, 'bad_op', 'o:4');
    await expectError({ type: 'op', doc: 'e', v: 0, id: 'o:5', op: ['x'.repeat(21)] }, 'op_too_large', 'o:5');
    await expectError({ type: 'op', doc: 'e', v: 0, id: 'o:6', op: ['a', 1, 'b', 1, 'c'] }, 'op_too_large');
    for (let v = 0; v < 3; v++) {
        c.send({ type: 'op', doc: 'e', v, id: `k:${v}`, op: v === 0 ? ['a'] : [v, 'a'] });
        await c.type('ack', 5000, (m) => m.id === `k:${v}`);
    }
    await expectError({ type: 'op', doc: 'e', v: 0, id: 'o:7', op: ['z'] }, 'version_too_old', 'o:7');
    await expectError({ type: 'open', doc: 'e', v: 0 }, 'version_too_old', 'e');
    c.send({ type: 'open', doc: 'e' });
    await c.type('snapshot', 5000, (m) => m.doc === 'e' && m.v === 3);
    // fits at its base version, too large after the concurrent op before it
    c.send({ type: 'op', doc: 'e', v: 3, id: 'k:3', op: [3, 'x'.repeat(15)] });
    await c.type('ack', 5000, (m) => m.id === 'k:3');
    await expectError({ type: 'op', doc: 'e', v: 3, id: 'o:8', op: [3, 'y'.repeat(10)] }, 'doc_too_large', 'o:8');

    c.send({ type: 'presence', doc: 'e', v: 4, sel: [[0, 0]] });
    await expectError({ type: 'presence', doc: 'e', v: 4, sel: [[1, 1]] }, 'rate_limited', 'e');
    // none of these closed the connection
    c.send({ type: 'ping' });
    await c.type('pong');
    // binary frames are not part of the protocol: close 1003
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    const closed = await c.closed;
    assert.equal(closed.code, 1003);
});

test('ordering: ops in version order without gaps, every op before its ack (4 clients, one doc)', async (t) => {
    const srv = await docServer(t);
    const eds = [];
    for (let i = 0; i < 4; i++) {
        const e = new Editor(srv.port, 'order', { name: `e${i}` });
        await e.connect();
        eds.push(e);
    }
    // the Editor throws on any gap, reorder, or ack before a missing op
    const thrown = [];
    process.on('uncaughtException', (err) => thrown.push(err));
    for (let round = 0; round < 30; round++) {
        for (const e of eds) e.edit(cpLen(e.text) > 0 ? [cpLen(e.text), `${e.name}.${round} `] : [`${e.name}.${round} `]);
        await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => eds.every((e) => e.idle), 10000, 'all acked');
    await until(() => new Set(eds.map((e) => e.v)).size === 1, 5000, 'same version');
    assert.deepEqual(thrown, []);
    for (const e of eds) assert.equal(e.text, eds[0].text);
    // edits made while an op was in flight are composed into one op (fewer versions than edits)
    assert.ok(eds[0].v > 0 && eds[0].v <= 120);
    for (const e of eds) for (let round = 0; round < 30; round++) assert.ok(eds[0].text.includes(`${e.name}.${round} `));
    for (const e of eds) e.disconnect();
});

test('a document nobody has open is unloaded after --doc-idle-ms and reloads from disk', async (t) => {
    const srv = await docServer(t, { docIdleMs: 200, logLevel: 'debug' });
    const c = await hello(srv);
    c.send({ type: 'open', doc: 'idle' });
    await c.type('snapshot');
    c.send({ type: 'op', doc: 'idle', v: 0, id: 'i:1', op: ['kept'] });
    await c.type('ack');
    await new Promise((r) => setTimeout(r, 700));
    assert.doesNotMatch(srv.stderr(), /document idle unloaded/, 'not while open');
    c.send({ type: 'close', doc: 'idle' });
    await until(() => /document idle unloaded/.test(srv.stderr()), 3000, 'unloaded');
    c.send({ type: 'open', doc: 'idle' });
    const s = await c.type('snapshot', 5000, (m) => m.v === 1);
    assert.equal(s.text, 'kept');
    assert.equal(srv.stderr().match(/document idle loaded/g).length, 2);
    c.close();
});
