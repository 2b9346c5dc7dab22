// SIGTERM/SIGINT: stop accepting, /healthz 503, close 1001 to every client,
// wait up to --shutdown-grace-ms, exit 0.
import assert from 'node:assert/strict';
import { serverTest, sleep, within } from './lib/server.mjs';
import { closed, openWs } from './lib/client.mjs';
import { OP, buildRequest, connect, expectClose, readFrame, readResponse, wsConnect } from './lib/raw.mjs';

serverTest('SIGTERM: every client gets close 1001 and the server exits 0', { flags: { enableEcho: true, shutdownGraceMs: 3000 } }, async (t, srv) => {
    const clients = [];
    for (let i = 0; i < 5; i++) clients.push(await openWs(t, srv.port));
    const closes = clients.map((ws) => closed(ws, 5000));
    srv.signal('SIGTERM');
    for (const c of await Promise.all(closes)) assert.equal(c.code, 1001);
    const exit = await within(6000, srv.exited, 'exit after SIGTERM');
    assert.equal(exit.signal, null, `killed by ${exit.signal}`);
    assert.equal(exit.code, 0);
});

serverTest('SIGINT behaves like SIGTERM', { flags: { enableEcho: true, shutdownGraceMs: 3000 } }, async (t, srv) => {
    const ws = await openWs(t, srv.port);
    const done = closed(ws, 5000);
    srv.signal('SIGINT');
    assert.equal((await done).code, 1001);
    const exit = await within(6000, srv.exited, 'exit after SIGINT');
    assert.equal(exit.code, 0);
});

serverTest('during the grace period /healthz is 503 and new upgrades are refused', { flags: { enableEcho: true, shutdownGraceMs: 2000 } }, async (t, srv) => {
    // A raw client that never answers the server's close keeps the grace period running.
    const { conn: stubborn } = await wsConnect(srv.port);
    t.after(() => stubborn.destroy());
    // A keep-alive HTTP connection opened before the signal.
    const http = await connect(srv.port);
    t.after(() => http.destroy());
    await http.write(buildRequest({ path: '/healthz' }));
    assert.equal((await readResponse(http)).status, 200);

    srv.signal('SIGTERM');
    const f = await readFrame(stubborn, 3000);
    assert.equal(f.opcode, OP.CLOSE);
    assert.equal(f.payload.readUInt16BE(0), 1001);
    assert.equal(srv.exitInfo, null, 'exited before the grace period although a client never answered');

    // /healthz on the connection opened before, or on a new one if that one was closed.
    let status = null;
    if (await http.write(buildRequest({ path: '/healthz' }))) {
        try { status = (await readResponse(http, { timeoutMs: 1000 })).status; } catch { /* closed */ }
    }
    if (status === null) {
        try {
            const fresh = await connect(srv.port, { timeoutMs: 1000 });
            t.after(() => fresh.destroy());
            await fresh.write(buildRequest({ path: '/healthz' }));
            status = (await readResponse(fresh, { timeoutMs: 1000 })).status;
        } catch { /* refused */ }
    }
    assert.equal(status, 503, 'no 503 from /healthz during the grace period');

    // New WebSocket upgrades must not succeed.
    let upgraded = false;
    try { const { conn } = await wsConnect(srv.port); upgraded = true; conn.destroy(); } catch { /* refused: good */ }
    assert.equal(upgraded, false, 'a new upgrade succeeded during shutdown');

    const exit = await within(6000, srv.exited, 'exit after the grace period');
    assert.equal(exit.code, 0);
});

serverTest('a client that answers the close lets the server exit before the grace period ends', { flags: { enableEcho: true, shutdownGraceMs: 30000 } }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    srv.signal('SIGTERM');
    const c = await expectClose(conn); // replies with a close
    assert.equal(c.code, 1001);
    // Grace is 30 s; exiting within 10 s means the server did not wait for nothing.
    const exit = await within(10000, srv.exited, 'exit once every client answered');
    assert.equal(exit.code, 0);
});

serverTest('an idle server exits 0 promptly on SIGTERM', { flags: { shutdownGraceMs: 30000 } }, async (t, srv) => {
    srv.signal('SIGTERM');
    const exit = await within(10000, srv.exited, 'exit of an idle server');
    assert.equal(exit.code, 0);
    await sleep(0);
});
