#!/usr/bin/env node
// TLS figures (not a test), side by side in one session: TLS 1.3 handshakes/s
// (full and resumed with a ticket) and messages/s at 1 KiB over ws:// and
// wss:// (echo, and docs edits of 1 KiB inserts), driven by the C load
// generator (ringpad-bench, its tls scenario and --tls). Two servers from the
// same binary, one plaintext and one TLS, both --threads 1 and pinned to core
// 0; the load generator on core 1 (taskset, when there are 2+ cores). Every
// figure is run --runs times, interleaved (ws, wss, ws, wss, ...), and the
// median is reported with the server's CPU use in the measured window (read
// by ringpad-bench --server-pid): below ~95 % of a core the load generator or
// the machine was the limit, not the server. "per server CPU-s" divides the
// count by the server's CPU seconds in the window: the cost of each message or
// handshake on the server, which holds up on a machine shared with other
// work better than the raw rate does.
//
//   ./zigw build -Doptimize=ReleaseFast --prefix /tmp/rp-rel
//   node bench/tls_bench.mjs --bin-dir /tmp/rp-rel/bin [--seconds 3] [--runs 3] [--json out.json]
//
// Everything runs on 127.0.0.1; everything started here is stopped here; each
// load generator run is bounded (its own deadlines plus a kill timer).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
    options: {
        'bin-dir': { type: 'string', default: 'zig-out/bin' },
        seconds: { type: 'string', default: '3' },
        runs: { type: 'string', default: '3' },
        json: { type: 'string' },
        'echo-connections': { type: 'string', default: '32' },
        'docs-connections': { type: 'string', default: '64' },
        'handshake-connections': { type: 'string', default: '16' },
    },
});
const BIN_DIR = path.resolve(opt['bin-dir']);
const SERVER = path.join(BIN_DIR, 'ringpad');
const LOADGEN = path.join(BIN_DIR, 'ringpad-bench');
const SECONDS = Number(opt.seconds);
const RUNS = Number(opt.runs);
const MESSAGE_BYTES = 1024;
const START_TIMEOUT_MS = 5000;
const RUN_SLACK_MS = 60000;          // connect + drain + verify bounds on top of the window

const pinned = cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;
const pin = (core, argv) => (pinned ? ['taskset', ['-c', String(core), ...argv]] : [argv[0], argv.slice(1)]);

