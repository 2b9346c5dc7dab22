// Every protocol violation a client can commit, sent as hand-made frames on
// /echo, and the close code RFC 6455 demands for it. The server must send its
// close frame and then end the TCP connection.
import assert from 'node:assert/strict';
import { deflateRawSync, constants as zc } from 'node:zlib';
import { serverTest, sleep } from './lib/server.mjs';
import { OP, closePayload, expectClose, frame, readResponse, wsConnect, connect, buildRequest, upgradeHeaders, newKey } from './lib/raw.mjs';

const ECHO = { enableEcho: true };

/** Sends `frames` (Buffers) and expects a close with `code`. */
function violation(name, code, frames, { flags = ECHO, headers } = {}) {
    const codes = [code].flat();
    serverTest(`${name} -> ${codes.join(' or ')}`, { flags }, async (t, srv) => {
        const { conn } = await wsConnect(srv.port, { headers });
        t.after(() => conn.destroy());
        for (const f of typeof frames === 'function' ? frames() : frames) await conn.write(f);
        const c = await expectClose(conn);
        assert.ok(codes.includes(c.code), `close code ${c.code} (${c.reason}), expected ${codes.join(' or ')}`);
        assert.ok(c.tcpClosed, 'server did not close TCP after the close exchange');
        // The server must still be healthy.
        const { conn: again } = await wsConnect(srv.port);
        again.destroy();
    });
}

// ---- 1002 protocol errors -------------------------------------------------------
violation('unmasked client frame', 1002, [frame(OP.TEXT, 'naked', { mask: false })]);
for (const op of [0x3, 0x4, 0x5, 0x6, 0x7]) violation(`reserved data opcode 0x${op.toString(16)}`, 1002, [frame(op, 'x')]);
for (const op of [0xb, 0xc, 0xd, 0xe, 0xf]) violation(`reserved control opcode 0x${op.toString(16)}`, 1002, [frame(op, 'x')]);
violation('RSV1 without a negotiated extension', 1002, [frame(OP.TEXT, 'x', { rsv1: true })]);
violation('RSV2', 1002, [frame(OP.TEXT, 'x', { rsv2: true })]);
violation('RSV3', 1002, [frame(OP.BINARY, 'x', { rsv3: true })]);
violation('RSV1 on a ping', 1002, [frame(OP.PING, 'x', { rsv1: true })]);
violation('ping of 126 bytes (oversized control)', 1002, [frame(OP.PING, Buffer.alloc(126, 1))]);
violation('close of 126 bytes (oversized control)', 1002, [frame(OP.CLOSE, closePayload(1000, 'r'.repeat(124)))]);
violation('fragmented ping (FIN=0)', 1002, [frame(OP.PING, 'x', { fin: false })]);
violation('fragmented close (FIN=0)', 1002, [frame(OP.CLOSE, closePayload(1000), { fin: false })]);
violation('continuation without a start', 1002, [frame(OP.CONT, 'orphan')]);
violation('non-final continuation without a start', 1002, [frame(OP.CONT, 'orphan', { fin: false })]);
violation('new text frame inside a fragmented message', 1002, [frame(OP.TEXT, 'a', { fin: false }), frame(OP.TEXT, 'b')]);
violation('new binary frame inside a fragmented message', 1002, [frame(OP.BINARY, 'a', { fin: false }), frame(OP.BINARY, 'b', { fin: false })]);
violation('64-bit length with the top bit set', 1002, () => {
    const f = Buffer.from([0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]);
    return [f];
});

// ---- close frames ----------------------------------------------------------------
violation('close with a 1-byte payload', 1002, [frame(OP.CLOSE, Buffer.from([0x03]))]);
for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    violation(`close with invalid code ${code}`, 1002, [frame(OP.CLOSE, closePayload(code))]);
}
violation('close reason that is invalid UTF-8', 1007, [frame(OP.CLOSE, closePayload(1000, Buffer.from([0x61, 0xc3, 0x28])))], {});

