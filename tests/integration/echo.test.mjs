// /echo with --enable-echo: every data message comes back with the same
// opcode and bytes, however it was framed or compressed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { serverTest, within } from './lib/server.mjs';
import { closed, messages, openWs } from './lib/client.mjs';
import { scrape, sum } from './lib/metrics.mjs';
import { OP, closePayload, expectClose, frame, readFrame, readMessage, wsConnect } from './lib/raw.mjs';

const ECHO = { enableEcho: true };

serverTest('text, unicode, empty and binary messages echo with their type', { flags: ECHO }, async (t, srv) => {
    const ws = await openWs(t, srv.port);
    const inbox = messages(ws);
    const cases = [
        ['hello', false], ['héllo wörld 🌍 — ✓', false], ['', false],
        [randomBytes(1000), true], [Buffer.alloc(0), true], [Buffer.from([0, 0xff, 0xfe, 0x80]), true],
    ];
    for (const [data, binary] of cases) ws.send(data, { binary });
    for (const [data, binary] of cases) {
        const msg = await inbox.next();
        assert.equal(msg.isBinary, binary);
        assert.deepEqual(Buffer.from(msg.data), Buffer.from(data));
    }
});

serverTest('sizes around the 7/16/64-bit length boundaries echo intact', { flags: ECHO }, async (t, srv) => {
    const ws = await openWs(t, srv.port);
    const inbox = messages(ws);
    const sizes = [125, 126, 127, 65535, 65536, 65537, 300 * 1024];
    const sent = sizes.map((n) => randomBytes(n));
    for (const data of sent) ws.send(data);
    for (const data of sent) {
        const msg = await inbox.next();
        assert.equal(msg.data.length, data.length);
        assert.ok(msg.data.equals(data), `payload of ${data.length} bytes differs`);
    }
});

serverTest('a 1 MiB message (the default limit) echoes', { flags: ECHO }, async (t, srv) => {
    const ws = await openWs(t, srv.port);
    const inbox = messages(ws);
    const data = randomBytes(1024 * 1024);
    ws.send(data);
    const msg = await inbox.next(10000);
    assert.ok(msg.data.equals(data));
});

serverTest('fragmented message from the ws library is echoed whole', { flags: ECHO }, async (t, srv) => {
    const ws = await openWs(t, srv.port);
    const inbox = messages(ws);
    ws.send('frag-one ', { fin: false });
    ws.send('frag-two ', { fin: false });
    ws.send('frag-three', { fin: true });
    const msg = await inbox.next();
    assert.equal(msg.isBinary, false);
    assert.equal(msg.data.toString(), 'frag-one frag-two frag-three');
});

serverTest('raw fragments with a ping in between: pong first, then the whole message', { flags: ECHO }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    await conn.write(frame(OP.BINARY, Buffer.from([1, 2, 3]), { fin: false }));
    await conn.write(frame(OP.CONT, Buffer.from([4, 5]), { fin: false }));
    await conn.write(frame(OP.PING, 'mid'));
    await conn.write(frame(OP.CONT, Buffer.alloc(0), { fin: false }));
    await conn.write(frame(OP.CONT, Buffer.from([6]), { fin: true }));
    const pong = await readFrame(conn);
    assert.equal(pong.opcode, OP.PONG);
    assert.equal(pong.payload.toString(), 'mid');
    const msg = await readMessage(conn);
    assert.equal(msg.opcode, OP.BINARY);
    assert.deepEqual([...msg.payload], [1, 2, 3, 4, 5, 6]);
});

serverTest('a UTF-8 character split across fragments is valid', { flags: ECHO }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    const text = Buffer.from('a€🌍b', 'utf8'); // 1 + 3 + 4 + 1 bytes
    await conn.write(frame(OP.TEXT, text.subarray(0, 2), { fin: false }));   // 'a' + first byte of €
    await conn.write(frame(OP.CONT, text.subarray(2, 5), { fin: false }));   // rest of € + first byte of 🌍
    await conn.write(frame(OP.CONT, text.subarray(5), { fin: true }));
    const msg = await readMessage(conn);
    assert.equal(msg.opcode, OP.TEXT);
    assert.ok(msg.payload.equals(text));
});

