// The REST API for backends, with and without tokens; a REST edit reaches
// WebSocket subscribers like any op, and DELETE evicts them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from './lib/server.mjs';
import { RpConn } from './lib/rp-client.mjs';
import { httpJson, mintToken, nowS, scratchDir } from './lib/rp-util.mjs';

const SECRET = 'correct-horse-battery-staple';

async function srvWith(t, flags = {}) {
    const srv = await startServer({ dataDir: scratchDir(t), ...flags });
    t.after(() => srv.stop());
    return srv;
}

test('REST on a fresh server: an empty or missing data dir lists no documents', async (t) => {
    for (const dataDir of [scratchDir(t), scratchDir(t) + '/not-yet-created']) {
        const srv = await startServer({ dataDir });
        t.after(() => srv.stop());
        const r = await httpJson(srv.port, 'GET', '/api/docs');
        assert.equal(r.status, 200, `data dir ${dataDir}`);
        assert.deepEqual(r.json.docs, []);
        const h = await httpJson(srv.port, 'GET', '/healthz');
        assert.equal(h.status, 200, 'the server still serves');
    }
});

test('a document larger than --max-send-queue-bytes can still be read and opened', async (t) => {
    const srv = await startServer({ dataDir: scratchDir(t), maxSendQueueBytes: '256k' });
    t.after(() => srv.stop());
    // POST bodies may be as large as a WebSocket message (1 MiB), not just 64 KiB.
    const chunk = 'x'.repeat(240000);
    for (let i = 0; i < 3; i++) {
        const r = await httpJson(srv.port, 'POST', '/api/docs/big/ops', { body: { v: i, id: `s${i}`, op: i === 0 ? [chunk] : [i * 240000, chunk] } });
        assert.equal(r.status, 200, r.text);
    }
    const tooBig = await httpJson(srv.port, 'POST', '/api/docs/big/ops', { body: { v: 3, id: 's3', op: [720000, 'y'.repeat(1100000)] } });
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.json.code, 'op_too_large');
    const r = await httpJson(srv.port, 'GET', '/api/docs/big');
    assert.equal(r.status, 200);
    assert.equal(r.json.text.length, 720000);
    const ws = await RpConn.open(srv.port);
    ws.send({ type: 'open', doc: 'big' });
    const snap = await ws.type('snapshot');
    assert.equal(snap.v, 3);
    assert.equal(snap.text.length, 720000);
    ws.close();
});

test('REST without auth: post ops, get text and past versions, history, list with pages, delete', async (t) => {
    const srv = await srvWith(t, { threads: 2 });
    const ws = await RpConn.open(srv.port);
    ws.send({ type: 'open', doc: 'notes/a' });
    await ws.type('snapshot');

    let r = await httpJson(srv.port, 'POST', '/api/docs/notes/a/ops', { body: { v: 0, id: 'r:1', op: ['hello 中文'] } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { type: 'ack', doc: 'notes/a', id: 'r:1', v: 0 });
    const op = await ws.type('op');
    assert.equal(op.id, 'r:1');
    r = await httpJson(srv.port, 'POST', '/api/docs/notes/a/ops', { body: { v: 0, id: 'r:2', op: ['😀'] } });
    assert.equal(r.json.v, 1);                         // transformed past r:1
    r = await httpJson(srv.port, 'POST', '/api/docs/notes/a/ops', { body: { v: 0, id: 'r:1', op: ['dup'] } });
    assert.deepEqual(r.json, { type: 'ack', doc: 'notes/a', id: 'r:1', v: 0 });   // duplicate

    r = await httpJson(srv.port, 'GET', '/api/docs/notes/a');
    assert.deepEqual(r.json, { v: 2, doc: 'notes/a', text: '😀hello 中文' });
    r = await httpJson(srv.port, 'GET', '/api/docs/notes/a?v=1');
    assert.equal(r.json.text, 'hello 中文');
    r = await httpJson(srv.port, 'GET', '/api/docs/notes/a?v=9');
    assert.equal(r.status, 409);
    assert.equal(r.json.code, 'version_ahead');

    r = await httpJson(srv.port, 'GET', '/api/docs/notes/a/ops?from=1&to=2');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.ops.map((o) => [o.v, o.id, o.by]), [[1, 'r:2', 'rest']]);
    assert.deepEqual(r.json.ops[0].op, ['😀', 8]);

    for (const name of ['b', 'c', 'd']) {
        r = await httpJson(srv.port, 'POST', `/api/docs/${name}/ops`, { body: { v: 0, id: `${name}:1`, op: ['xy'] } });
        assert.equal(r.status, 200);
    }
    r = await httpJson(srv.port, 'GET', '/api/docs?limit=2');
    assert.deepEqual(r.json.docs.map((d) => d.name), ['b', 'c']);
    assert.deepEqual(r.json.docs[0], { name: 'b', v: 1, codepoints: 2, bytes: 2 });
    assert.equal(r.json.next, 'c');
    r = await httpJson(srv.port, 'GET', `/api/docs?limit=2&after=${r.json.next}`);
    assert.deepEqual(r.json.docs.map((d) => d.name), ['d', 'notes/a']);
    assert.equal(r.json.next, undefined);

    // errors: JSON {code, message} with their statuses
    const cases = [
        ['POST', '/api/docs/notes/a/ops', { v: 0, id: 'e:1', op: [1] }, 400, 'bad_op'],
        ['POST', '/api/docs/notes/a/ops', { v: 0, op: ['x'] }, 400, 'bad_message'],
        ['POST', '/api/docs/notes/a/ops', [1], 400, 'bad_json'],
        ['GET', '/api/docs/.hidden/..', undefined, 400, 'bad_doc_name'],
        // names are taken as sent: the same names are bad_doc_name over WebSocket
        ['GET', '/api/docs/notes/a/', undefined, 400, 'bad_doc_name'],
        ['GET', '/api/docs/notes//a', undefined, 400, 'bad_doc_name'],
        ['GET', '/api/docs/notes/a/ops/', undefined, 400, 'bad_doc_name'],
        ['POST', '/api/docs/b//ops', { v: 1, id: 'e:2', op: [2, 'x'] }, 400, 'bad_doc_name'],
        ['GET', '/api/nothing', undefined, 404, 'not_found'],
        ['PUT', '/api/docs/b', undefined, 400, 'bad_message'],
    ];
    for (const [method, url, body, status, code] of cases) {
        r = await httpJson(srv.port, method, url, { body });
        assert.equal(r.status, status, `${method} ${url}: ${r.text}`);
        if (r.json) assert.equal(r.json.code, code, `${method} ${url}`);
    }

    // delete: subscribers get not_open and lose the document
    r = await httpJson(srv.port, 'DELETE', '/api/docs/notes/a');
    assert.deepEqual(r.json, { deleted: true });
    const e = await ws.error('not_open');
    assert.equal(e.ref, 'notes/a');
    ws.send({ type: 'op', doc: 'notes/a', v: 2, id: 'w:1', op: [3, 'x'] });
    await ws.error('not_open');
    r = await httpJson(srv.port, 'GET', '/api/docs');
    assert.deepEqual(r.json.docs.map((d) => d.name), ['b', 'c', 'd']);
    ws.close();
});

