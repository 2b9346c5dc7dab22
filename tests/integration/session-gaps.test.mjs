// The session layer's second round (issue 4 follow-up): reads of a missing
// document do not create it, the listing does not load documents, /ops is
// served from the log beyond the in-memory history, REST keeps connections
// alive and answers pipelined requests in order, and a live connection
// outlives its token.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startServer, sleep } from './lib/server.mjs';
import { RpConn } from './lib/rp-client.mjs';
import { RawConn, buildRequest, connect, readResponse } from './lib/raw.mjs';
import { makeCerts, startTlsServer, tlsConnect } from './lib/tls.mjs';
import { httpJson, mintToken, nowS, scratchDir, until } from './lib/rp-util.mjs';

const SECRET = 'correct-horse-battery-staple';

/** The doc's meta file is a listing cache (written at unload), not the
 * floor a load leaves (its segment size field all ones). */
function metaIsCache(dir, doc) {
    let b;
    try { b = readFileSync(path.join(dir, doc, 'meta')); } catch { return false; }
    return b.length === 52 && !b.subarray(40, 48).every((x) => x === 0xff);
}

async function srvWith(t, flags = {}) {
    const dir = scratchDir(t);
    const srv = await startServer({ dataDir: dir, ...flags });
    t.after(() => srv.stop());
    srv.dir = dir;
    return srv;
}

test('reading a missing document is 404 not_found and does not create it; open creates it', async (t) => {
    const srv = await srvWith(t, { threads: 2 });
    for (const p of ['/api/docs/ghost', '/api/docs/ghost?v=0', '/api/docs/ghost/ops', '/api/docs/ghost/ops?from=0&to=1']) {
        const r = await httpJson(srv.port, 'GET', p);
        assert.equal(r.status, 404, p);
        assert.equal(r.json.code, 'not_found', p);
    }
    let r = await httpJson(srv.port, 'GET', '/api/docs');
    assert.deepEqual(r.json.docs, []);
    assert.equal(existsSync(path.join(srv.dir, 'ghost')), false, 'no directory was made');
    r = await httpJson(srv.port, 'DELETE', '/api/docs/ghost');
    assert.deepEqual(r.json, { deleted: false });

    const ws = await RpConn.open(srv.port);
    ws.send({ type: 'open', doc: 'ghost' });
    const snap = await ws.type('snapshot');
    assert.equal(snap.v, 0);
    r = await httpJson(srv.port, 'GET', '/api/docs/ghost');
    assert.deepEqual(r.json, { v: 0, doc: 'ghost', text: '' });
    r = await httpJson(srv.port, 'GET', '/api/docs');
    assert.deepEqual(r.json.docs, [{ name: 'ghost', v: 0, codepoints: 0, bytes: 0 }]);
    ws.close();
});

test('listing answers from the metadata of unloaded documents; /ops reads the log beyond memory', async (t) => {
    const srv = await srvWith(t, { historyDepth: 16, docIdleMs: 200, logLevel: 'debug' });
    for (let i = 0; i < 100; i++) {
        const r = await httpJson(srv.port, 'POST', '/api/docs/long/ops', { body: { v: i, id: `p:${i}`, op: i === 0 ? ['x'] : [i, 'x'] } });
        assert.equal(r.status, 200);
    }
    await httpJson(srv.port, 'POST', '/api/docs/short/ops', { body: { v: 0, id: 's:0', op: ['日本'] } });
    // compaction (snapshot at v84), then idle unload writes the metadata
    // (a loaded document's meta file is only a version floor: wait for the unload's listing cache)
    await until(() => existsSync(path.join(srv.dir, 'long', 'snapshot')) && metaIsCache(srv.dir, 'long'),
        5000, 'compaction and unload of long');
    await until(() => metaIsCache(srv.dir, 'short'), 5000, 'unload of short');
    const before = srv.stderr().length;
    let r = await httpJson(srv.port, 'GET', '/api/docs');
    assert.deepEqual(r.json.docs, [
        { name: 'long', v: 100, codepoints: 100, bytes: 100 },
        { name: 'short', v: 1, codepoints: 2, bytes: 6 },
    ]);
    assert.doesNotMatch(srv.stderr().slice(before), /document (long|short) loaded/, 'listing loaded nothing');

    // reloaded from snapshot v84: ops 5..19 only exist in the log on disk
    r = await httpJson(srv.port, 'GET', '/api/docs/long/ops?from=5&to=20');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.ops.map((o) => o.id), Array.from({ length: 15 }, (_, i) => `p:${i + 5}`));
    assert.deepEqual(r.json.ops[0].op, [5, 'x']);
    assert.equal(r.json.to, 20);
    r = await httpJson(srv.port, 'GET', '/api/docs/long/ops?from=80');
    assert.deepEqual(r.json.ops.map((o) => o.v), Array.from({ length: 20 }, (_, i) => 80 + i), 'disk then memory, no gap');
    r = await httpJson(srv.port, 'GET', '/api/docs/long?v=5');
    assert.equal(r.status, 410, 'text of a version older than the history: too old');

    // a second compaction drops the first segment: those ops are gone for good
    for (let i = 100; i < 200; i++)
        await httpJson(srv.port, 'POST', '/api/docs/long/ops', { body: { v: i, id: `p:${i}`, op: [i, 'y'] } });
    await until(async () => (await httpJson(srv.port, 'GET', '/api/docs/long/ops?from=5&to=6')).status === 410,
        5000, 'the old segment leaves the log');
    r = await httpJson(srv.port, 'GET', '/api/docs/long/ops?from=5&to=6');
    assert.equal(r.json.code, 'version_too_old');
});