serverTest('a message written one byte per TCP segment echoes', { flags: ECHO }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    const bytes = frame(OP.TEXT, 'slowly but surely, with a 16-bit length: ' + 'x'.repeat(100));
    for (const b of bytes) await conn.write(Buffer.from([b]));
    const msg = await readMessage(conn);
    assert.equal(msg.payload.toString(), 'slowly but surely, with a 16-bit length: ' + 'x'.repeat(100));
});

serverTest('many frames in one TCP write all echo in order', { flags: ECHO }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    const n = 200;
    await conn.write(Buffer.concat(Array.from({ length: n }, (_, i) => frame(OP.TEXT, `m${i}`))));
    for (let i = 0; i < n; i++) {
        const msg = await readMessage(conn);
        assert.equal(msg.payload.toString(), `m${i}`);
    }
});

serverTest('server frames are unmasked and carry no RSV bits without an extension', { flags: ECHO }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    await conn.write(frame(OP.TEXT, 'plain'));
    const f = await readFrame(conn); // readFrame throws on a masked server frame
    assert.equal(f.rsv1 || f.rsv2 || f.rsv3, false);
    assert.equal(f.opcode, OP.TEXT);
});

serverTest('ping -> pong with the same payload (raw, 0 and 125 bytes)', { flags: ECHO }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    for (const payload of [Buffer.alloc(0), Buffer.from('ping!'), randomBytes(125)]) {
        await conn.write(frame(OP.PING, payload));
        const f = await readFrame(conn);
        assert.equal(f.opcode, OP.PONG);
        assert.ok(f.payload.equals(payload), `pong payload differs for ${payload.length} bytes`);
    }
});

serverTest('ping -> pong through the ws library', { flags: ECHO }, async (t, srv) => {
    const ws = await openWs(t, srv.port);
    const pong = within(5000, new Promise((resolve) => ws.once('pong', resolve)), 'pong');
    ws.ping(Buffer.from('are you there'));
    assert.equal((await pong).toString(), 'are you there');
});

serverTest('an unsolicited pong is ignored', { flags: ECHO }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    await conn.write(frame(OP.PONG, 'unasked'));
    await conn.write(frame(OP.TEXT, 'still here'));
    const msg = await readMessage(conn);
    assert.equal(msg.opcode, OP.TEXT);
    assert.equal(msg.payload.toString(), 'still here');
});

serverTest('client close 1000 through ws: server answers 1000 and closes', { flags: ECHO }, async (t, srv) => {
    const ws = await openWs(t, srv.port);
    const done = closed(ws);
    ws.close(1000, 'done');
    const { code } = await done;
    assert.equal(code, 1000);
});

// ---- permessage-deflate (RFC 7692) -------------------------------------------

serverTest('permessage-deflate is negotiated and compressed messages echo', { flags: ECHO }, async (t, srv) => {
    const ws = await openWs(t, srv.port, { perMessageDeflate: { threshold: 0 } });
    assert.match(ws.extensions, /permessage-deflate/);
    const inbox = messages(ws);
    const big = 'the quick brown fox jumps over the lazy dog. '.repeat(5000);
    const sent = [big, 'short', '', randomBytes(5000), big.toUpperCase()];
    for (const m of sent) ws.send(m);
    for (const m of sent) {
        const msg = await inbox.next();
        assert.ok(Buffer.from(msg.data).equals(Buffer.from(m)), 'compressed echo differs');
    }
});

