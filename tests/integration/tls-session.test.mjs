// ringpad.v1 and the REST API over TLS: the same documents, reached through
// wss:// and https:// on one port, with a certificate from `ringpad cert`
// that the clients verify against its CA.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseMetrics, sum } from './lib/metrics.mjs';
import { scratchDir } from './lib/rp-util.mjs';
import { httpsGet, httpsJson, makeCerts, openRpWss, startTlsServer } from './lib/tls.mjs';

let certs;
before(() => { certs = makeCerts(); });
after(() => certs?.remove());

async function docServer(t, flags = {}) {
    const srv = await startTlsServer({ tlsCert: certs.path('a.pem'), tlsKey: certs.path('a-key.pem'), dataDir: scratchDir(t), ...flags });
    t.after(() => srv.stop());
    return srv;
}

async function hello(t, srv, name) {
    const c = await openRpWss(srv.port, certs.ca);
    t.after(() => c.terminate());
    c.send({ type: 'hello', name, color: '#3f51b5' });
    c.session = (await c.type('welcome')).session;
    return c;
}

const DOC = 'team/tls-notes';

test('a full protocol session over wss://: hello, open, op, ack, broadcast, presence, close', async (t) => {
    const srv = await docServer(t, { threads: 2 });
    const a = await hello(t, srv, 'Alice');
    assert.equal(a.ws._socket.getProtocol(), 'TLSv1.3');
    assert.equal(a.ws.protocol, 'ringpad.v1');
    assert.equal(a.ws._socket.authorized, true, 'the client verified the chain');

    a.send({ type: 'open', doc: DOC });
    assert.deepEqual(await a.type('snapshot'), { type: 'snapshot', doc: DOC, v: 0, text: '', peers: [] });
    a.send({ type: 'op', doc: DOC, v: 0, id: 'a:1', op: ['secure 😀 text'] });
    assert.deepEqual(await a.type('ack'), { type: 'ack', doc: DOC, id: 'a:1', v: 0 });

    const b = await hello(t, srv, 'Bob');
    b.send({ type: 'open', doc: DOC });
    const snap = await b.type('snapshot');
    assert.equal(snap.v, 1);
    assert.equal(snap.text, 'secure 😀 text');
    assert.deepEqual(snap.peers.map((p) => [p.session, p.name]), [[a.session, 'Alice']]);

    // Bob's op is acked to him and broadcast to Alice with his session
    b.send({ type: 'op', doc: DOC, v: 1, id: 'b:1', op: [13, '!'] });
    assert.deepEqual(await b.type('ack'), { type: 'ack', doc: DOC, id: 'b:1', v: 1 });
    assert.deepEqual(await a.type('op'), { type: 'op', doc: DOC, v: 1, id: 'b:1', op: [13, '!'], by: b.session });

    // concurrent ops at v2: Alice's is transformed past Bob's
    b.send({ type: 'op', doc: DOC, v: 2, id: 'b:2', op: ['> ', 14] });
    await b.type('ack', 5000, (m) => m.id === 'b:2');
    a.send({ type: 'op', doc: DOC, v: 2, id: 'a:2', op: [7, 'ƒ', -1, 6] });
    const ackA = await a.type('ack', 5000, (m) => m.id === 'a:2');
    assert.equal(ackA.v, 3);
    const opAtB = await b.type('op', 5000, (m) => m.id === 'a:2');
    assert.deepEqual(opAtB.op, [9, 'ƒ', -1, 6]);

    // presence goes across with name and colour
    a.send({ type: 'presence', doc: DOC, v: 4, sel: [[2, 5]] });
    assert.deepEqual(await b.type('presence'), { type: 'presence', doc: DOC, session: a.session, name: 'Alice', color: '#3f51b5', v: 4, sel: [[2, 5]] });

    a.send({ type: 'ping' });
    await a.type('pong');

    // close: Bob sees Alice leave; she can reopen and gets the current text
    a.send({ type: 'close', doc: DOC });
    assert.deepEqual(await b.type('leave'), { type: 'leave', doc: DOC, session: a.session });
    a.send({ type: 'open', doc: DOC });
    const again = await a.type('snapshot', 5000, (m) => m.v === 4);
    assert.equal(again.text, '> secure ƒ text!');

    // a WebSocket close over TLS ends cleanly (close frame, then close_notify)
    a.ws.close(1000);
    assert.equal((await a.closed).code, 1000);
    assert.equal((await b.type('leave')).session, a.session);

    const m = parseMetrics((await httpsGet(srv.port, '/metrics', { ca: certs.ca })).body.toString());
    assert.ok(sum(m, /^ringpad_tls_handshakes_total$/) >= 3);
    assert.equal(sum(m, /^ringpad_errors_total$/, (l) => l.kind === 'tls_handshake'), 0);
});

test('REST over https://: list documents, post an op, read the text; wss subscribers see it', async (t) => {
    const srv = await docServer(t);
    const ca = certs.ca;
    const w = await hello(t, srv, 'Watcher');
    w.send({ type: 'open', doc: DOC });
    await w.type('snapshot');

    let r = await httpsJson(srv.port, 'POST', `/api/docs/${DOC}/ops`, { ca, body: { v: 0, id: 'r:1', op: ['hello 中文'] } });
    assert.equal(r.protocol, 'TLSv1.3');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { type: 'ack', doc: DOC, id: 'r:1', v: 0 });
    const op = await w.type('op');
    assert.deepEqual([op.id, op.v, op.op, op.by], ['r:1', 0, ['hello 中文'], 'rest']);

    w.send({ type: 'op', doc: DOC, v: 1, id: 'w:1', op: [8, '!'] });
    await w.type('ack');
    r = await httpsJson(srv.port, 'POST', `/api/docs/${DOC}/ops`, { ca, body: { v: 1, id: 'r:2', op: ['» ', 8] } });
    assert.equal(r.json.v, 2, 'transformed past the WebSocket op');

    r = await httpsJson(srv.port, 'GET', `/api/docs/${DOC}`, { ca });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { v: 3, codepoints: 11, doc: DOC, text: '» hello 中文!' });
    r = await httpsJson(srv.port, 'GET', `/api/docs/${DOC}?v=1`, { ca });
    assert.equal(r.json.text, 'hello 中文');

    await httpsJson(srv.port, 'POST', '/api/docs/other/ops', { ca, body: { v: 0, id: 'o:1', op: ['x'] } });
    r = await httpsJson(srv.port, 'GET', '/api/docs', { ca });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.docs, [
        { name: 'other', v: 1, codepoints: 1, bytes: 1 },
        { name: DOC, v: 3, codepoints: 11, bytes: 16 },
    ]);

    // errors come back as JSON over TLS too
    r = await httpsJson(srv.port, 'POST', `/api/docs/${DOC}/ops`, { ca, body: { v: 9, id: 'r:3', op: ['x', 11] } });
    assert.equal(r.status, 409);
    assert.equal(r.json.code, 'version_ahead');
    // and the client refuses the server when it does not trust the CA
    await assert.rejects(httpsJson(srv.port, 'GET', '/api/docs'), (err) => err.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
});