test('REST with auth: Bearer tokens, roles, listing filtered by grants', async (t) => {
    const srv = await srvWith(t, { authSecret: SECRET });
    const writer = mintToken(SECRET, { sub: 'svc', exp: nowS() + 600, docs: [{ pattern: 'team-*', role: 'write' }] });
    const reader = mintToken(SECRET, { sub: 'ro', exp: nowS() + 600, docs: [{ pattern: 'team-a', role: 'read' }] });
    const expired = mintToken(SECRET, { sub: 'svc', exp: nowS() - 600, docs: [{ pattern: '*', role: 'write' }] });
    let r = await httpJson(srv.port, 'GET', '/api/docs/team-a');
    assert.equal(r.status, 401);
    assert.equal(r.json.code, 'unauthorized');
    r = await httpJson(srv.port, 'GET', '/api/docs/team-a', { token: expired });
    assert.equal(r.status, 401);
    r = await httpJson(srv.port, 'GET', '/api/docs/team-a', { token: writer.slice(0, -2) + 'AA' });
    assert.equal(r.status, 401);
    r = await httpJson(srv.port, 'POST', '/api/docs/team-a/ops', { token: writer, body: { v: 0, id: 's:1', op: ['x'] } });
    assert.equal(r.status, 200);
    r = await httpJson(srv.port, 'POST', '/api/docs/other/ops', { token: writer, body: { v: 0, id: 's:2', op: ['x'] } });
    assert.equal(r.status, 403);
    r = await httpJson(srv.port, 'POST', '/api/docs/team-a/ops', { token: reader, body: { v: 1, id: 'o:1', op: [1, 'y'] } });
    assert.equal(r.status, 403);
    assert.equal(r.json.code, 'forbidden');
    r = await httpJson(srv.port, 'GET', '/api/docs/team-a/ops?from=0', { token: reader });
    assert.equal(r.status, 200);
    assert.equal(r.json.ops[0].by, 'svc');
    r = await httpJson(srv.port, 'DELETE', '/api/docs/team-a', { token: reader });
    assert.equal(r.status, 403);
    await httpJson(srv.port, 'POST', '/api/docs/team-b/ops', { token: writer, body: { v: 0, id: 's:3', op: ['x'] } });
    r = await httpJson(srv.port, 'GET', '/api/docs', { token: reader });
    assert.deepEqual(r.json.docs.map((d) => d.name), ['team-a']);
    r = await httpJson(srv.port, 'GET', '/api/docs', { token: writer });
    assert.deepEqual(r.json.docs.map((d) => d.name), ['team-a', 'team-b']);
});