serverTest('deflate with no_context_takeover and window bits honoured', { flags: ECHO }, async (t, srv) => {
    const ws = await openWs(t, srv.port, {
        perMessageDeflate: { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
    });
    // ws fails the handshake if the answer does not fit its offer (e.g. a
    // server_max_window_bits larger than offered), so being open means it fits.
    assert.match(ws.extensions, /permessage-deflate/);
    const inbox = messages(ws);
    for (let i = 0; i < 5; i++) {
        const text = `round ${i}: ` + 'abcabcabc'.repeat(2000 + i);
        ws.send(text);
        assert.equal((await inbox.next()).data.toString(), text);
    }
});

serverTest('a compressed message in fragments echoes', { flags: ECHO }, async (t, srv) => {
    const ws = await openWs(t, srv.port, { perMessageDeflate: { threshold: 0 } });
    const inbox = messages(ws);
    ws.send('compressed '.repeat(100), { fin: false, compress: true });
    ws.send('fragments'.repeat(100), { fin: true, compress: true });
    assert.equal((await inbox.next()).data.toString(), 'compressed '.repeat(100) + 'fragments'.repeat(100));
});

serverTest('raw offer with parameters: the 101 answers them (RFC 7692)', { flags: ECHO }, async (t, srv) => {
    const { conn, res } = await wsConnect(srv.port, {
        headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits' },
    });
    conn.destroy();
    const ext = res.headers['sec-websocket-extensions'] ?? '';
    assert.match(ext, /^permessage-deflate\b/, `extensions: ${ext}`);
    assert.match(ext, /server_no_context_takeover/, 'server_no_context_takeover not acknowledged');
    const bits = ext.match(/server_max_window_bits=(\d+)/);
    assert.ok(bits && Number(bits[1]) <= 10 && Number(bits[1]) >= 8, `server_max_window_bits not honoured: ${ext}`);
    const cbits = ext.match(/client_max_window_bits(?:=(\d+))?/);
    if (cbits && cbits[1] !== undefined) assert.ok(Number(cbits[1]) >= 8 && Number(cbits[1]) <= 15);
});

serverTest('an invalid offer is declined (101 without it) or refused (400), never accepted', { flags: ECHO }, async (t, srv) => {
    const { buildRequest, httpOnce, newKey, upgradeHeaders } = await import('./lib/raw.mjs');
    const res = await httpOnce(srv.port, buildRequest({
        path: '/echo',
        headers: upgradeHeaders(newKey(), { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=99' }),
    }));
    assert.ok([101, 400].includes(res.status), `got ${res.status}`);
    if (res.status === 101) assert.equal(res.headers['sec-websocket-extensions'], undefined, 'accepted server_max_window_bits=99');
});

serverTest('--no-deflate: the offer is declined and messages still echo', { flags: { ...ECHO, noDeflate: true } }, async (t, srv) => {
    const ws = await openWs(t, srv.port, { perMessageDeflate: true });
    assert.equal(ws.extensions, '');
    const inbox = messages(ws);
    ws.send('uncompressed');
    assert.equal((await inbox.next()).data.toString(), 'uncompressed');
});

serverTest('without an offer, frames never carry RSV1', { flags: ECHO }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    await conn.write(frame(OP.TEXT, 'z'.repeat(10000)));
    const f = await readFrame(conn);
    assert.equal(f.rsv1, false);
});

serverTest('close with a reason echoes code and the TCP connection ends', { flags: ECHO }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    await conn.write(frame(OP.CLOSE, closePayload(1000, 'bye now')));
    const c = await expectClose(conn, { reply: false });
    assert.equal(c.code, 1000);
    assert.ok(c.tcpClosed, 'server kept TCP open after the close exchange');
});

serverTest('a connection stops using zero-copy sends once the kernel reports it copied them',
    { flags: { ...ECHO, zerocopyMinBytes: 16384 } }, async (t, srv) => {
        const ws = await openWs(t, srv.port);
        const inbox = messages(ws);
        const ECHOES = 20;
        for (let i = 0; i < ECHOES; i++) {
            const data = randomBytes(64 * 1024);
            ws.send(data);
            const msg = await inbox.next();
            assert.ok(Buffer.from(msg.data).equals(data), `echo ${i} differs`);
        }
        const m = await scrape(srv.port);
        const enabled = sum(m, /^ringpad_zerocopy_enabled$/);
        const zc = sum(m, /^ringpad_zerocopy_sends_total$/);
        const copied = sum(m, /^ringpad_zerocopy_copied_total$/);
        if (enabled === 0) {
            assert.equal(zc, 0, 'zero-copy sends while the kernel lacks SEND_ZC');
            return;
        }
        // Loopback always copies: the first send or two find out, the rest are plain.
        assert.ok(copied >= 1, `no zero-copy send was reported copied (${zc} sent)`);
        assert.ok(zc <= 4, `${zc} of ${ECHOES} echoes went zero-copy after the kernel said it copies`);
    });
