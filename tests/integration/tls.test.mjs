// TLS (wolfSSL on the io_uring loop) seen by Node's own TLS stack: wss and
// https on one port, certificates checked by the client, versions, ALPN,
// resumption, plaintext on the TLS port, a stalled handshake, SIGHUP reload
// and 200 concurrent TLS connections.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { parseMetrics, sum } from './lib/metrics.mjs';
import { WEB_ROOT, within } from './lib/server.mjs';
import { IO_TIMEOUT_MS, httpsGet, makeCerts, startTlsServer, tlsConnect } from './lib/tls.mjs';

let certs;
before(() => { certs = makeCerts(); });
after(() => certs?.remove());

async function server(t, { cert = 'a', ...flags } = {}) {
    const srv = await startTlsServer({ tlsCert: certs.path(`${cert}.pem`), tlsKey: certs.path(`${cert}-key.pem`), ...flags });
    t.after(() => srv.stop());
    return srv;
}

function openWss(t, port, options = {}) {
    const ws = new WebSocket(`wss://127.0.0.1:${port}/echo`, { ca: certs.ca, servername: 'localhost', perMessageDeflate: false, ...options });
    ws.binaryType = 'nodebuffer';
    t.after(() => ws.terminate());
    return within(IO_TIMEOUT_MS, new Promise((resolve, reject) => {
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
    }), 'wss open');
}

function echo(ws, data) {
    return within(IO_TIMEOUT_MS, new Promise((resolve) => {
        ws.once('message', (msg) => resolve(msg));
        ws.send(data);
    }), 'echo');
}

async function metrics(port) {
    const res = await httpsGet(port, '/metrics', { ca: certs.ca });
    assert.equal(res.status, 200);
    return parseMetrics(res.body.toString());
}

const peerFingerprint = (s) => s.getPeerX509Certificate().fingerprint256;

test('wss echo over TLS 1.3 with a certificate the client verifies', async (t) => {
    const srv = await server(t, { enableEcho: true });
    const ws = await openWss(t, srv.port);
    assert.equal(ws._socket.getProtocol(), 'TLSv1.3');
    for (const size of [0, 1, 125, 1024, 70000, 300 * 1024]) {
        const data = randomBytes(size);
        assert.deepEqual(await echo(ws, data), data, `${size} bytes`);
    }
    const m = await metrics(srv.port);
    assert.ok(sum(m, /^ringpad_tls_handshakes_total$/) >= 2);
});

test('https serves static files and /healthz on the same port, ALPN http/1.1', async (t) => {
    const srv = await server(t);
    const index = await httpsGet(srv.port, '/', { ca: certs.ca, ALPNProtocols: ['http/1.1'] });
    assert.equal(index.status, 200);
    assert.equal(index.protocol, 'TLSv1.3');
    assert.equal(index.alpn, 'http/1.1');
    assert.deepEqual(index.body, readFileSync(path.join(WEB_ROOT, 'index.html')));
    const health = await httpsGet(srv.port, '/healthz', { ca: certs.ca });
    assert.equal(health.status, 200);
    assert.equal(health.alpn, false, 'no ALPN offered, none chosen');
});

test('a client offering only h2 is refused (no_application_protocol)', async (t) => {
    const srv = await server(t);
    await assert.rejects(tlsConnect(srv.port, { ca: certs.ca, ALPNProtocols: ['h2'] }));
});

