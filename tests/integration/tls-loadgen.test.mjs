// The load generator's TLS client (bench/loadgen/tlsc.c) against the real
// server: the tls scenario (full and resumed handshakes), echo and docs over
// wss:// with the chain verified, and a CA that did not sign the server's
// certificate failing the run. Short windows: correctness, not figures.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseMetrics, sum } from './lib/metrics.mjs';
import { BIN } from './lib/server.mjs';
import { scratchDir } from './lib/rp-util.mjs';
import { httpsGet, makeCerts, startTlsServer } from './lib/tls.mjs';

// next to the server binary, or where `zig build` installs it (the test step installs first)
const LOADGEN = [BIN && path.join(path.dirname(BIN), 'ringpad-bench'),
    fileURLToPath(new URL('../../zig-out/bin/ringpad-bench', import.meta.url))].find((f) => f && existsSync(f)) ?? '';
const RUN_TIMEOUT_MS = 30000;

let certs;
before(() => { certs = makeCerts(); });
after(() => certs?.remove());

async function server(t, flags = {}) {
    const srv = await startTlsServer({ tlsCert: certs.path('a.pem'), tlsKey: certs.path('a-key.pem'), enableEcho: true,
        maxMessagesPerSec: 0, dataDir: scratchDir(t), ...flags });
    t.after(() => srv.stop());
    return srv;
}

function bench(t, srv, args, { quiet = true } = {}) {
    const out = path.join(scratchDir(t, 'ringpad-lg-'), 'run.json');
    const r = spawnSync(LOADGEN, ['--port', String(srv.port), '--duration-s', '0.5', '--warmup-s', '0.2', ...(quiet ? ['--quiet'] : []),
        '--connect-timeout-s', '5', '--drain-timeout-s', '5', '--json', out, ...args],
    { encoding: 'utf8', timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : null };
}

const skip = !existsSync(LOADGEN) && 'ringpad-bench is not built';

test('tls scenario: full handshakes, then resumed ones with a ticket', { skip }, async (t) => {
    const srv = await server(t);
    const full = bench(t, srv, ['--scenario', 'tls', '--connections', '4', '--tls-ca', certs.path('ca.pem')]);
    assert.equal(full.status, 0, full.stdout + full.stderr);
    assert.ok(full.json.tls.handshakes > 0);
    assert.equal(full.json.tls.resumed, 0);
    assert.equal(full.json.tls.failed, 0);
    assert.ok(full.json.latency_us.tls_handshake.count > 0);
    // the first handshake of each connection is a full one (no ticket yet): in the warm-up
    const resumed = bench(t, srv, ['--scenario', 'tls', '--connections', '4', '--tls-resume', '--warmup-s', '1']);
    assert.equal(resumed.status, 0, resumed.stdout + resumed.stderr);
    assert.ok(resumed.json.tls.handshakes > 0);
    assert.equal(resumed.json.tls.resumed, resumed.json.tls.handshakes, 'every handshake in the window resumed');
    const m = parseMetrics((await httpsGet(srv.port, '/metrics', { ca: certs.ca })).body.toString());
    assert.ok(sum(m, /^ringpad_tls_resumed_total$/) >= resumed.json.tls.resumed);
    assert.equal(sum(m, /^ringpad_errors_total$/, (l) => l.kind === 'tls_handshake'), 0);
});

test('echo and docs over wss:// with the chain verified; every editor converges', { skip }, async (t) => {
    const srv = await server(t);
    const ca = ['--tls', '--tls-ca', certs.path('ca.pem')];
    const echo = bench(t, srv, ['--scenario', 'echo', '--connections', '4', '--message-bytes', '1024', ...ca]);
    assert.equal(echo.status, 0, echo.stdout + echo.stderr);
    assert.ok(echo.json.counts.echoes > 0);
    assert.equal(echo.json.errors.echo_mismatch, 0);
    assert.equal(echo.json.tls.handshakes, 4);
    const docs = bench(t, srv, ['--scenario', 'docs', '--connections', '8', '--docs', '2', '--message-bytes', '1024', ...ca]);
    assert.equal(docs.status, 0, docs.stdout + docs.stderr);
    assert.ok(docs.json.counts.acks > 0);
    assert.equal(docs.json.convergence.clients_checked, 8);
    assert.equal(docs.json.convergence.diverged, 0);
});

test('a CA that did not sign the server certificate fails the run with the reason', { skip }, async (t) => {
    const srv = await server(t);
    const other = path.join(scratchDir(t, 'ringpad-ca-'), 'other-ca.pem');
    execFileSync(BIN, ['cert', '--ca', '--cert', other, '--key', `${other}.key`], { stdio: 'ignore' });
    const r = bench(t, srv, ['--scenario', 'echo', '--connections', '2', '--tls', '--tls-ca', other,
        '--connect-timeout-s', '2'], { quiet: false });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /TLS: TLS handshake failed: .*\(wolfSSL -\d+\)/);
    assert.ok(r.json.tls.failed >= 2);
    assert.equal(r.json.counts.echoes, 0);
});
