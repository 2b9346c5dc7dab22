// The REST writes a backend uses without computing ops (PUT .../text,
// POST .../append, create-if-absent), text downloads, and the API's precise
// refusals: 405 with Allow, JSON 404s, unknown query parameters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from './lib/server.mjs';
import { RpConn } from './lib/rp-client.mjs';
import { httpJson, mintToken, nowS, scratchDir } from './lib/rp-util.mjs';

const SECRET = 'correct-horse-battery-staple';
const PLAIN = { 'content-type': 'text/plain; charset=utf-8' };

async function srvWith(t, flags = {}) {
    const dataDir = scratchDir(t);
    const srv = await startServer({ dataDir, ...flags });
    t.after(() => srv.stop());
    srv.dataDir = dataDir;
    return srv;
}

const opsOf = async (port, name, from = 0) => (await httpJson(port, 'GET', `/api/docs/${name}/ops?from=${from}`)).json.ops.map((o) => o.op);

test('PUT text: the server sends the minimal op, in code points, and nothing when the text is unchanged', async (t) => {
    const srv = await srvWith(t, { threads: 2 });
    let r = await httpJson(srv.port, 'PUT', '/api/docs/notes/t/text', { body: { text: 'hello wörld' } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { doc: 'notes/t', v: 1, changed: true });

    const ws = await RpConn.open(srv.port);
    ws.send({ type: 'open', doc: 'notes/t' });
    assert.equal((await ws.type('snapshot')).text, 'hello wörld');

    r = await httpJson(srv.port, 'PUT', '/api/docs/notes/t/text', { raw: 'hello big wörld', headers: PLAIN });
    assert.deepEqual(r.json, { doc: 'notes/t', v: 2, changed: true });
    const op = await ws.type('op');
    assert.deepEqual(op.op, [6, 'big ', 5], 'only the inserted word travels: cursors after it just shift');
    assert.equal(op.v, 1);

    r = await httpJson(srv.port, 'PUT', '/api/docs/notes/t/text', { body: { text: 'hello big wörld' } });
    assert.deepEqual(r.json, { doc: 'notes/t', v: 2, changed: false });

    // a code point shared only in its first bytes is replaced whole
    await httpJson(srv.port, 'PUT', '/api/docs/e/text', { body: { text: 'a😀b' } });
    r = await httpJson(srv.port, 'PUT', '/api/docs/e/text', { body: { text: 'a😃b' } });
    assert.equal(r.json.v, 2);
    assert.deepEqual((await opsOf(srv.port, 'e', 1))[0], [1, '😃', -1, 1]);
    // a delete in the middle, and clearing with an empty text/plain body
    r = await httpJson(srv.port, 'PUT', '/api/docs/e/text', { raw: 'ab', headers: PLAIN });
    assert.deepEqual((await opsOf(srv.port, 'e', 2))[0], [1, -1, 1]);
    r = await httpJson(srv.port, 'PUT', '/api/docs/e/text', { raw: '', headers: PLAIN });
    assert.deepEqual(r.json, { doc: 'e', v: 4, changed: true });
    assert.equal((await httpJson(srv.port, 'GET', '/api/docs/e')).json.text, '');

    r = await httpJson(srv.port, 'GET', '/api/docs/notes/t');
    assert.deepEqual(r.json, { v: 2, codepoints: 15, doc: 'notes/t', text: 'hello big wörld' });
    r = await httpJson(srv.port, 'GET', '/api/docs/notes/t?v=1');
    assert.equal(r.json.codepoints, 11, 'the length at a past version');
    ws.close();
});

test('POST append adds at the end; JSON or text/plain', async (t) => {
    const srv = await srvWith(t);
    let r = await httpJson(srv.port, 'POST', '/api/docs/log/append', { body: { text: 'line 1\n' } });
    assert.deepEqual(r.json, { doc: 'log', v: 1, changed: true });
    const ws = await RpConn.open(srv.port);
    ws.send({ type: 'open', doc: 'log' });
    r = await httpJson(srv.port, 'POST', '/api/docs/log/append', { raw: 'línea 2\n', headers: PLAIN });
    assert.deepEqual(r.json, { doc: 'log', v: 2, changed: true });
    assert.deepEqual((await ws.type('op')).op, [7, 'línea 2\n']);
    r = await httpJson(srv.port, 'POST', '/api/docs/log/append', { body: { text: '' } });
    assert.deepEqual(r.json, { doc: 'log', v: 2, changed: false });
    r = await httpJson(srv.port, 'POST', '/api/docs/log/append', { raw: '', headers: PLAIN });
    assert.deepEqual(r.json, { doc: 'log', v: 2, changed: false }, 'an empty text/plain body appends nothing');
    r = await httpJson(srv.port, 'GET', '/api/docs/log', { headers: { accept: 'text/plain' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(r.text, 'line 1\nlínea 2\n');
    r = await httpJson(srv.port, 'GET', '/api/docs/log', { headers: { accept: 'text/plain, application/json' } });
    assert.equal(r.json.text, 'line 1\nlínea 2\n', 'JSON when the client also takes it');
    r = await httpJson(srv.port, 'GET', '/api/docs/nope', { headers: { accept: 'text/plain' } });
    assert.equal(r.status, 404);
    assert.equal(r.json.code, 'not_found', 'errors stay JSON');
    ws.close();
});

test('If-None-Match: * creates with the text only when the document is absent', async (t) => {
    const srv = await srvWith(t);
    const once = { 'if-none-match': '*' };
    let r = await httpJson(srv.port, 'PUT', '/api/docs/seed/text', { body: { text: 'first' }, headers: once });
    assert.deepEqual(r.json, { doc: 'seed', v: 1, changed: true });
    r = await httpJson(srv.port, 'PUT', '/api/docs/seed/text', { body: { text: 'second' }, headers: once });
    assert.equal(r.status, 412);
    assert.equal(r.json.code, 'already_exists');
    assert.match(r.json.message, /exists/);
    assert.equal((await httpJson(srv.port, 'GET', '/api/docs/seed')).json.text, 'first');
    // an empty document opened by an editor exists too
    const ws = await RpConn.open(srv.port);
    ws.send({ type: 'open', doc: 'empty' });
    r = await httpJson(srv.port, 'PUT', '/api/docs/empty/text', { raw: 'x', headers: { ...PLAIN, ...once } });
    assert.equal(r.status, 412);
    r = await httpJson(srv.port, 'PUT', '/api/docs/seed/text', { body: { text: 'x' }, headers: { 'if-none-match': '"abc"' } });
    assert.equal(r.status, 400);
    assert.equal(r.json.code, 'bad_message');
    ws.close();
    // after a restart the document is on disk, not loaded: still 412
    await srv.stop();
    const again = await startServer({ dataDir: srv.dataDir });
    t.after(() => again.stop());
    r = await httpJson(again.port, 'PUT', '/api/docs/seed/text', { body: { text: 'third' }, headers: once });
    assert.equal(r.status, 412);
    assert.equal((await httpJson(again.port, 'GET', '/api/docs/seed')).json.text, 'first');
});

test('write errors: bodies, lengths, sizes and roles', async (t) => {
    const srv = await srvWith(t, { maxMessageBytes: '64k' });
    await httpJson(srv.port, 'PUT', '/api/docs/w/text', { body: { text: 'abc' } });
    const cases = [
        ['PUT', '/api/docs/w/text', { body: { txt: 'x' } }, 400, 'bad_message', /exactly \{"text": string\}/],
        ['PUT', '/api/docs/w/text', { body: { text: 'x', more: 1 } }, 400, 'bad_message', /exactly/],
        ['PUT', '/api/docs/w/text', { body: { text: 5 } }, 400, 'bad_message', /exactly/],
        ['PUT', '/api/docs/w/text', { body: [1] }, 400, 'bad_json', /not a JSON object/],
        ['PUT', '/api/docs/w/text', { raw: '{"text":', headers: { 'content-type': 'application/json' } }, 400, 'bad_json', /not a JSON object/],
        ['PUT', '/api/docs/w/text', { raw: '', headers: { 'content-type': 'application/json' } }, 400, 'bad_json', /a body is required/],
        ['POST', '/api/docs/w/append', { raw: Buffer.from([0x61, 0xff]), headers: PLAIN }, 400, 'bad_message', /UTF-8/],
        ['POST', '/api/docs/w/append', { raw: 'x'.repeat(70000), headers: PLAIN }, 413, 'op_too_large', /max-message-bytes/],
        ['POST', '/api/docs/w/ops', { body: { v: 1, id: 'x', op: [5, 'x'] } }, 400, 'bad_op', /spans 5 code points .* document has 3 at v1/],
    ];
    for (const [method, url, opts, status, code, message] of cases) {
        const r = await httpJson(srv.port, method, url, opts);
        assert.equal(r.status, status, `${method} ${url} ${JSON.stringify(opts)}: ${r.text}`);
        assert.equal(r.json.code, code, `${method} ${url}`);
        assert.match(r.json.message, message, `${method} ${url}`);
    }
    assert.equal((await httpJson(srv.port, 'GET', '/api/docs/w')).json.text, 'abc', 'nothing was written');
});

test('text writes need the write role', async (t) => {
    const srv = await srvWith(t, { authSecret: SECRET });
    const reader = mintToken(SECRET, { sub: 'ro', exp: nowS() + 600, docs: [{ pattern: '*', role: 'read' }] });
    const writer = mintToken(SECRET, { sub: 'svc', exp: nowS() + 600, docs: [{ pattern: '*', role: 'write' }] });
    let r = await httpJson(srv.port, 'PUT', '/api/docs/a/text', { token: reader, body: { text: 'x' } });
    assert.equal(r.status, 403);
    assert.equal(r.json.code, 'forbidden');
    r = await httpJson(srv.port, 'POST', '/api/docs/a/append', { body: { text: 'x' } });
    assert.equal(r.status, 401);
    r = await httpJson(srv.port, 'POST', '/api/docs/a/append', { token: writer, body: { text: 'x' } });
    assert.equal(r.status, 200);
    r = await httpJson(srv.port, 'GET', '/api/docs/a/ops?from=0', { token: reader });
    assert.equal(r.json.ops[0].by, 'svc', 'the op carries the token\'s subject');
});

test('405 with Allow, JSON 404 for unknown routes, 400 naming an unknown query parameter', async (t) => {
    const srv = await srvWith(t);
    const wrong = [
        ['PATCH', '/api/docs/a', 'GET, DELETE'],
        ['PUT', '/api/docs/a', 'GET, DELETE'],
        ['DELETE', '/api/docs', 'GET'],
        ['GET', '/api/docs/a/text', 'PUT'],
        ['PUT', '/api/docs/a/append', 'POST'],
        ['DELETE', '/api/docs/a/ops', 'GET, POST'],
        ['POST', '/api/docs/a/events', 'GET'],
    ];
    for (const [method, url, allow] of wrong) {
        const r = await httpJson(srv.port, method, url);
        assert.equal(r.status, 405, `${method} ${url}: ${r.text}`);
        assert.equal(r.headers.get('allow'), allow, `${method} ${url}`);
        assert.equal(r.json.code, 'method_not_allowed');
        assert.equal(r.json.message, `${method} is not allowed here; this route allows ${allow}`);
    }
    for (const url of ['/api', '/api/', '/api/nothing', '/api/docsx', '/api?x=1']) {
        const r = await httpJson(srv.port, 'GET', url);
        assert.equal(r.status, 404, url);
        assert.equal(r.headers.get('content-type'), 'application/json', url);
        assert.equal(r.json.code, 'not_found', url);
        assert.match(r.json.message, /no such API route/);
    }
    const params = [
        ['GET', '/api/docs?limit=2&sort=name', 'sort'],
        ['GET', '/api/docs/a?from=1', 'from'],
        ['GET', '/api/docs/a/ops?from=0&v=1', 'v'],
        ['DELETE', '/api/docs/a?force=1', 'force'],
        ['GET', '/api/docs/a/events?after=3', 'after'],
        ['GET', '/api/docs/a?%76%31=1', 'v1'],
    ];
    for (const [method, url, name] of params) {
        const r = await httpJson(srv.port, method, url);
        assert.equal(r.status, 400, `${method} ${url}: ${r.text}`);
        assert.equal(r.json.code, 'unknown_parameter');
        assert.equal(r.json.message, `unknown query parameter "${name}"`);
    }
    let r = await httpJson(srv.port, 'PUT', '/api/docs/a/text?mode=x', { body: { text: 'x' } });
    assert.equal(r.status, 400);
    assert.equal(r.json.message, 'unknown query parameter "mode"');
    r = await httpJson(srv.port, 'GET', '/api/docs/a');
    assert.equal(r.status, 404, 'nothing above created the document');
});