for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    serverTest(`valid close code ${code} is echoed`, { flags: ECHO }, async (t, srv) => {
        const { conn } = await wsConnect(srv.port);
        t.after(() => conn.destroy());
        await conn.write(frame(OP.CLOSE, closePayload(code, 'reason ✓')));
        const c = await expectClose(conn, { reply: false });
        assert.equal(c.code, code);
        assert.ok(c.tcpClosed, 'server kept TCP open after the close exchange');
    });
}

serverTest('empty close is answered with an empty close or 1000', { flags: ECHO }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    await conn.write(frame(OP.CLOSE, Buffer.alloc(0)));
    const c = await expectClose(conn, { reply: false });
    assert.ok(c.code === null || c.code === 1000, `got ${c.code}`);
    assert.ok(c.tcpClosed);
});

serverTest('data after the client close is ignored, no echo after close', { flags: ECHO }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    await conn.write(Buffer.concat([frame(OP.CLOSE, closePayload(1000)), frame(OP.TEXT, 'too late')]));
    const c = await expectClose(conn, { reply: false });
    assert.equal(c.code, 1000);
    assert.equal(conn.buf.length, 0, 'server sent bytes after its close frame');
});

serverTest('server closes TCP after --close-timeout-ms when the peer never answers its close', { flags: { ...ECHO, closeTimeoutMs: 300 } }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    await conn.write(frame(OP.TEXT, 'x', { mask: false }));
    const c = await expectClose(conn, { reply: false, closeWaitMs: 5000 });
    assert.equal(c.code, 1002);
    assert.ok(c.tcpClosed, 'TCP still open 5 s after a 300 ms close timeout');
});

// ---- 1007 invalid UTF-8 ----------------------------------------------------------
const bad = {
    'a lone continuation byte': [0x80],
    '0xFF': [0x61, 0xff],
    'an overlong slash (C0 AF)': [0xc0, 0xaf],
    'an overlong 3-byte NUL (E0 80 80)': [0xe0, 0x80, 0x80],
    'a UTF-16 surrogate (ED A0 80)': [0xed, 0xa0, 0x80],
    'a code point above U+10FFFF (F4 90 80 80)': [0xf4, 0x90, 0x80, 0x80],
    'a truncated 3-byte sequence at the end': [0x61, 0xe2, 0x82],
};
for (const [what, bytes] of Object.entries(bad)) {
    violation(`text with ${what}`, 1007, [frame(OP.TEXT, Buffer.from(bytes))]);
}
violation('invalid UTF-8 split across fragments (E2 82 | 28)', 1007, [
    frame(OP.TEXT, Buffer.from([0x61, 0xe2, 0x82]), { fin: false }),
    frame(OP.CONT, Buffer.from([0x28, 0x61]), { fin: true }),
]);
violation('a sequence truncated by the final fragment', 1007, [
    frame(OP.TEXT, Buffer.from('ok'), { fin: false }),
    frame(OP.CONT, Buffer.from([0xf0, 0x9f, 0x8c]), { fin: true }),
]);

serverTest('invalid UTF-8 in the first fragment fails before the message ends -> 1007', { flags: ECHO }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    // The message is never finished: only incremental validation can catch it.
    await conn.write(frame(OP.TEXT, Buffer.from([0x61, 0xff, 0x62]), { fin: false }));
    const c = await expectClose(conn);
    assert.equal(c.code, 1007);
});

// ---- 1009 message too big ---------------------------------------------------------
const LIMIT = { ...ECHO, maxMessageBytes: 65536 };
const M = { flags: LIMIT };
violation('a frame of max-message-bytes + 1', 1009, [frame(OP.BINARY, Buffer.alloc(65537))], M);
violation('fragments adding up past max-message-bytes', 1009, () => {
    const part = Buffer.alloc(20000, 0x61);
    return [0, 1, 2, 3].map((i) => frame(i ? OP.CONT : OP.TEXT, part, { fin: i === 3 }));
}, M);

