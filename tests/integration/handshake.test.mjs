// The RFC 6455 opening handshake on /ws (and /echo), checked byte by byte with
// a raw client, plus the same through the `ws` library.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { serverTest, within } from './lib/server.mjs';
import { acceptFor, buildRequest, connect, httpOnce, newKey, readResponse, upgradeHeaders } from './lib/raw.mjs';

const CLOSE_WAIT_MS = 3000;

async function upgrade(port, headers, { path = '/ws', method = 'GET', key = newKey() } = {}) {
    const res = await httpOnce(port, buildRequest({ method, path, headers: upgradeHeaders(key, headers) }), { closeWaitMs: 0 });
    return { res, key };
}

async function upgradeExpectingError(port, headers, opts) {
    const key = opts?.key ?? newKey();
    const req = buildRequest({ method: opts?.method ?? 'GET', path: opts?.path ?? '/ws', headers: upgradeHeaders(key, headers) });
    return httpOnce(port, req, { closeWaitMs: CLOSE_WAIT_MS });
}

function assertRefused(res, status) {
    assert.equal(res.status, status, `expected ${status}, got ${res.status} ${res.reason}`);
    assert.match(res.headers.connection ?? '', /close/i, 'error without Connection: close');
    assert.ok(res.closed, 'connection left open after a refused upgrade');
    assert.equal(res.headers['sec-websocket-accept'], undefined, 'refusal carries Sec-WebSocket-Accept');
}

serverTest('/ws upgrade: 101 with the right Sec-WebSocket-Accept', {}, async (t, srv) => {
    const { res, key } = await upgrade(srv.port, {});
    assert.equal(res.status, 101);
    assert.equal(res.headers['sec-websocket-accept'], acceptFor(key));
    assert.match(res.headers.upgrade ?? '', /^websocket$/i);
    assert.match(res.headers.connection ?? '', /upgrade/i);
    assert.equal(res.headers['sec-websocket-protocol'], undefined, 'a subprotocol chosen though none was offered');
});

serverTest('RFC 6455 sample key gives the RFC sample accept', {}, async (t, srv) => {
    const { res } = await upgrade(srv.port, {}, { key: 'dGhlIHNhbXBsZSBub25jZQ==' });
    assert.equal(res.status, 101);
    assert.equal(res.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});

serverTest('header names and Upgrade/Connection tokens are case-insensitive; Connection is a token list', {}, async (t, srv) => {
    const key = newKey();
    const req = buildRequest({
        path: '/ws',
        headers: [['host', '127.0.0.1'], ['UPGRADE', 'WebSocket'], ['connection', 'keep-alive, UPGRADE'],
            ['sec-websocket-key', key], ['SEC-WEBSOCKET-VERSION', '13']],
    });
    const res = await httpOnce(srv.port, req);
    assert.equal(res.status, 101);
    assert.equal(res.headers['sec-websocket-accept'], acceptFor(key));
});

serverTest('subprotocol ringpad.v1 is echoed when offered', {}, async (t, srv) => {
    const { res } = await upgrade(srv.port, { 'Sec-WebSocket-Protocol': 'ringpad.v1' });
    assert.equal(res.status, 101);
    assert.equal(res.headers['sec-websocket-protocol'], 'ringpad.v1');
});

serverTest('ringpad.v1 is picked from a list of offers', {}, async (t, srv) => {
    const { res } = await upgrade(srv.port, { 'Sec-WebSocket-Protocol': 'chat, ringpad.v1, other' });
    assert.equal(res.status, 101);
    assert.equal(res.headers['sec-websocket-protocol'], 'ringpad.v1');
});

serverTest('an unknown subprotocol is never echoed', {}, async (t, srv) => {
    const { res } = await upgrade(srv.port, { 'Sec-WebSocket-Protocol': 'chat' });
    if (res.status === 101) assert.equal(res.headers['sec-websocket-protocol'], undefined);
    else assert.equal(res.status, 400);
});

serverTest('the ws library connects with subprotocol ringpad.v1', {}, async (t, srv) => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, ['ringpad.v1']);
    t.after(() => ws.terminate());
    await within(5000, new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 'ws open');
    assert.equal(ws.protocol, 'ringpad.v1');
});

serverTest('Sec-WebSocket-Version: 8 -> 426 with Sec-WebSocket-Version: 13', {}, async (t, srv) => {
    const res = await upgradeExpectingError(srv.port, { 'Sec-WebSocket-Version': '8' });
    assertRefused(res, 426);
    assert.match(res.headers['sec-websocket-version'] ?? '', /\b13\b/);
});

