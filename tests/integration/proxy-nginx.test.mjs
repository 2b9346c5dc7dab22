// ringpad behind nginx, configured as docs/operations.md says: the WebSocket
// protocol and REST go through the proxy, /healthz too.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { startServer, within } from './lib/server.mjs';
import { RpConn } from './lib/rp-client.mjs';
import { scratchDir, httpJson } from './lib/rp-util.mjs';
import { findNginx } from './lib/nginx.mjs';

const nginx = findNginx();

function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    });
}

async function startNginx(t, upstreamPort) {
    const dir = scratchDir(t, 'ringpad-nginx-');
    const port = await freePort();
    for (const d of ['tmp', 'logs']) mkdirSync(path.join(dir, d));
    const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${dir}/tmp/body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }
    upstream ringpad {
        server 127.0.0.1:${upstreamPort};
        keepalive 32;
    }
    server {
        listen 127.0.0.1:${port};
        location /ws {
            proxy_pass http://ringpad;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 120s;
            proxy_send_timeout 120s;
            proxy_buffering off;
        }
        location / {
            proxy_pass http://ringpad;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            client_max_body_size 2m;
        }
    }
}
`;
    writeFileSync(path.join(dir, 'nginx.conf'), conf);
    const child = spawn(nginx.bin, ['-p', dir, '-e', path.join(dir, 'logs', 'error.log'), '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => { err += c; });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    t.after(async () => { child.kill('SIGTERM'); await within(3000, exited, 'nginx exit').catch(() => child.kill('SIGKILL')); });
    // ready when the port accepts
    for (let i = 0; i < 100; i++) {
        const ok = await new Promise((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
            s.on('error', () => resolve(false));
        });
        if (ok) return port;
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`nginx did not listen on ${port}: ${err}`);
}

test('WebSocket sessions, REST and /healthz through nginx', { skip: nginx.skip ?? false, timeout: 30000 }, async (t) => {
    const srv = await startServer({ dataDir: scratchDir(t) });
    t.after(() => srv.stop());
    const port = await startNginx(t, srv.port);

    assert.equal((await httpJson(port, 'GET', '/healthz')).text, 'ok\n');
    const viaProxy = await RpConn.open(port);
    t.after(() => viaProxy.terminate());
    const direct = await RpConn.open(srv.port);
    t.after(() => direct.terminate());
    for (const [c, name] of [[viaProxy, 'proxied'], [direct, 'direct']]) {
        c.send({ type: 'hello', name, color: '#123456' });
        c.session = (await c.type('welcome')).session;
        c.send({ type: 'open', doc: 'proxied' });
        await c.type('snapshot');
    }
    viaProxy.send({ type: 'op', doc: 'proxied', v: 0, id: 'p:1', op: ['through nginx'] });
    assert.deepEqual(await viaProxy.type('ack'), { type: 'ack', doc: 'proxied', id: 'p:1', v: 0 });
    const seen = await direct.type('op');
    assert.deepEqual(seen.op, ['through nginx']);
    direct.send({ type: 'op', doc: 'proxied', v: 1, id: 'd:1', op: [13, '!'] });
    assert.deepEqual((await viaProxy.type('op')).op, [13, '!']);

    const rest = await httpJson(port, 'GET', '/api/docs/proxied');
    assert.equal(rest.status, 200);
    assert.deepEqual(rest.json, { v: 2, doc: 'proxied', text: 'through nginx!' });
    const closed = viaProxy.closed;
    viaProxy.ws.close(1000);
    assert.equal((await closed).code, 1000, 'the close handshake passes through');
});