test('REST keep-alive: the connection stays, pipelined requests are answered in order', async (t) => {
    const srv = await srvWith(t, { threads: 2 });
    const c = await connect(srv.port);
    t.after(() => c.destroy());
    const body = JSON.stringify({ v: 0, id: 'k:1', op: ['hi'] });
    await c.write(Buffer.concat([
        buildRequest({ method: 'GET', path: '/api/docs/pipe' }),
        buildRequest({ method: 'POST', path: '/api/docs/pipe/ops', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, body }),
        buildRequest({ method: 'GET', path: '/healthz' }),
        buildRequest({ method: 'GET', path: '/api/docs/pipe' }),
        buildRequest({ method: 'GET', path: '/api/docs/pipe/ops?from=0' }),
    ]));
    const r1 = await readResponse(c);
    assert.equal(r1.status, 404);
    assert.match(r1.headers.connection ?? '', /keep-alive/i);
    const r2 = await readResponse(c);
    assert.equal(r2.status, 200);
    assert.deepEqual(JSON.parse(r2.text()), { type: 'ack', doc: 'pipe', id: 'k:1', v: 0 });
    const r3 = await readResponse(c);
    assert.equal(r3.status, 200);
    const r4 = await readResponse(c);
    assert.deepEqual(JSON.parse(r4.text()), { v: 1, doc: 'pipe', text: 'hi' });
    const r5 = await readResponse(c);
    assert.deepEqual(JSON.parse(r5.text()).ops.map((o) => o.id), ['k:1']);
    assert.equal(c.ended, false, 'still open');

    // an error with a body that was never read: the body is skipped, not parsed as a request
    const bad = '{"v":0,"id":"k:2","op":[1]}';
    await c.write(Buffer.concat([
        buildRequest({ method: 'POST', path: '/api/docs/pipe/ops', headers: { 'content-length': Buffer.byteLength(bad) }, body: bad }),
        buildRequest({ method: 'GET', path: '/api/docs/pipe', headers: { connection: 'close' } }),
    ]));
    const r6 = await readResponse(c);
    assert.equal(r6.status, 400);
    assert.equal(JSON.parse(r6.text()).code, 'bad_op');
    const r7 = await readResponse(c);
    assert.equal(r7.status, 200);
    assert.match(r7.headers.connection ?? '', /close/i);
    assert.equal(await c.closedWithin(3000), true, 'Connection: close is honoured');
});

