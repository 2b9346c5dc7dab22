// Plain HTTP: /healthz, error statuses, and the rule that every error response
// carries `Connection: close` and is followed by the server closing.
import assert from 'node:assert/strict';
import { serverTest } from './lib/server.mjs';
import { buildRequest, connect, get, httpOnce, readResponse } from './lib/raw.mjs';

const CLOSE_WAIT_MS = 3000;

function assertErrorClose(res, status) {
    assert.equal(res.status, status, `expected ${status}, got ${res.status} ${res.reason}`);
    assert.match(res.headers.connection ?? '', /close/i, `${status} without Connection: close`);
    assert.ok(res.closed, `server kept the connection open after ${status}`);
}

serverTest('/healthz answers 200 while serving', {}, async (t, srv) => {
    const res = await get(srv.port, '/healthz');
    assert.equal(res.status, 200);
    assert.ok(res.headers['content-length'] !== undefined || res.headers['transfer-encoding'], 'no body framing');
});

serverTest('unknown path -> 404 with Connection: close', {}, async (t, srv) => {
    const res = await get(srv.port, '/no/such/thing.html', {}, { closeWaitMs: CLOSE_WAIT_MS });
    assertErrorClose(res, 404);
});

serverTest('/echo without --enable-echo is not served', { flags: { enableEcho: false } }, async (t, srv) => {
    const res = await httpOnce(srv.port, buildRequest({
        path: '/echo',
        headers: { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' },
    }), { closeWaitMs: CLOSE_WAIT_MS });
    assertErrorClose(res, 404);
});

serverTest('POST to a static file -> 405 with Connection: close', {}, async (t, srv) => {
    const res = await httpOnce(srv.port, buildRequest({ method: 'POST', path: '/index.html', headers: { 'Content-Length': '2' }, body: 'hi' }), { closeWaitMs: CLOSE_WAIT_MS });
    assertErrorClose(res, 405);
});

serverTest('DELETE /healthz -> 405', {}, async (t, srv) => {
    const res = await httpOnce(srv.port, buildRequest({ method: 'DELETE', path: '/healthz' }), { closeWaitMs: CLOSE_WAIT_MS });
    assertErrorClose(res, 405);
});

serverTest('100 header lines -> 431', {}, async (t, srv) => {
    const headers = Array.from({ length: 100 }, (_, i) => [`X-Filler-${i}`, 'v']);
    const res = await httpOnce(srv.port, buildRequest({ path: '/healthz', headers }), { closeWaitMs: CLOSE_WAIT_MS });
    assertErrorClose(res, 431);
});

serverTest('a 20 KiB header -> 431', {}, async (t, srv) => {
    const res = await httpOnce(srv.port, buildRequest({ path: '/healthz', headers: { 'X-Big': 'a'.repeat(20 * 1024) } }), { closeWaitMs: CLOSE_WAIT_MS });
    assertErrorClose(res, 431);
});

serverTest('a 9 KiB request line is refused (414 or 431)', {}, async (t, srv) => {
    const res = await httpOnce(srv.port, buildRequest({ path: '/' + 'a'.repeat(9 * 1024) }), { closeWaitMs: CLOSE_WAIT_MS });
    assert.ok([414, 431].includes(res.status), `got ${res.status}`);
    assert.ok(res.closed, 'connection left open');
});

serverTest('a garbage request line -> 400', {}, async (t, srv) => {
    const res = await httpOnce(srv.port, 'HELLO THERE\r\n\r\n', { closeWaitMs: CLOSE_WAIT_MS });
    assertErrorClose(res, 400);
});

serverTest('a header without a colon -> 400', {}, async (t, srv) => {
    const res = await httpOnce(srv.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n', { closeWaitMs: CLOSE_WAIT_MS });
    assertErrorClose(res, 400);
});

serverTest('HTTP/1.1 without Host -> 400', {}, async (t, srv) => {
    const res = await httpOnce(srv.port, 'GET /healthz HTTP/1.1\r\n\r\n', { closeWaitMs: CLOSE_WAIT_MS });
    assertErrorClose(res, 400);
});

serverTest('a request body larger than allowed -> 413', {}, async (t, srv) => {
    const res = await httpOnce(srv.port, buildRequest({ method: 'GET', path: '/healthz', headers: { 'Content-Length': String(1 << 30) } }), { closeWaitMs: CLOSE_WAIT_MS });
    assertErrorClose(res, 413);
});

serverTest('two /healthz requests on one keep-alive connection', {}, async (t, srv) => {
    const conn = await connect(srv.port);
    t.after(() => conn.destroy());
    for (let i = 0; i < 2; i++) {
        await conn.write(buildRequest({ path: '/healthz' }));
        const res = await readResponse(conn);
        assert.equal(res.status, 200, `request ${i + 1}`);
        assert.ok(!conn.ended, `server closed after request ${i + 1}`);
    }
});

serverTest('pipelined requests are answered in order', {}, async (t, srv) => {
    const conn = await connect(srv.port);
    t.after(() => conn.destroy());
    await conn.write(Buffer.concat([buildRequest({ path: '/healthz' }), buildRequest({ path: '/nope' })]));
    assert.equal((await readResponse(conn)).status, 200);
    assert.equal((await readResponse(conn)).status, 404);
});

serverTest('a request split into 1-byte writes is parsed', {}, async (t, srv) => {
    const conn = await connect(srv.port);
    t.after(() => conn.destroy());
    const req = buildRequest({ path: '/healthz' });
    for (const byte of req) {
        await conn.write(Buffer.from([byte]));
    }
    assert.equal((await readResponse(conn)).status, 200);
});

serverTest('the server survives a client that resets mid-request', {}, async (t, srv) => {
    for (let i = 0; i < 20; i++) {
        const conn = await connect(srv.port);
        await conn.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Partial: ');
        conn.socket.resetAndDestroy();
    }
    assert.equal((await get(srv.port, '/healthz')).status, 200);
    assert.equal(srv.exitInfo, null, 'server exited');
});
