// Static files from --web-root: types, validators, HEAD, keep-alive, gzip
// siblings, and every way out of the web root we could think of.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { WEB_ROOT, serverTest } from './lib/server.mjs';
import { buildRequest, connect, get, httpOnce, readResponse } from './lib/raw.mjs';

// ---- fixture: <tmp>/secret.txt outside, <tmp>/web inside ----------------------------
const base = mkdtempSync(path.join(tmpdir(), 'ringpad-static-'));
after(() => rmSync(base, { recursive: true, force: true }));
const SECRET = `TOP-SECRET-${randomBytes(8).toString('hex')}`;
writeFileSync(path.join(base, 'secret.txt'), SECRET + '\n');
const root = path.join(base, 'web');
mkdirSync(path.join(root, 'sub'), { recursive: true });
mkdirSync(path.join(root, 'empty-dir'));
const files = {
    'index.html': '<!doctype html><title>ringpad test</title><p>index</p>\n',
    'style.css': 'body { color: #333 }\n',
    'app.js': 'console.log("ringpad");\n',
    'data.json': '{"ok":true}\n',
    'image.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
    'blob.bin': randomBytes(300),
    'sub/page.html': '<p>sub page</p>\n',
    'big.txt': 'ringpad gzip fixture line\n'.repeat(4000),
    'plain.txt': 'no gzip sibling here\n'.repeat(200),
    'mutable.txt': 'version one\n',
};
for (const [name, content] of Object.entries(files)) writeFileSync(path.join(root, name), content);
const bigGz = gzipSync(files['big.txt']);
writeFileSync(path.join(root, 'big.txt.gz'), bigGz);
symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'link-out'));
symlinkSync(base, path.join(root, 'link-dir'));

const ST = { flags: { webRoot: root } };
const GZ = { flags: { webRoot: root } };
const TR = { flags: { webRoot: root } };

const TYPES = [
    ['/index.html', /^text\/html\b/], ['/style.css', /^text\/css\b/],
    ['/app.js', /^(text|application)\/javascript\b/], ['/data.json', /^application\/json\b/],
    ['/image.svg', /^image\/svg\+xml\b/], ['/big.txt', /^text\/plain\b/],
    ['/blob.bin', /^application\/octet-stream\b/],
];

serverTest('GET / serves index.html', ST, async (t, srv) => {
    const res = await get(srv.port, '/');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] ?? '', /^text\/html\b/);
    assert.equal(res.text(), files['index.html']);
});

serverTest('Content-Type and Content-Length by extension', ST, async (t, srv) => {
    for (const [p, type] of TYPES) {
        const res = await get(srv.port, p);
        assert.equal(res.status, 200, p);
        assert.match(res.headers['content-type'] ?? '', type, `${p}: ${res.headers['content-type']}`);
        const expected = Buffer.from(files[p.slice(1)]);
        assert.equal(Number(res.headers['content-length']), expected.length, `${p} Content-Length`);
        assert.ok(res.body.equals(expected), `${p} body differs`);
    }
});

serverTest('a file in a subfolder and a query string', ST, async (t, srv) => {
    assert.equal((await get(srv.port, '/sub/page.html')).text(), files['sub/page.html']);
    const res = await get(srv.port, '/style.css?v=123');
    assert.equal(res.status, 200);
    assert.equal(res.text(), files['style.css']);
});

serverTest('a directory without index.html is not listed', ST, async (t, srv) => {
    const res = await get(srv.port, '/empty-dir/');
    assert.ok([403, 404].includes(res.status), `got ${res.status}`);
});

serverTest('ETag + If-None-Match -> 304 without a body', ST, async (t, srv) => {
    const first = await get(srv.port, '/style.css');
    const etag = first.headers.etag;
    assert.ok(etag, 'no ETag');
    assert.match(etag, /^(W\/)?"[^"]*"$/, `malformed ETag ${etag}`);
    const conn = await connect(srv.port);
    t.after(() => conn.destroy());
    await conn.write(buildRequest({ path: '/style.css', headers: { 'If-None-Match': etag } }));
    const res = await readResponse(conn);
    assert.equal(res.status, 304);
    assert.equal(res.body.length, 0);
    // No stray body bytes: the next response on this connection must parse.
    await conn.write(buildRequest({ path: '/data.json' }));
    const next = await readResponse(conn);
    assert.equal(next.status, 200);
    assert.equal(next.text(), files['data.json']);
});

serverTest('If-None-Match with another tag -> 200; in a list -> 304', ST, async (t, srv) => {
    const etag = (await get(srv.port, '/app.js')).headers.etag;
    assert.ok(etag);
    assert.equal((await get(srv.port, '/app.js', { 'If-None-Match': '"not-it"' })).status, 200);
    assert.equal((await get(srv.port, '/app.js', { 'If-None-Match': `"not-it", ${etag}` })).status, 304);
});

serverTest('HEAD: same headers as GET, no body', ST, async (t, srv) => {
    const g = await get(srv.port, '/data.json');
    const conn = await connect(srv.port);
    t.after(() => conn.destroy());
    await conn.write(buildRequest({ method: 'HEAD', path: '/data.json' }));
    const h = await readResponse(conn, { noBody: true });
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-length'], g.headers['content-length']);
    assert.equal(h.headers['content-type'], g.headers['content-type']);
    assert.equal(h.headers.etag, g.headers.etag);
    await conn.write(buildRequest({ path: '/style.css' }));
    const next = await readResponse(conn);
    assert.equal(next.status, 200, 'HEAD response carried body bytes');
    assert.equal(next.text(), files['style.css']);
});

