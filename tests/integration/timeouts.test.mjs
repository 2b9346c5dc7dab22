// Heartbeats and deadlines with small flag values: silent peers are closed,
// responsive ones are kept, unfinished handshakes are dropped.
// Bounds are generous (10x the flag) so that a loaded machine does not flake;
// what is checked is that the deadline exists, not its precision.
import assert from 'node:assert/strict';
import { serverTest, sleep, within } from './lib/server.mjs';
import { messages, openWs } from './lib/client.mjs';
import { OP, connect, frame, readFrame, wsConnect } from './lib/raw.mjs';

serverTest('a silent peer that never answers pings is closed after --idle-timeout-ms', { flags: { enableEcho: true, pingIntervalMs: 100, idleTimeoutMs: 400 } }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    // Read (and never answer) whatever the server sends: pings, then maybe a close.
    const seen = [];
    const reader = (async () => {
        for (;;) {
            const f = await readFrame(conn, 10000);
            seen.push(f.opcode);
            if (f.opcode === OP.CLOSE) return f;
        }
    })().catch(() => null);
    assert.ok(await conn.closedWithin(5000), 'silent connection still open 5 s after a 400 ms idle timeout');
    await reader;
    assert.ok(seen.includes(OP.PING), `no ping was sent before closing (frames: ${seen})`);
});

serverTest('the server pings every --ping-interval-ms', { flags: { enableEcho: true, pingIntervalMs: 100, idleTimeoutMs: 10000 } }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    for (let i = 0; i < 3; i++) {
        const f = await readFrame(conn, 3000);
        assert.equal(f.opcode, OP.PING, `frame ${i} is opcode ${f.opcode}`);
        // Answer so that the connection counts as alive.
        await conn.write(frame(OP.PONG, f.payload));
    }
});

serverTest('a client that answers pings outlives the idle timeout', { flags: { enableEcho: true, pingIntervalMs: 100, idleTimeoutMs: 1000 } }, async (t, srv) => {
    const ws = await openWs(t, srv.port); // ws answers pings by itself
    let pings = 0;
    ws.on('ping', () => { pings++; });
    let closedEarly = null;
    ws.on('close', (code) => { closedEarly = code; });
    await sleep(2500);
    assert.equal(closedEarly, null, `closed with ${closedEarly} though it answered every ping`);
    assert.ok(pings >= 3, `only ${pings} pings in 2.5 s at a 100 ms interval`);
    const inbox = messages(ws);
    ws.send('alive');
    assert.equal((await inbox.next()).data.toString(), 'alive');
});

serverTest('a client that keeps sending data is not idle', { flags: { enableEcho: true, pingIntervalMs: 60000, idleTimeoutMs: 800 } }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    for (let i = 0; i < 20; i++) { // ~2 s, 2.5x the idle timeout
        await conn.write(frame(OP.TEXT, `tick ${i}`));
        let f;
        do f = await readFrame(conn, 3000); while (f.opcode === OP.PING); // pings are left unanswered on purpose
        assert.equal(f.opcode, OP.TEXT, `tick ${i}: got opcode ${f.opcode}`);
        await sleep(100);
    }
});

serverTest('a TCP connection that never sends a request is dropped after --handshake-timeout-ms', { flags: { handshakeTimeoutMs: 300 } }, async (t, srv) => {
    const conn = await connect(srv.port);
    t.after(() => conn.destroy());
    assert.ok(await conn.closedWithin(5000), 'still open 5 s after a 300 ms handshake deadline');
});

serverTest('a request head trickled forever is dropped after --handshake-timeout-ms', { flags: { handshakeTimeoutMs: 300 } }, async (t, srv) => {
    const conn = await connect(srv.port);
    t.after(() => conn.destroy());
    await conn.write('GET /ws HTTP/1.1\r\nHost: x\r\n');
    const trickle = setInterval(() => { conn.write('X-Slow: y\r\n').catch(() => {}); }, 50);
    t.after(() => clearInterval(trickle));
    assert.ok(await conn.closedWithin(5000), 'a slowloris kept its connection 5 s past a 300 ms deadline');
});

serverTest('an upgraded connection is not subject to the handshake deadline', { flags: { enableEcho: true, handshakeTimeoutMs: 200, pingIntervalMs: 60000, idleTimeoutMs: 60000 } }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    await sleep(800);
    assert.ok(!conn.ended, 'upgraded connection closed by the handshake deadline');
    await conn.write(frame(OP.TEXT, 'late'));
    const f = await within(3000, readFrame(conn), 'echo');
    assert.equal(f.payload.toString(), 'late');
});