serverTest('missing Sec-WebSocket-Version -> 426 or 400', {}, async (t, srv) => {
    const res = await upgradeExpectingError(srv.port, { 'Sec-WebSocket-Version': null });
    assert.ok([400, 426].includes(res.status), `got ${res.status}`);
    assert.ok(res.closed, 'connection left open');
});

serverTest('missing Sec-WebSocket-Key -> 400', {}, async (t, srv) => {
    assertRefused(await upgradeExpectingError(srv.port, { 'Sec-WebSocket-Key': null }), 400);
});

serverTest('Sec-WebSocket-Key of 15 bytes -> 400', {}, async (t, srv) => {
    const key = Buffer.alloc(15, 7).toString('base64');
    assertRefused(await upgradeExpectingError(srv.port, { 'Sec-WebSocket-Key': key }), 400);
});

serverTest('Sec-WebSocket-Key that is not base64 -> 400', {}, async (t, srv) => {
    assertRefused(await upgradeExpectingError(srv.port, { 'Sec-WebSocket-Key': '!!!!not-base64!!!!!!!==' }), 400);
});

serverTest('missing Upgrade header -> 400 (or 426)', {}, async (t, srv) => {
    const res = await upgradeExpectingError(srv.port, { Upgrade: null });
    assert.ok([400, 426].includes(res.status), `got ${res.status}`);
    assert.ok(res.closed, 'connection left open');
    assert.equal(res.headers['sec-websocket-accept'], undefined);
});

serverTest('Upgrade: h2c on /ws -> 400', {}, async (t, srv) => {
    assertRefused(await upgradeExpectingError(srv.port, { Upgrade: 'h2c' }), 400);
});

serverTest('Connection without the upgrade token -> 400', {}, async (t, srv) => {
    assertRefused(await upgradeExpectingError(srv.port, { Connection: 'keep-alive' }), 400);
});

serverTest('POST upgrade -> 405 or 400', {}, async (t, srv) => {
    const res = await upgradeExpectingError(srv.port, {}, { method: 'POST' });
    assert.ok([400, 405].includes(res.status), `got ${res.status}`);
    assert.ok(res.closed);
});

serverTest('HTTP/1.0 upgrade is refused', {}, async (t, srv) => {
    const key = newKey();
    const res = await httpOnce(srv.port, buildRequest({ path: '/ws', version: 'HTTP/1.0', headers: upgradeHeaders(key) }), { closeWaitMs: CLOSE_WAIT_MS });
    assert.notEqual(res.status, 101);
    assert.ok(res.status >= 400, `got ${res.status}`);
});

serverTest('frames sent right behind the upgrade request are not lost', { flags: { enableEcho: true } }, async (t, srv) => {
    const { frame, OP, readMessage } = await import('./lib/raw.mjs');
    const conn = await connect(srv.port);
    t.after(() => conn.destroy());
    const key = newKey();
    await conn.write(Buffer.concat([buildRequest({ path: '/echo', headers: upgradeHeaders(key) }), frame(OP.TEXT, 'early bird')]));
    const res = await readResponse(conn);
    assert.equal(res.status, 101);
    const msg = await readMessage(conn);
    assert.equal(msg.opcode, OP.TEXT);
    assert.equal(msg.payload.toString(), 'early bird');
});

const ORIGINS = 'http://good.example,https://also-good.example:8443';

serverTest('--allowed-origins: a listed Origin is upgraded', { flags: { allowedOrigins: ORIGINS } }, async (t, srv) => {
    const { res } = await upgrade(srv.port, { Origin: 'https://also-good.example:8443' });
    assert.equal(res.status, 101);
});

serverTest('--allowed-origins: an unlisted Origin -> 403', { flags: { allowedOrigins: ORIGINS } }, async (t, srv) => {
    assertRefused(await upgradeExpectingError(srv.port, { Origin: 'http://evil.example' }), 403);
});

serverTest('--allowed-origins: a prefix/suffix of a listed Origin -> 403', { flags: { allowedOrigins: ORIGINS } }, async (t, srv) => {
    assertRefused(await upgradeExpectingError(srv.port, { Origin: 'http://good.example.evil.example' }), 403);
    assertRefused(await upgradeExpectingError(srv.port, { Origin: 'http://good.exampl' }), 403);
});

serverTest('--allowed-origins: an upgrade without an Origin header -> 403', { flags: { allowedOrigins: ORIGINS } }, async (t, srv) => {
    const res = await upgradeExpectingError(srv.port, {});
    assertRefused(res, 403);
    assert.match(res.text(), /Origin header is required/);
});

serverTest('without --allowed-origins any Origin is upgraded', {}, async (t, srv) => {
    const { res } = await upgrade(srv.port, { Origin: 'http://anything.example' });
    assert.equal(res.status, 101);
});