serverTest('keep-alive: two GETs on one connection', ST, async (t, srv) => {
    const conn = await connect(srv.port);
    t.after(() => conn.destroy());
    for (const p of ['/index.html', '/app.js']) {
        await conn.write(buildRequest({ path: p }));
        const res = await readResponse(conn);
        assert.equal(res.status, 200);
        assert.equal(res.text(), files[p.slice(1)]);
    }
    assert.ok(!conn.ended);
});

serverTest('Connection: close and HTTP/1.0 end the connection after the response', ST, async (t, srv) => {
    const a = await httpOnce(srv.port, buildRequest({ path: '/app.js', headers: { Connection: 'close' } }), { closeWaitMs: 3000 });
    assert.equal(a.status, 200);
    assert.ok(a.closed, 'open after Connection: close');
    const b = await httpOnce(srv.port, buildRequest({ path: '/app.js', version: 'HTTP/1.0' }), { closeWaitMs: 3000 });
    assert.equal(b.status, 200);
    assert.ok(b.closed, 'open after an HTTP/1.0 request without keep-alive');
});

serverTest('the installed web root serves its index.html', {}, async (t, srv) => {
    const index = path.join(WEB_ROOT, 'index.html');
    assert.ok(existsSync(index), `no ${index}`);
    const res = await get(srv.port, '/');
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(readFileSync(index)), '/ differs from the installed index.html');
});

// ---- gzip siblings --------------------------------------------------------------------
serverTest('Accept-Encoding: gzip gets the .gz sibling', GZ, async (t, srv) => {
    const res = await get(srv.port, '/big.txt', { 'Accept-Encoding': 'deflate, gzip, br' });
    assert.equal(res.status, 200);
    assert.match(res.headers['content-encoding'] ?? '', /^gzip$/);
    assert.match(res.headers['content-type'] ?? '', /^text\/plain\b/, 'gzip sibling served with the .gz type');
    assert.ok(res.body.equals(bigGz), 'body is not the .gz file');
    assert.equal(gunzipSync(res.body).toString(), files['big.txt']);
    assert.match(res.headers.vary ?? '', /accept-encoding/i, 'no Vary: Accept-Encoding');
});

serverTest('no Accept-Encoding, gzip;q=0 or br only: the identity file', GZ, async (t, srv) => {
    for (const headers of [{}, { 'Accept-Encoding': 'gzip;q=0' }, { 'Accept-Encoding': 'br' }, { 'Accept-Encoding': 'identity' }]) {
        const res = await get(srv.port, '/big.txt', headers);
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-encoding'], undefined, `encoded for ${JSON.stringify(headers)}`);
        assert.equal(res.text(), files['big.txt']);
    }
});

serverTest('gzip accepted but no sibling: the file, readable', GZ, async (t, srv) => {
    const res = await get(srv.port, '/plain.txt', { 'Accept-Encoding': 'gzip' });
    assert.equal(res.status, 200);
    const body = res.headers['content-encoding'] === 'gzip' ? gunzipSync(res.body) : res.body;
    assert.equal(body.toString(), files['plain.txt']);
});

serverTest('gzip and identity have different ETags', GZ, async (t, srv) => {
    const a = await get(srv.port, '/big.txt', { 'Accept-Encoding': 'gzip' });
    const b = await get(srv.port, '/big.txt');
    assert.ok(a.headers.etag && b.headers.etag);
    assert.notEqual(a.headers.etag, b.headers.etag);
});

// ---- traversal ------------------------------------------------------------------------
const ESCAPES = [
    '/../secret.txt', '/sub/../../secret.txt', '/%2e%2e/secret.txt', '/%2E%2E/secret.txt',
    '/sub/%2e%2e/%2e%2e/secret.txt', '/..%2fsecret.txt', '/%2e%2e%2fsecret.txt', '/sub%2f..%2f..%2fsecret.txt',
    '/.%2e/secret.txt', '/%2e./secret.txt', '/..%5csecret.txt', '/..\\secret.txt', '/....//secret.txt',
    '/%252e%252e/secret.txt', '/link-out', '/link-dir/secret.txt',
    '/index.html%00.txt', '/%00', '/sub/page.html%00', '/%2fetc%2fpasswd', '//etc/passwd', '/../../../../../../etc/passwd',
    '/%c0%ae%c0%ae/secret.txt', '/%e0%80%ae%e0%80%ae/secret.txt', '/%2e%2e', '/..',
];

serverTest('traversal attempts get 400/403/404 and never a file from outside', TR, async (t, srv) => {
    for (const target of ESCAPES) {
        const res = await httpOnce(srv.port, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
        assert.ok([400, 403, 404].includes(res.status), `${target}: status ${res.status}`);
        const body = res.body.toString('latin1');
        assert.ok(!body.includes(SECRET), `${target}: served the secret`);
        assert.ok(!/root:.*:0:0:/.test(body), `${target}: served /etc/passwd`);
    }
    // And the server is still fine.
    assert.equal((await get(srv.port, '/index.html')).status, 200);
});

serverTest('absolute-form and odd request targets never reach outside', TR, async (t, srv) => {
    for (const target of ['http://127.0.0.1/../secret.txt', '*', 'secret.txt', '../secret.txt']) {
        const res = await httpOnce(srv.port, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
        assert.ok(res.status >= 400, `${target}: status ${res.status}`);
        assert.ok(!res.body.toString('latin1').includes(SECRET), `${target}: served the secret`);
    }
});
