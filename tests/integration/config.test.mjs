// Command line and environment: --help lists every flag, env vars configure,
// the listening line reports what was asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { BIN, serverTest, startServer } from './lib/server.mjs';
import { get } from './lib/raw.mjs';

const FLAGS = [
    'host', 'port', 'threads', 'web-root', 'log-level', 'max-connections', 'max-connections-per-ip',
    'max-message-bytes', 'max-send-queue-bytes', 'max-messages-per-sec', 'ping-interval-ms',
    'idle-timeout-ms', 'handshake-timeout-ms', 'close-timeout-ms', 'shutdown-grace-ms',
    'allowed-origins', 'no-deflate', 'zerocopy-min-bytes', 'enable-echo',
];

test('--help lists every flag and its env var, exits 0', () => {
    const r = spawnSync(BIN, ['--help'], { encoding: 'utf8', timeout: 5000 });
    assert.equal(r.status, 0, `exit ${r.status} signal ${r.signal}\n${r.stderr}`);
    const text = r.stdout + r.stderr;
    for (const flag of FLAGS) {
        assert.match(text, new RegExp(`--${flag}\\b`), `--help does not mention --${flag}`);
        const env = 'RINGPAD_' + flag.toUpperCase().replace(/-/g, '_');
        assert.ok(text.includes(env), `--help does not mention ${env}`);
    }
});

test('an unknown flag is refused with a non-zero exit', () => {
    const r = spawnSync(BIN, ['--no-such-flag'], { encoding: 'utf8', timeout: 5000 });
    assert.notEqual(r.status, 0, 'ringpad accepted --no-such-flag');
    assert.equal(r.signal, null, `ringpad died of ${r.signal}`);
});

test('a malformed number is refused with a non-zero exit', () => {
    const r = spawnSync(BIN, ['--port', '0', '--max-connections', '12abc'], { encoding: 'utf8', timeout: 5000 });
    assert.notEqual(r.status, 0, 'ringpad accepted --max-connections 12abc');
    assert.equal(r.signal, null, `ringpad died of ${r.signal}`);
});

serverTest('--threads 2 reports 2 workers and serves /healthz', { flags: { threads: 2 } }, async (t, srv) => {
    assert.equal(srv.workers, 2);
    assert.equal(srv.host, '127.0.0.1');
    const res = await get(srv.port, '/healthz');
    assert.equal(res.status, 200);
});

test('RINGPAD_PORT / RINGPAD_HOST / RINGPAD_THREADS configure the server', async (t) => {
    const srv = await startServer({}, {
        rawArgs: [],
        env: { RINGPAD_PORT: '0', RINGPAD_HOST: '127.0.0.1', RINGPAD_THREADS: '1', RINGPAD_WEB_ROOT: process.env.RINGPAD_WEB_ROOT },
    });
    t.after(() => srv.stop());
    assert.notEqual(srv.port, 8080, 'RINGPAD_PORT=0 was ignored');
    assert.equal(srv.workers, 1);
    assert.equal((await get(srv.port, '/healthz')).status, 200);
});

test('RINGPAD_ENABLE_ECHO turns /echo on; a flag beats its env var', async (t) => {
    const { wsConnect } = await import('./lib/raw.mjs');
    const srv = await startServer({}, { env: { RINGPAD_ENABLE_ECHO: '1', RINGPAD_THREADS: '7' } });
    t.after(() => srv.stop());
    // --threads 1 (passed by startServer) must win over RINGPAD_THREADS=7.
    assert.equal(srv.workers, 1);
    const { conn } = await wsConnect(srv.port, { path: '/echo' });
    conn.destroy();
});

serverTest('--host ::1 listens on IPv6 loopback', { flags: { host: '::1' } }, async (t, srv) => {
    assert.equal(srv.host, '::1');
    const res = await get(srv.port, '/healthz', {}, { host: '::1' });
    assert.equal(res.status, 200);
});