test('REST pipelining over TLS: held requests are replayed as plaintext, in order', async (t) => {
    const certs = makeCerts();
    t.after(() => certs.remove());
    const srv = await startTlsServer({ tlsCert: certs.path('a.pem'), tlsKey: certs.path('a-key.pem'), dataDir: scratchDir(t), threads: 2 });
    t.after(() => srv.stop());
    const c = new RawConn(await tlsConnect(srv.port, { ca: certs.ca }));
    t.after(() => c.destroy());
    const body = JSON.stringify({ v: 0, id: 't:1', op: ['tls'] });
    await c.write(Buffer.concat([
        buildRequest({ method: 'POST', path: '/api/docs/sec/ops', headers: { 'content-length': Buffer.byteLength(body) }, body }),
        buildRequest({ method: 'GET', path: '/api/docs/sec' }),
        buildRequest({ method: 'GET', path: '/api/docs/none' }),
    ]));
    assert.deepEqual(JSON.parse((await readResponse(c)).text()), { type: 'ack', doc: 'sec', id: 't:1', v: 0 });
    assert.deepEqual(JSON.parse((await readResponse(c)).text()), { v: 1, doc: 'sec', text: 'tls' });
    const r = await readResponse(c);
    assert.equal(r.status, 404);
    assert.match(r.headers.connection ?? '', /keep-alive/i);
});

test('a live connection outlives its token: ops and presence keep working after exp; a new hello is refused', async (t) => {
    const srv = await srvWith(t, { authSecret: SECRET });
    // exp is within the 30 s skew: valid now, expired in about a second
    const exp = nowS() - 29;
    const token = mintToken(SECRET, { sub: 'eve', exp, docs: [{ pattern: '*', role: 'write' }] });
    const a = await RpConn.open(srv.port);
    a.send({ type: 'hello', token });
    await a.type('welcome');
    a.send({ type: 'open', doc: 'exp' });
    await a.type('snapshot');
    while (nowS() < exp + 31) await sleep(100);
    a.send({ type: 'op', doc: 'exp', v: 0, id: 'e:1', op: ['still here'] });
    assert.equal((await a.type('ack')).id, 'e:1');
    a.send({ type: 'open', doc: 'exp2' });
    await a.type('snapshot', 5000, (m) => m.doc === 'exp2');
    a.send({ type: 'ping' });
    await a.type('pong');

    const b = await RpConn.open(srv.port);
    b.send({ type: 'hello', token });
    assert.match((await b.error('unauthorized')).message, /expired/);
    assert.equal((await b.closed).code, 4401);
    const r = await httpJson(srv.port, 'GET', '/api/docs/exp', { token });
    assert.equal(r.status, 401, 'REST checks the token on every request');
    a.close();
});

test('compaction while ops keep arriving: nothing is lost, the restart recovers the same text', { timeout: 30000 }, async (t) => {
    const dir = scratchDir(t);
    // a 10 ms timer tick: compaction runs between bursts, the next burst may meet it
    const flags = { dataDir: dir, historyDepth: 10, logLevel: 'debug', closeTimeoutMs: 40 };
    let srv = await startServer(flags);
    t.after(() => srv.stop());
    const c = await RpConn.open(srv.port);
    c.send({ type: 'open', doc: 'burst' });
    await c.type('snapshot');
    let text = '';
    let v = 0;
    for (let burst = 0; burst < 12; burst++) {
        for (let i = 0; i < 40; i++, v++) {
            const ch = v % 3 ? 'b' : '😀';
            c.send({ type: 'op', doc: 'burst', v, id: `b:${v}`, op: v === 0 ? [ch] : [v, ch] });
            text += ch;
            if (i % 4 === 3) await sleep(1);   // a steady trickle: ops meet compactions in progress
        }
        if (burst % 2) await c.type('ack', 5000, (m) => m.id === `b:${v - 1}`);
        await sleep(15);
    }
    const last = `b:${v - 1}`;
    if (!c.msgs.some((m) => m.type === 'ack' && m.id === last)) await c.type('ack', 5000, (m) => m.id === last);
    const compactions = (srv.stderr().match(/compaction to a snapshot/g) ?? []).length;
    assert.ok(compactions >= 2, `compacted during the bursts (${compactions})`);
    assert.doesNotMatch(srv.stderr(), /compaction failed/);
    if (process.env.S2_SHOW) console.log(srv.stderr().match(/new segment.*/g));
    c.close();
    await srv.stop();
    srv = await startServer(flags);
    const d = await RpConn.open(srv.port);
    d.send({ type: 'open', doc: 'burst' });
    const s = await d.type('snapshot');
    assert.equal(s.v, v);
    assert.equal(s.text, text);
    d.close();
});