test('untrusted and expired certificates are refused by the client, and counted', async (t) => {
    const self = await server(t, { cert: 'self' });
    await assert.rejects(httpsGet(self.port, '/healthz', { ca: certs.ca }), (err) => err.code === 'DEPTH_ZERO_SELF_SIGNED_CERT');
    const expired = await server(t, { cert: 'expired' });
    await assert.rejects(httpsGet(expired.port, '/healthz', { ca: certs.ca }), (err) => err.code === 'CERT_HAS_EXPIRED');
    const unknownCa = await server(t);
    await assert.rejects(httpsGet(unknownCa.port, '/healthz'), (err) => err.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // (Node checks the chain after its TLS stack finished the handshake: the server sees a close, not an alert)
});

test('a TLS 1.2-only client is refused when the minimum is 1.3, accepted at 1.2', async (t) => {
    const strict = await server(t);
    await assert.rejects(tlsConnect(strict.port, { ca: certs.ca, maxVersion: 'TLSv1.2' }));
    await strict.waitLog(/TLS handshake failed: .*\(wolfSSL -\d+\)/);
    const m = await metrics(strict.port);
    assert.equal(sum(m, /^ringpad_errors_total$/, (l) => l.kind === 'tls_handshake'), 1);
    assert.equal(sum(m, /^ringpad_connections_closed_total$/, (l) => l.reason === 'tls_error'), 1);
    const lenient = await server(t, { tlsMinVersion: '1.2' });
    const s = await tlsConnect(lenient.port, { ca: certs.ca, maxVersion: 'TLSv1.2' });
    assert.equal(s.getProtocol(), 'TLSv1.2');
    s.destroy();
});

async function resumes(t, version) {
    const srv = await server(t, { tlsMinVersion: '1.2' });
    const first = await tlsConnect(srv.port, { ca: certs.ca, minVersion: version, maxVersion: version });
    // TLS 1.3 tickets come after the handshake: wait for the session
    const session = await within(IO_TIMEOUT_MS, new Promise((resolve) => {
        if (first.sessions.length > 0) resolve(first.sessions.at(-1));
        else first.once('session', resolve);
    }), 'session ticket');
    first.end();
    const second = await tlsConnect(srv.port, { ca: certs.ca, session, minVersion: version, maxVersion: version });
    assert.equal(second.isSessionReused(), true);
    // the resumed session carries a request (and the server has seen our Finished)
    const reply = await within(IO_TIMEOUT_MS, new Promise((resolve) => {
        const chunks = [];
        second.on('data', (c) => chunks.push(c));
        second.on('end', () => resolve(Buffer.concat(chunks).toString()));
        second.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    }), 'request on the resumed session');
    assert.match(reply, /^HTTP\/1\.1 200 /);
    second.destroy();
    const m = await metrics(srv.port);
    assert.ok(sum(m, /^ringpad_tls_resumed_total$/) >= 1);
}

test('resumption with a session ticket (TLS 1.3)', async (t) => resumes(t, 'TLSv1.3'));
test('resumption with a session ticket (TLS 1.2)', async (t) => resumes(t, 'TLSv1.2'));

test('plaintext HTTP sent to the TLS port gets a 400 and a close, not a hang', async (t) => {
    const srv = await server(t);
    const reply = await within(IO_TIMEOUT_MS, new Promise((resolve, reject) => {
        const s = net.connect(srv.port, '127.0.0.1', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
        const chunks = [];
        s.on('data', (c) => chunks.push(c));
        s.on('end', () => resolve(Buffer.concat(chunks).toString()));
        s.on('error', reject);
    }), 'plaintext reply and close');
    assert.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(reply, /speaks TLS/);
    // and random bytes that are not TLS just get closed
    const closed = await within(IO_TIMEOUT_MS, new Promise((resolve) => {
        const s = net.connect(srv.port, '127.0.0.1', () => s.write(Buffer.from([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07])));
        s.on('data', () => {});
        s.on('close', () => resolve(true));
        s.on('error', () => {});
    }), 'close on garbage');
    assert.equal(closed, true);
});

test('a client stalling mid-handshake does not delay 100 others and is dropped at the deadline', async (t) => {
    const srv = await server(t, { handshakeTimeoutMs: 1500 });
    // a record header promising a ClientHello that never comes
    const stalled = net.connect(srv.port, '127.0.0.1');
    t.after(() => stalled.destroy());
    const stalledClosed = new Promise((resolve) => { stalled.on('close', () => resolve(Date.now())); stalled.on('error', () => {}); });
    await new Promise((resolve) => stalled.once('connect', resolve));
    stalled.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]));
    const start = Date.now();
    for (let batch = 0; batch < 4; batch++) {
        const results = await Promise.all(Array.from({ length: 25 }, () => httpsGet(srv.port, '/healthz', { ca: certs.ca })));
        for (const r of results) assert.equal(r.status, 200);
    }
    const closedAt = await within(6000, stalledClosed, 'stalled client dropped');
    assert.ok(closedAt - start < 6000);
    const m = await metrics(srv.port);
    assert.ok(sum(m, /^ringpad_connections_closed_total$/, (l) => l.reason === 'handshake_timeout') >= 1);
});

test('SIGHUP reloads the certificate for new connections and keeps open ones', async (t) => {
    // the server reads a.pem/a-key.pem from a copy we can overwrite
    copyFileSync(certs.path('a.pem'), certs.path('live.pem'));
    copyFileSync(certs.path('a-key.pem'), certs.path('live-key.pem'));
    const srv = await server(t, { cert: 'live', enableEcho: true });
    const ws = await openWss(t, srv.port);
    assert.equal(peerFingerprint(ws._socket), certs.fingerprint('a.pem'));

    copyFileSync(certs.path('b.pem'), certs.path('live.pem'));
    copyFileSync(certs.path('b-key.pem'), certs.path('live-key.pem'));
    let mark = srv.stderr().length;
    srv.signal('SIGHUP');
    await srv.waitLog(/TLS certificate reloaded/, mark);
    const fresh = await tlsConnect(srv.port, { ca: certs.ca });
    assert.equal(peerFingerprint(fresh), certs.fingerprint('b.pem'));
    fresh.destroy();
    assert.deepEqual(await echo(ws, Buffer.from('still here')), Buffer.from('still here'), 'the old connection lives on');

    // a broken file: the reload fails, says why, and b stays
    writeFileSync(certs.path('live.pem'), 'not a certificate\n');
    mark = srv.stderr().length;
    srv.signal('SIGHUP');
    await srv.waitLog(/TLS reload failed, keeping the previous certificate: .*live\.pem/, mark);
    const still = await tlsConnect(srv.port, { ca: certs.ca });
    assert.equal(peerFingerprint(still), certs.fingerprint('b.pem'));
    still.destroy();
    assert.deepEqual(await echo(ws, Buffer.from('and now')), Buffer.from('and now'));
});

test('200 concurrent TLS connections each echo', { timeout: 60000 }, async (t) => {
    const srv = await server(t, { enableEcho: true });
    const count = 200;
    const sockets = await Promise.all(Array.from({ length: count }, () => openWss(t, srv.port)));
    const replies = await Promise.all(sockets.map((ws, i) => echo(ws, `hello ${i}`)));
    replies.forEach((r, i) => assert.equal(r.toString(), `hello ${i}`));
    const m = await metrics(srv.port);
    assert.ok(sum(m, /^ringpad_connections_open$/) >= count);
    for (const ws of sockets) ws.close(1000);
});
