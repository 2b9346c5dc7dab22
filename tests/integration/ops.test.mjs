// The operator's view: --version, --help's commands, check-config, the systemd
// notify protocol, /healthz during the shutdown grace, a quiet default start.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BIN, startServer, within } from './lib/server.mjs';
import { scratchDir } from './lib/rp-util.mjs';
import { OP, buildRequest, connect, readFrame, readResponse, upgradeHeaders, newKey, wsConnect } from './lib/raw.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = (args, opts = {}) => spawnSync(BIN, args, { encoding: 'utf8', timeout: 10000, ...opts });

test('--version names the version, commit, build mode and libraries', () => {
    const r = run(['--version']);
    assert.equal(r.status, 0, r.stderr);
    const lines = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(' ')));
    assert.equal(lines.ringpad, '0.1.0');
    const head = spawnSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
    if (head.status === 0) {
        assert.match(lines.commit, /^[0-9a-f]{12}(-dirty)?$/);
        assert.ok(head.stdout.startsWith(lines.commit.replace(/-dirty$/, '')), `commit ${lines.commit} is not HEAD ${head.stdout}`);
    }
    // the test step runs the development build
    assert.match(lines.build, /^(Debug\+UBSan|Debug\+ASan|ReleaseSafe|ReleaseFast|ReleaseSmall)$/);
    const pkg = spawnSync('pkg-config', ['--modversion', 'liburing'], { encoding: 'utf8' });
    if (pkg.status === 0) assert.equal(lines.liburing, pkg.stdout.trim());
    assert.match(lines.wolfssl, /^\d+\.\d+\.\d+/);
    assert.match(lines.zlib, /^1\.\d+/);
});

test('--help lists the token, cert and check-config commands and --version', () => {
    const r = run(['--help']);
    assert.equal(r.status, 0);
    for (const cmd of ['ringpad [serve] [flags]', 'ringpad check-config [flags]', 'ringpad token ', 'ringpad cert ', 'ringpad --version']) {
        assert.ok(r.stdout.includes(`\n  ${cmd}`), `--help lacks '${cmd}'`);
    }
});

test('check-config: 0 for a good configuration, 1 or 2 with the reason otherwise, and never serves', (t) => {
    const dir = scratchDir(t);
    let r = run(['check-config', '--data-dir', path.join(dir, 'data'), '--port', '1']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`data dir ${dir}/data does not exist yet; the server creates it in ${dir}\\n`));
    assert.match(r.stdout, /check-config: ok: would listen on 127\.0\.0\.1:1 with \d+ workers, fsync=always\n$/);
    assert.doesNotMatch(r.stderr, /listening/);

    r = run(['check-config', '--data-dir', path.join(dir, 'a', 'b')]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /FAILED: --data-dir .*\/a\/b does not exist and cannot be created: its parent .*\/a is not a directory/);

    writeFileSync(path.join(dir, 'file'), 'x');
    r = run(['check-config', '--data-dir', path.join(dir, 'file')]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /FAILED: --data-dir .*\/file exists but is not a directory/);

    r = run(['check-config', '--data-dir', '/proc/ringpad']);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /FAILED: --data-dir \/proc\/ringpad does not exist and cannot be created: \/proc is not writable/);

    r = run(['check-config', '--fsync', 'sometimes']);
    assert.equal(r.status, 2);
    assert.match(r.stdout, /FAILED: --fsync: 'sometimes' is not always or interval/);

    r = run(['check-config', '--host', '0.0.0.0', '--data-dir', dir]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no auth secret and --host 0\.0\.0\.0 is not loopback/);

    r = run(['check-config', '--data-dir', dir, '--tls-cert', path.join(dir, 'nope.pem'), '--tls-key', path.join(dir, 'nope.key')]);
    assert.equal(r.status, 2);
    assert.match(r.stdout, /FAILED: TLS: /);
});

