// A client that stops reading while the server echoes large messages: the
// server must evict it (1008) once --max-send-queue-bytes is exceeded, and its
// memory must not grow with what the stalled client asked for.
import assert from 'node:assert/strict';
import { serverTest, sleep } from './lib/server.mjs';
import { messages, openWs } from './lib/client.mjs';
import { OP, frame, readFrame, wsConnect } from './lib/raw.mjs';

const MIB = 1024 * 1024;
const FLAGS = { enableEcho: true, maxSendQueueBytes: 1 * MIB, maxMessageBytes: 1 * MIB, pingIntervalMs: 60000, idleTimeoutMs: 60000 };
const MESSAGE_BYTES = 512 * 1024;
const MESSAGES = 256;            // 128 MiB asked for: far past kernel buffers + the queue
const RSS_GROWTH_MAX_KB = 48 * 1024;

/** Sums the value of every sample of `name` whose labels match `labelRe`. */
async function metricSum(port, nameRe, labelRe = /.*/) {
    const { get } = await import('./lib/raw.mjs');
    const res = await get(port, '/metrics');
    let sum = 0;
    for (const line of res.text().split('\n')) {
        const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/);
        if (m && nameRe.test(m[1]) && labelRe.test(m[2] ?? '')) sum += Number(m[3]);
    }
    return sum;
}

serverTest('a stalled reader is evicted with 1008 and server RSS stays bounded', { flags: FLAGS, timeout: 60000 }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    conn.socket.pause(); // never read: the server's sends back up

    await sleep(100);
    const rssBeforeKb = srv.rssKb();
    let peakKb = rssBeforeKb;
    const sampler = setInterval(() => {
        try { peakKb = Math.max(peakKb, srv.rssKb()); } catch { /* exited */ }
    }, 10);
    t.after(() => clearInterval(sampler));

    const payload = Buffer.alloc(MESSAGE_BYTES, 0x42);
    const one = frame(OP.BINARY, payload);
    let written = 0;
    for (let i = 0; i < MESSAGES && !conn.ended; i++) {
        // Do not await: once the server stops reading, our writes back up too.
        conn.socket.write(one, () => {});
        written++;
        if (i % 8 === 7) await sleep(5);
    }
    // Give the server time to notice; bounded.
    for (let i = 0; i < 100 && !conn.ended; i++) {
        await sleep(50);
        if (conn.socket.writableLength === 0 && i > 20) break;
    }
    clearInterval(sampler);
    const hwmGrowthKb = peakKb - rssBeforeKb;
    assert.ok(hwmGrowthKb < RSS_GROWTH_MAX_KB,
        `server RSS grew by ${hwmGrowthKb} kB (limit ${RSS_GROWTH_MAX_KB}) after ${written} x ${MESSAGE_BYTES} bytes`);

    // Now read everything the server managed to send and look for its 1008.
    conn.socket.resume();
    let closeCode = null;
    try {
        for (let i = 0; i < 10000; i++) {
            const f = await readFrame(conn, 5000);
            if (f.opcode === OP.CLOSE) { closeCode = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null; break; }
        }
    } catch { /* the server may reset the connection instead of flushing a close */ }
    assert.ok(await conn.closedWithin(5000), 'the stalled connection was never closed');
    if (closeCode === null) {
        // The close frame cannot always get through a full socket; the metrics must say why it closed.
        const n = await metricSum(srv.port, /close|closed/, /1008|slow/);
        assert.ok(n >= 1, 'no close frame 1008 and no 1008/slow-consumer close in /metrics');
    } else {
        assert.equal(closeCode, 1008);
    }
    // Whatever reached the client, the close is counted under its reason.
    assert.equal(await metricSum(srv.port, /^ringpad_connections_closed_total$/, /reason="slow_consumer"/), 1);
    assert.equal(srv.exitInfo, null, 'server exited');
});

serverTest('other clients keep being served while one reader is stalled', { flags: FLAGS, timeout: 60000 }, async (t, srv) => {
    const { conn: stalled } = await wsConnect(srv.port);
    t.after(() => stalled.destroy());
    stalled.socket.pause();
    const ws = await openWs(t, srv.port);
    const inbox = messages(ws);
    const big = frame(OP.BINARY, Buffer.alloc(MESSAGE_BYTES, 1));
    for (let i = 0; i < 64; i++) stalled.socket.write(big, () => {});
    for (let i = 0; i < 20; i++) {
        ws.send(`live ${i}`);
        assert.equal((await inbox.next(5000)).data.toString(), `live ${i}`);
    }
});

serverTest('a fast reader of large echoes is not evicted', { flags: FLAGS, timeout: 60000 }, async (t, srv) => {
    const ws = await openWs(t, srv.port);
    const inbox = messages(ws);
    let closedWith = null;
    ws.on('close', (code) => { closedWith = code; });
    const payload = Buffer.alloc(MESSAGE_BYTES, 7);
    // One in flight at a time: the echo never needs more than half the queue.
    for (let round = 0; round < 16; round++) {
        ws.send(payload);
        assert.equal((await inbox.next(10000)).data.length, MESSAGE_BYTES);
    }
    assert.equal(closedWith, null);
});