const dir = mkdtempSync(path.join(tmpdir(), 'ringpad-tlsbench-'));
const p = (n) => path.join(dir, n);
const children = new Set();
function cleanup() {
    for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
    rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

execFileSync(SERVER, ['cert', '--ca', '--cert', p('ca.pem'), '--key', p('ca-key.pem')], { stdio: 'ignore' });
execFileSync(SERVER, ['cert', '--cert', p('cert.pem'), '--key', p('key.pem'), '--issuer-cert', p('ca.pem'),
    '--issuer-key', p('ca-key.pem')], { stdio: 'ignore' });

function startServer(name, extra) {
    const [cmd, args] = pin(0, [SERVER, '--host', '127.0.0.1', '--port', '0', '--threads', '1', '--enable-echo',
        '--max-messages-per-sec', '0', '--fsync', 'interval', '--data-dir', p(`data-${name}`), ...extra]);
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(child);
    child.on('exit', () => children.delete(child));
    return new Promise((resolve, reject) => {
        let err = '';
        const timer = setTimeout(() => reject(new Error(`${name}: no listening line\n${err}`)), START_TIMEOUT_MS);
        child.stderr.on('data', (c) => {
            err = (err + c).slice(-8192);
            const m = err.match(/listening on https?:\/\/[^:]+:(\d+)/);
            if (m) { clearTimeout(timer); resolve({ child, port: Number(m[1]), pid: child.pid }); }
        });
        child.on('exit', () => { clearTimeout(timer); reject(new Error(`${name} exited\n${err}`)); });
    });
}

function loadgen(server, args) {
    const out = p('run.json');
    const [cmd, argv] = pin(1, [LOADGEN, '--port', String(server.port), '--duration-s', String(SECONDS),
        '--warmup-s', '1', '--quiet', '--server-pid', String(server.pid), '--json', out, ...args]);
    const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: SECONDS * 1000 + RUN_SLACK_MS, killSignal: 'SIGKILL' });
    if (r.status !== 0) throw new Error(`ringpad-bench ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    return { json, serverCpu: json.server_cpu_s / SECONDS };
}

const plain = await startServer('plain', []);
const secure = await startServer('tls', ['--tls-cert', p('cert.pem'), '--tls-key', p('key.pem')]);
const ca = ['--tls-ca', p('ca.pem')];
const echoArgs = ['--scenario', 'echo', '--connections', opt['echo-connections'], '--message-bytes', String(MESSAGE_BYTES)];
const docsArgs = ['--scenario', 'docs', '--connections', opt['docs-connections'], '--message-bytes', String(MESSAGE_BYTES),
    '--target-doc-codepoints', String(8 * MESSAGE_BYTES)];
const hsArgs = ['--scenario', 'tls', '--connections', opt['handshake-connections'], ...ca];

const figures = [
    { key: 'echo_ws', label: 'echo 1 KiB, ws://', srv: plain, args: echoArgs, pick: (j) => j.throughput.echoes_per_s, unit: 'messages/s' },
    { key: 'echo_wss', label: 'echo 1 KiB, wss://', srv: secure, args: [...echoArgs, '--tls', ...ca], pick: (j) => j.throughput.echoes_per_s, unit: 'messages/s' },
    { key: 'docs_ws', label: 'docs 1 KiB ops, ws://', srv: plain, args: docsArgs, pick: (j) => j.throughput.ops_acked_per_s, unit: 'ops acked/s' },
    { key: 'docs_wss', label: 'docs 1 KiB ops, wss://', srv: secure, args: [...docsArgs, '--tls', ...ca], pick: (j) => j.throughput.ops_acked_per_s, unit: 'ops acked/s' },
    { key: 'hs_full', label: 'TLS 1.3 full handshakes', srv: secure, args: hsArgs, pick: (j) => j.tls.handshakes_per_s, unit: 'handshakes/s' },
    { key: 'hs_resumed', label: 'TLS 1.3 resumed (ticket)', srv: secure, args: [...hsArgs, '--tls-resume'], pick: (j) => j.tls.handshakes_per_s, unit: 'handshakes/s' },
];
const results = Object.fromEntries(figures.map((f) => [f.key, []]));
for (let run = 0; run < RUNS; run++) {
    for (const f of figures) {
        const { json, serverCpu } = loadgen(f.srv, f.args);
        const value = f.pick(json);
        const r = { value, serverCpu, perCpuS: serverCpu > 0 ? value / serverCpu : 0,
            p99_us: json.latency_us.echo.p99 || json.latency_us.ack.p99 || json.latency_us.tls_handshake.p99 };
        if (f.key === 'hs_resumed' && json.tls.resumed < json.tls.handshakes * 0.9) throw new Error(`resumed ${json.tls.resumed} of ${json.tls.handshakes}`);
        results[f.key].push(r);
        process.stderr.write(`run ${run + 1}/${RUNS} ${f.label}: ${r.value.toFixed(0)} ${f.unit}, server CPU ${(100 * serverCpu).toFixed(0)} %, ${r.perCpuS.toFixed(0)} per server CPU-s\n`);
    }
}
plain.child.kill('SIGTERM');
secure.child.kill('SIGTERM');

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const med = Object.fromEntries(figures.map((f) => [f.key, {
    value: median(results[f.key].map((r) => r.value)),
    serverCpu: median(results[f.key].map((r) => r.serverCpu)),
    perCpuS: median(results[f.key].map((r) => r.perCpuS)),
    p99_us: median(results[f.key].map((r) => r.p99_us)),
    runs: results[f.key].map((r) => Math.round(r.value)),
}]));
console.log(`ringpad TLS figures: median of ${RUNS} runs of ${SECONDS} s, server --threads 1${pinned ? ' on core 0, ringpad-bench on core 1' : ' (not pinned)'}`);
console.log(`${'figure'.padEnd(28)} ${'median'.padStart(10)}  ${'unit'.padEnd(13)} ${'p99 us'.padStart(8)} ${'srv CPU'.padStart(8)} ${'per srv CPU-s'.padStart(14)}  runs`);
for (const f of figures) {
    const m = med[f.key];
    console.log(`${f.label.padEnd(28)} ${m.value.toFixed(0).padStart(10)}  ${f.unit.padEnd(13)} ${String(m.p99_us).padStart(8)} ${(100 * m.serverCpu).toFixed(0).padStart(7)}% ${m.perCpuS.toFixed(0).padStart(14)}  ${m.runs.join(' / ')}`);
}
const ratio = (a, b) => (100 * med[a].value / med[b].value).toFixed(0);
const cost = (a, b) => (100 * med[a].perCpuS / med[b].perCpuS).toFixed(0);
console.log(`wss/ws messages/s: echo ${ratio('echo_wss', 'echo_ws')} %, docs ${ratio('docs_wss', 'docs_ws')} %; `
    + `per server CPU-s: echo ${cost('echo_wss', 'echo_ws')} %, docs ${cost('docs_wss', 'docs_ws')} %; `
    + `resumed/full handshakes: ${(med.hs_resumed.value / med.hs_full.value).toFixed(2)}x (per server CPU-s ${(med.hs_resumed.perCpuS / med.hs_full.perCpuS).toFixed(2)}x)`);
if (opt.json) writeFileSync(opt.json, JSON.stringify({ seconds: SECONDS, runs: RUNS, pinned, message_bytes: MESSAGE_BYTES, figures: med }, null, 2));
