// An idle WebSocket gives its buffers back at the heartbeat ping (reassembly
// buffer, zlib deflate state, inflate state under client_no_context_takeover)
// and re-creates them lazily: messages before and after idle periods, whole,
// fragmented and compressed, must all still echo intact.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { serverTest, sleep } from './lib/server.mjs';
import { messages, openWs } from './lib/client.mjs';

const FLAGS = { enableEcho: true, pingIntervalMs: 100, idleTimeoutMs: 10000 };

async function roundTrip(ws, inbox, data, options = {}) {
    ws.send(data, options);
    const msg = await inbox.next();
    assert.ok(Buffer.from(msg.data).equals(Buffer.from(data)), 'echo differs after an idle period');
}

serverTest('compressed messages (context takeover) echo across idle periods', { flags: FLAGS }, async (t, srv) => {
    const ws = await openWs(t, srv.port, { perMessageDeflate: { threshold: 0 } });
    assert.match(ws.extensions, /permessage-deflate/);
    let pings = 0;
    ws.on('ping', () => { pings++; });
    const inbox = messages(ws);
    const text = 'the same words again and again, so the context matters. '.repeat(200);
    for (let round = 0; round < 3; round++) {
        await roundTrip(ws, inbox, text);
        await roundTrip(ws, inbox, text + round);   // compressed against the previous message
        const before = pings;
        await sleep(350);                           // > 3 ping intervals: idle, buffers released
        assert.ok(pings > before, 'the server did not ping while the connection was idle');
    }
});

serverTest('client_no_context_takeover: inflater released and re-created across idle periods', { flags: FLAGS }, async (t, srv) => {
    const ws = await openWs(t, srv.port, { perMessageDeflate: { threshold: 0, clientNoContextTakeover: true } });
    assert.match(ws.extensions, /permessage-deflate/);
    const inbox = messages(ws);
    for (let round = 0; round < 3; round++) {
        await roundTrip(ws, inbox, `round ${round} ` + 'xyz'.repeat(3000));
        await sleep(350);
    }
});

serverTest('fragmented messages spanning an idle period are reassembled', { flags: FLAGS }, async (t, srv) => {
    const ws = await openWs(t, srv.port);
    const inbox = messages(ws);
    const a = randomBytes(3000), b = randomBytes(3000);
    ws.send(a, { fin: false, binary: true });
    await sleep(350);                               // the server pings mid-message: the buffer stays
    ws.send(b, { fin: true, binary: true });
    const msg = await inbox.next();
    assert.ok(Buffer.from(msg.data).equals(Buffer.concat([a, b])), 'a message interrupted by idle lost bytes');
    await sleep(350);                               // now idle between messages: the buffer goes
    await roundTrip(ws, inbox, randomBytes(5000), { binary: true });
});