serverTest('a frame header announcing 1 TiB -> 1009 at once, no allocation', { ...M }, async (t, srv) => {
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    const rssBefore = srv.rssKb();
    await conn.write(frame(OP.BINARY, Buffer.alloc(16), { length: 2 ** 40 }));
    const c = await expectClose(conn);
    assert.equal(c.code, 1009);
    assert.ok(srv.rssKb() - rssBefore < 64 * 1024, 'RSS grew by 64 MiB after a 1 TiB announcement');
});

serverTest('a message exactly at max-message-bytes is accepted', { ...M }, async (t, srv) => {
    const { readMessage } = await import('./lib/raw.mjs');
    const { conn } = await wsConnect(srv.port);
    t.after(() => conn.destroy());
    const data = Buffer.alloc(65536, 0x5a);
    await conn.write(frame(OP.BINARY, data));
    const msg = await readMessage(conn);
    assert.ok(msg.payload.equals(data));
});

// ---- compressed: bombs and bad deflate data ------------------------------------------
const DEFLATE = { flags: LIMIT, headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } };

/** RFC 7692 payload: raw deflate, sync-flushed, the 00 00 FF FF tail removed. */
function pmd(data) {
    const out = deflateRawSync(data, { finishFlush: zc.Z_SYNC_FLUSH });
    assert.deepEqual([...out.subarray(-4)], [0, 0, 0xff, 0xff]);
    return out.subarray(0, -4);
}

serverTest('raw permessage-deflate offer is accepted in the 101', { flags: ECHO }, async (t, srv) => {
    const { conn, res } = await wsConnect(srv.port, { headers: DEFLATE.headers });
    conn.destroy();
    assert.match(res.headers['sec-websocket-extensions'] ?? '', /^permessage-deflate\b/);
});

serverTest('a hand-compressed message echoes', { flags: ECHO }, async (t, srv) => {
    const { readMessage } = await import('./lib/raw.mjs');
    const { inflateRawSync } = await import('node:zlib');
    const { conn } = await wsConnect(srv.port, { headers: DEFLATE.headers });
    t.after(() => conn.destroy());
    const text = 'hello deflate '.repeat(200);
    await conn.write(frame(OP.TEXT, pmd(Buffer.from(text)), { rsv1: true }));
    const msg = await readMessage(conn);
    assert.equal(msg.opcode, OP.TEXT);
    const body = msg.rsv1 ? inflateRawSync(Buffer.concat([msg.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zc.Z_SYNC_FLUSH }) : msg.payload;
    assert.equal(body.toString(), text);
});

violation('a compressed bomb (16 MiB of zeros) past max-message-bytes', 1009, () => [
    frame(OP.BINARY, pmd(Buffer.alloc(16 * 1024 * 1024)), { rsv1: true }),
], DEFLATE);
violation('RSV1 on a continuation frame', 1002, () => [
    frame(OP.TEXT, pmd(Buffer.from('abc')), { rsv1: true, fin: false }),
    frame(OP.CONT, pmd(Buffer.from('def')), { rsv1: true }),
], { ...DEFLATE });
violation('RSV1 on a control frame with deflate negotiated', 1002, [frame(OP.PING, 'x', { rsv1: true })], { ...DEFLATE });
violation('compressed data that is not deflate', [1007, 1002], [frame(OP.TEXT, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x12]), { rsv1: true })], { ...DEFLATE });
violation('compressed text that inflates to invalid UTF-8', 1007, () => [frame(OP.TEXT, pmd(Buffer.from([0x61, 0xff])), { rsv1: true })], { ...DEFLATE });

serverTest('a connection refused by a close rule leaves the server serving others', { flags: ECHO }, async (t, srv) => {
    const { readMessage } = await import('./lib/raw.mjs');
    const { conn: good } = await wsConnect(srv.port);
    t.after(() => good.destroy());
    for (let i = 0; i < 10; i++) {
        const { conn } = await wsConnect(srv.port);
        await conn.write(frame(0x5, 'bad'));
        await expectClose(conn);
        conn.destroy();
    }
    await good.write(frame(OP.TEXT, 'still echoing'));
    assert.equal((await readMessage(good)).payload.toString(), 'still echoing');
    await sleep(0);
});
