// Access control on /ws: HS256 tokens (good, expired, bad signature, missing),
// grants (wrong document: forbidden, connection stays), read-only role, open mode.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startServer } from './lib/server.mjs';
import { RpConn } from './lib/rp-client.mjs';
import { mintToken, nowS, scratchDir } from './lib/rp-util.mjs';

const SECRET = 'correct-horse-battery-staple';

async function authServer(t, extra = {}, env = {}) {
    const dir = scratchDir(t);
    const srv = await startServer({ dataDir: dir, ...extra }, { env });
    t.after(() => srv.stop());
    return srv;
}

const claims = (over = {}) => ({
    sub: 'alice', name: 'Alice', exp: nowS() + 3600,
    docs: [{ pattern: 'notes/*', role: 'write' }, { pattern: 'readme', role: 'read' }], ...over,
});

async function refused(srv, first, reason) {
    const c = await RpConn.open(srv.port);
    c.send(first);
    const e = await c.error('unauthorized');
    if (reason) assert.match(e.message, reason);
    const closed = await c.closed;
    assert.equal(closed.code, 4401);
}

test('auth: missing, expired, badly signed and not-yet-valid tokens get unauthorized + 4401', async (t) => {
    const srv = await authServer(t, { authSecret: SECRET });
    assert.doesNotMatch(srv.stderr(), /OPEN MODE/);
    await refused(srv, { type: 'open', doc: 'notes/a' }, /hello/);
    await refused(srv, { type: 'hello', name: 'x' }, /no token/);
    await refused(srv, { type: 'hello', token: mintToken(SECRET, claims({ exp: nowS() - 120 })) }, /expired/);
    await refused(srv, { type: 'hello', token: mintToken('another-secret-entirely', claims()) }, /signature/);
    await refused(srv, { type: 'hello', token: mintToken(SECRET, claims({ nbf: nowS() + 600 })) });
    await refused(srv, '{"type":', undefined);
});

test('auth: good token, wrong document forbidden, read-only role, by = sub', async (t) => {
    const srv = await authServer(t, { authSecret: SECRET });
    const w = await RpConn.open(srv.port);
    w.send({ type: 'hello', token: mintToken(SECRET, claims()), name: 'ignored' });
    const welcome = await w.type('welcome');
    assert.equal(typeof welcome.session, 'string');
    w.send({ type: 'open', doc: 'secret/plans' });
    const f = await w.error('forbidden');
    assert.equal(f.ref, 'secret/plans');
    w.send({ type: 'ping' });
    await w.type('pong');                      // the connection stays
    w.send({ type: 'open', doc: 'readme' });
    await w.type('snapshot', 5000, (m) => m.doc === 'readme');
    w.send({ type: 'op', doc: 'readme', v: 0, id: 'w:1', op: ['x'] });
    assert.equal((await w.error('forbidden')).ref, 'w:1');

    const r = await RpConn.open(srv.port);
    r.send({ type: 'hello', token: mintToken(SECRET, claims({ sub: 'bob', name: 'Bob', docs: [{ pattern: 'notes/a', role: 'read' }] })) });
    await r.type('welcome');
    r.send({ type: 'open', doc: 'notes/a' });
    await r.type('snapshot');
    w.send({ type: 'open', doc: 'notes/a' });
    await w.type('snapshot', 5000, (m) => m.doc === 'notes/a');
    w.send({ type: 'op', doc: 'notes/a', v: 0, id: 'w:2', op: ['hi'] });
    await w.type('ack');
    const op = await r.type('op');
    assert.equal(op.by, 'alice');
    r.send({ type: 'op', doc: 'notes/a', v: 1, id: 'r:1', op: [2, '!'] });
    assert.equal((await r.error('forbidden')).ref, 'r:1');
    r.send({ type: 'presence', doc: 'notes/a', v: 1, sel: [[1, 1]] });   // read users may send presence
    const p = await w.type('presence');
    assert.equal(p.name, 'Bob');
    w.close();
    r.close();
});

test('auth: secret from a file and from RINGPAD_AUTH_SECRET', async (t) => {
    const dir = scratchDir(t, 'ringpad-secret-');
    const file = path.join(dir, 'secret');
    writeFileSync(file, `${SECRET}\n`);
    for (const [flags, env] of [[{ authSecretFile: file }, {}], [{}, { RINGPAD_AUTH_SECRET: SECRET }]]) {
        const srv = await authServer(t, flags, env);
        const c = await RpConn.open(srv.port);
        c.send({ type: 'hello', token: mintToken(SECRET, claims()) });
        await c.type('welcome');
        c.close();
        await srv.stop();
    }
});

test('open mode: announced loudly; refused on a non-loopback host without --allow-open', async (t) => {
    const srv = await authServer(t);
    assert.match(srv.stderr(), /OPEN MODE/);
    const dir = scratchDir(t);
    await assert.rejects(startServer({ dataDir: dir, host: '0.0.0.0' }), /exited before listening \(code 2/);
});
