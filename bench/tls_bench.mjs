#!/usr/bin/env node
// TLS figures (not a test): full handshakes/s, resumed handshakes/s, and /echo
// messages/s at 1 KiB over ws:// and wss:// side by side, against one server
// binary started here twice (plaintext, then TLS) with --threads 1.
//   node bench/tls_bench.mjs [path/to/ringpad] [seconds per figure]
// The client is Node (one process), so the figures are a floor for the server.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

const require = createRequire(new URL('../tests/integration/package.json', import.meta.url));
const WebSocket = require('ws');

const BIN = path.resolve(process.argv[2] ?? 'zig-out/bin/ringpad');
const SECONDS = Number(process.argv[3] ?? 3);
const HANDSHAKE_LOOPS = 8;
const ECHO_CONNS = 16;
const ECHO_WINDOW = 32;
const MESSAGE_BYTES = 1024;

const dir = mkdtempSync(path.join(tmpdir(), 'ringpad-tlsbench-'));
const p = (n) => path.join(dir, n);
execFileSync(BIN, ['cert', '--cert', p('cert.pem'), '--key', p('key.pem')]);
const ca = readFileSync(p('cert.pem'));

function start(extra) {
    const child = spawn(BIN, ['--port', '0', '--threads', '1', '--enable-echo', '--log-level', 'info',
        '--max-messages-per-sec', '0', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
    return new Promise((resolve, reject) => {
        let err = '';
        child.stderr.on('data', (c) => {
            err += c;
            const m = err.match(/listening on https?:\/\/[^:]+:(\d+)/);
            if (m) resolve({ child, port: Number(m[1]) });
        });
        child.on('exit', () => reject(new Error(err)));
        setTimeout(() => reject(new Error('no listening line')), 5000).unref();
    });
}

function handshake(port, session) {
    return new Promise((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', session });
        let ticket = null;
        s.on('session', (t) => { ticket = t; });
        s.once('secureConnect', () => {
            const reused = s.isSessionReused();
            // wait for the TLS 1.3 ticket on fresh handshakes, then close
            const done = () => { s.destroy(); resolve({ reused, ticket }); };
            if (session || ticket) done(); else s.once('session', () => setImmediate(done));
        });
        s.once('error', reject);
    });
}

async function handshakesPerSecond(port, resumed) {
    let session = resumed ? (await handshake(port)).ticket : undefined;
    const end = Date.now() + SECONDS * 1000;
    let count = 0, reusedCount = 0;
    await Promise.all(Array.from({ length: HANDSHAKE_LOOPS }, async () => {
        while (Date.now() < end) {
            const r = await handshake(port, session);
            count++;
            if (r.reused) reusedCount++;
        }
    }));
    return { perSec: count / SECONDS, reused: reusedCount };
}

async function echoPerSecond(url) {
    const payload = Buffer.alloc(MESSAGE_BYTES, 0x61);
    const sockets = await Promise.all(Array.from({ length: ECHO_CONNS }, () => new Promise((resolve, reject) => {
        const ws = new WebSocket(url, { ca, servername: 'localhost', perMessageDeflate: false });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
    })));
    let received = 0;
    let running = true;
    for (const ws of sockets) {
        ws.on('message', () => { received++; if (running) ws.send(payload); });
        for (let i = 0; i < ECHO_WINDOW; i++) ws.send(payload);
    }
    await new Promise((r) => setTimeout(r, 500));   // warm-up
    const from = received;
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const perSec = (received - from) / SECONDS;
    running = false;
    for (const ws of sockets) ws.terminate();
    return perSec;
}

const plain = await start([]);
const plainRate = await echoPerSecond(`ws://127.0.0.1:${plain.port}/echo`);
plain.child.kill('SIGTERM');
const secure = await start(['--tls-cert', p('cert.pem'), '--tls-key', p('key.pem')]);
const tlsRate = await echoPerSecond(`wss://127.0.0.1:${secure.port}/echo`);
const full = await handshakesPerSecond(secure.port, false);
const resumed = await handshakesPerSecond(secure.port, true);
secure.child.kill('SIGTERM');
rmSync(dir, { recursive: true, force: true });
console.log(`echo 1 KiB, ${ECHO_CONNS} conns x ${ECHO_WINDOW} in flight, ${SECONDS} s each:`);
console.log(`  ws://  ${plainRate.toFixed(0)} messages/s`);
console.log(`  wss:// ${tlsRate.toFixed(0)} messages/s (${(100 * tlsRate / plainRate).toFixed(0)}% of plaintext)`);
console.log(`TLS 1.3 full handshakes (ECDSA P-256, ${HANDSHAKE_LOOPS} loops): ${full.perSec.toFixed(0)}/s`);
console.log(`TLS 1.3 resumed handshakes (ticket): ${resumed.perSec.toFixed(0)}/s (${resumed.reused} reused)`);