test('a default start says nothing about file descriptors; an impossible --max-connections does', async (t) => {
    const srv = await startServer({});
    t.after(() => srv.stop());
    assert.doesNotMatch(srv.stderr(), /warn .*file descriptor/);
    assert.match(srv.stderr(), /max connections \d+ \(file descriptor limit \d+/);
    await srv.stop();
    // under a hard limit of 4096, 5,000,000 connections are impossible: that is worth a warning
    if (spawnSync('prlimit', ['--version']).status !== 0) return;
    const child = spawn('prlimit', ['--nofile=4096:4096', BIN, '--port', '0', '--threads', '1', '--max-connections', '5000000', '--data-dir', scratchDir(t)], { stdio: ['ignore', 'ignore', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    let err = '';
    child.stderr.setEncoding('utf8');
    await within(5000, new Promise((resolve) => child.stderr.on('data', (c) => { err += c; if (/listening on/.test(err)) resolve(); })), 'start under prlimit');
    assert.match(err, /warn .*--max-connections 5000000 needs 5001024 file descriptors but the limit is 4096 \(hard 4096\): at most ~3072 connections/);
    child.kill('SIGTERM');
});

/** A unix datagram socket bound by python (node has none) that prints each datagram as one JSON line. */
function notifyListener(t, sockPath) {
    const py = spawn('python3', ['-u', '-c', `
import socket, sys, json
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps("BOUND"), flush=True)
while True:
    print(json.dumps(s.recv(4096).decode()), flush=True)
`, sockPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => py.kill('SIGKILL'));
    const got = [];
    const waiters = [];
    let buf = '';
    py.stdout.setEncoding('utf8');
    py.stdout.on('data', (c) => {
        buf += c;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
            got.push(JSON.parse(buf.slice(0, i)));
            buf = buf.slice(i + 1);
            for (const w of [...waiters]) if (got.some(w.pred)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
        }
    });
    const wait = (pred, ms, what) => (got.some(pred) ? Promise.resolve() : within(ms, new Promise((resolve) => waiters.push({ pred, resolve })), what));
    return { got, wait };
}

test('systemd notify: READY=1 after listening, WATCHDOG=1 from the loop, STOPPING=1 on SIGTERM', async (t) => {
    const dir = scratchDir(t);
    const sock = path.join(dir, 'notify');
    const l = notifyListener(t, sock);
    await l.wait((m) => m === 'BOUND', 5000, 'the python listener');
    const srv = await startServer({ threads: 2 }, { env: { NOTIFY_SOCKET: sock, WATCHDOG_USEC: '400000' } });
    t.after(() => srv.stop());
    await l.wait((m) => m.startsWith('READY=1\n'), 3000, 'READY=1');
    const ready = l.got.find((m) => m.startsWith('READY=1'));
    assert.equal(ready, `READY=1\nSTATUS=listening on port ${srv.port}\nMAINPID=${srv.pid}`);
    // WATCHDOG_USEC 400 ms: pings every 200 ms or so; several within 1.5 s
    await new Promise((r) => setTimeout(r, 1500));
    const pings = l.got.filter((m) => m === 'WATCHDOG=1').length;
    assert.ok(pings >= 3 && pings <= 10, `${pings} watchdog pings in 1.5 s`);
    srv.signal('SIGTERM');
    await l.wait((m) => m.startsWith('STOPPING=1'), 3000, 'STOPPING=1');
    assert.equal(l.got.find((m) => m.startsWith('STOPPING=1')), 'STOPPING=1\nSTATUS=shutting down');
    const exit = await within(5000, srv.exited, 'exit after SIGTERM');
    assert.equal(exit.code, 0);
    assert.ok(l.got.indexOf(ready) < l.got.findIndex((m) => m.startsWith('STOPPING')), 'READY before STOPPING');
});

test('during the shutdown grace a new connection gets 503 from /healthz and 503 for an upgrade', async (t) => {
    const srv = await startServer({ shutdownGraceMs: 3000, dataDir: scratchDir(t) });
    t.after(() => srv.stop());
    // a client that never answers the close keeps the grace period running
    const { conn: stubborn } = await wsConnect(srv.port, { path: '/ws', headers: { 'Sec-WebSocket-Protocol': 'ringpad.v1' } });
    t.after(() => stubborn.destroy());
    srv.signal('SIGTERM');
    const f = await readFrame(stubborn, 3000);
    assert.equal(f.opcode, OP.CLOSE);
    assert.equal(f.payload.readUInt16BE(0), 1001);

    const fresh = await connect(srv.port, { timeoutMs: 1000 });
    t.after(() => fresh.destroy());
    await fresh.write(buildRequest({ path: '/healthz' }));
    const h = await readResponse(fresh, { timeoutMs: 2000 });
    assert.equal(h.status, 503);
    assert.equal(h.text(), 'shutting down\n');
    assert.equal(h.headers.connection, 'close');

    const up = await connect(srv.port, { timeoutMs: 1000 });
    t.after(() => up.destroy());
    await up.write(buildRequest({ path: '/ws', headers: upgradeHeaders(newKey(), { 'Sec-WebSocket-Protocol': 'ringpad.v1' }) }));
    const u = await readResponse(up, { timeoutMs: 2000 });
    assert.equal(u.status, 503);
    assert.equal(srv.exitInfo, null, 'still in the grace period');

    stubborn.destroy();   // the last WebSocket goes: the server exits before the grace ends
    const exit = await within(3000, srv.exited, 'exit once the last client left');
    assert.equal(exit.code, 0);
});
