// Connection limits (global and per IP) refuse with 503 before the upgrade;
// the per-connection message rate limit closes abusers with 1008.
import assert from 'node:assert/strict';
import { serverTest, sleep } from './lib/server.mjs';
import { closed, messages, openWs } from './lib/client.mjs';
import { OP, buildRequest, expectClose, frame, newKey, readFrame, upgradeHeaders, wsConnect } from './lib/raw.mjs';

async function refusedUpgrade(port, { localAddress } = {}) {
    const { connect, readResponse } = await import('./lib/raw.mjs');
    const conn = await connect(port, { localAddress });
    try {
        await conn.write(buildRequest({ path: '/echo', headers: upgradeHeaders(newKey()) }));
        const res = await readResponse(conn);
        res.closed = await conn.closedWithin(3000);
        return res;
    } catch (err) {
        // Refusing by closing without an answer is not what the issue asks for.
        err.message = `no HTTP answer to an upgrade over the limit: ${err.message}`;
        throw err;
    } finally {
        conn.destroy();
    }
}

function assert503(res) {
    assert.equal(res.status, 503, `got ${res.status} ${res.reason}`);
    assert.match(res.headers.connection ?? '', /close/i);
    assert.ok(res.closed, 'connection left open after 503');
}

serverTest('--max-connections 4 across 2 workers: the 5th upgrade gets 503', { flags: { enableEcho: true, threads: 2, maxConnections: 4, maxConnectionsPerIp: 100 } }, async (t, srv) => {
    const held = [];
    t.after(() => held.forEach((c) => c.destroy()));
    for (let i = 0; i < 4; i++) held.push((await wsConnect(srv.port)).conn);
    // Several tries so that both workers' listeners are hit.
    for (let i = 0; i < 4; i++) assert503(await refusedUpgrade(srv.port));
    // A released slot is usable again.
    held.pop().destroy();
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
        try { held.push((await wsConnect(srv.port)).conn); ok = true; } catch { await sleep(50); }
    }
    assert.ok(ok, 'no connection accepted after one of the 4 was closed');
});

serverTest('the limit is released after many connect/close cycles', { flags: { enableEcho: true, maxConnections: 3 } }, async (t, srv) => {
    for (let i = 0; i < 30; i++) {
        const { conn } = await wsConnect(srv.port);
        await conn.write(frame(OP.CLOSE, Buffer.from([0x03, 0xe8])));
        await expectClose(conn, { reply: false });
        conn.destroy();
    }
    const held = [];
    t.after(() => held.forEach((c) => c.destroy()));
    for (let i = 0; i < 3; i++) held.push((await wsConnect(srv.port)).conn);
});

serverTest('--max-connections-per-ip 2: the 3rd from 127.0.0.1 gets 503, 127.0.0.2 still gets in', { flags: { enableEcho: true, maxConnections: 100, maxConnectionsPerIp: 2 } }, async (t, srv) => {
    const held = [];
    t.after(() => held.forEach((c) => c.destroy()));
    for (let i = 0; i < 2; i++) held.push((await wsConnect(srv.port, { localAddress: '127.0.0.1' })).conn);
    assert503(await refusedUpgrade(srv.port, { localAddress: '127.0.0.1' }));
    held.push((await wsConnect(srv.port, { localAddress: '127.0.0.2' })).conn);
    held.push((await wsConnect(srv.port, { localAddress: '127.0.0.2' })).conn);
    assert503(await refusedUpgrade(srv.port, { localAddress: '127.0.0.2' }));
});

serverTest('--max-messages-per-sec: a flood is closed with 1008', { flags: { enableEcho: true, maxMessagesPerSec: 20 } }, async (t, srv) => {
    const ws = await openWs(t, srv.port);
    const done = closed(ws, 10000);
    for (let i = 0; i < 2000 && ws.readyState === ws.OPEN; i++) {
        ws.send(`flood ${i}`);
        if (i % 100 === 99) await sleep(1);
    }
    const { code } = await done;
    assert.equal(code, 1008);
});

serverTest('--max-messages-per-sec: a client under the rate is never closed', { flags: { enableEcho: true, maxMessagesPerSec: 50 } }, async (t, srv) => {
    const ws = await openWs(t, srv.port);
    const inbox = messages(ws);
    let closedWith = null;
    ws.on('close', (code) => { closedWith = code; });
    for (let i = 0; i < 15; i++) {
        ws.send(`calm ${i}`);
        assert.equal((await inbox.next()).data.toString(), `calm ${i}`);
        await sleep(100); // 10 messages/s against a limit of 50
    }
    assert.equal(closedWith, null);
});

serverTest('--max-messages-per-sec: the limit is per connection', { flags: { enableEcho: true, maxMessagesPerSec: 20 } }, async (t, srv) => {
    const abuser = await openWs(t, srv.port);
    const calm = await openWs(t, srv.port);
    const inbox = messages(calm);
    const done = closed(abuser, 10000);
    for (let i = 0; i < 2000 && abuser.readyState === abuser.OPEN; i++) {
        abuser.send('x');
        if (i % 100 === 99) await sleep(1);
    }
    assert.equal((await done).code, 1008);
    calm.send('unaffected');
    assert.equal((await inbox.next()).data.toString(), 'unaffected');
});


serverTest('--max-messages-per-sec: a ping flood is closed with 1008 like a message flood', { flags: { enableEcho: true, maxMessagesPerSec: 20 } }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    const burst = [];
    for (let i = 0; i < 2000; i++) burst.push(frame(OP.PING, Buffer.from(`p${i}`)));
    await conn.write(Buffer.concat(burst));
    let pongs = 0;
    let f;
    for (;;) {
        f = await readFrame(conn, 5000);
        if (f.opcode === OP.PONG) pongs++;
        if (f.opcode === OP.CLOSE) break;
    }
    assert.equal(f.payload.readUInt16BE(0), 1008);
    // the burst allowance (20) plus nothing more: the rest got no pong
    assert.ok(pongs <= 21, `${pongs} pongs for a flood over a limit of 20/s`);
    assert.ok(pongs >= 19, `${pongs} pongs: pings under the limit must still be answered`);
});

serverTest('--max-messages-per-sec: pongs count too', { flags: { enableEcho: true, maxMessagesPerSec: 20 } }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    const burst = [];
    for (let i = 0; i < 2000; i++) burst.push(frame(OP.PONG, Buffer.alloc(0)));
    await conn.write(Buffer.concat(burst));
    const { code } = await expectClose(conn, { reply: false });
    assert.equal(code, 1008);
});
