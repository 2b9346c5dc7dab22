// Both SDKs and the C load generator edit one document at once against the
// real ringpad, with connections cut under them: every client ends with the
// server's REST text, and the server's version equals the number of ops
// acknowledged (JS + Python + ringpad-bench), so nothing was applied twice or lost.
//
// The Python side runs clients/python/tests/fuzz_editor.py with RINGPAD_PYTHON
// (set by `zig build test` to the venv of clients/python/requirements.lock),
// else the venv that ./zigw build sdk-test made. Skips what is not there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Client } from '../src/index.js';
import { available, startRingpad, BIN } from '../../../web/test/ringpad_server.mjs';
import { prng } from './gen.mjs';

const repoDir = fileURLToPath(new URL('../../..', import.meta.url));
const BENCH = process.env.RINGPAD_BENCH || join(dirname(BIN), 'ringpad-bench');
const cacheDir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ringpad');
const PYTHON = process.env.RINGPAD_PYTHON || join(cacheDir, 'venv-python-sdk', 'bin', 'python');
const FUZZ_PY = join(repoDir, 'clients/python/tests/fuzz_editor.py');
const BENCH_SEED = 11;
const BENCH_DURATION_S = 4;
const SETTLE_TIMEOUT_MS = 20000;
const PIECES = ['a', 'bc', 'é', '😀', '👩‍💻', '\n', '中文'];

const skip = !available ? 'ringpad is not built (./zigw build)'
  : !existsSync(BENCH) ? `${BENCH} is not built`
    : !existsSync(PYTHON) ? `no Python with the SDK's packages at ${PYTHON} (./zigw build sdk-test makes it)` : false;

/** Runs a command; resolves {code, stdout, stderr}. */
function run(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let stdout = '', stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c) => { stdout += c; });
  child.stderr.setEncoding('utf8').on('data', (c) => { stderr += c; });
  const done = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code: code ?? signal, stdout, stderr })));
  return { child, done };
}

async function until(pred, what, ms = SETTLE_TIMEOUT_MS) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Rejects after ms, so a wait that never ends still reaches the finally that stops everything. */
function within(promise, what, ms = SETTLE_TIMEOUT_MS) {
  let timer;
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

test('JS, Python and ringpad-bench editors on one document converge, with cut connections', { skip, timeout: 60000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ringpad-sdk-mixed-'));
  const srv = await startRingpad({ dataDir });
  const kids = [];
  const clients = [];
  try {
    const url = `ws://127.0.0.1:${srv.port}/ws`;
    const bench = run(BENCH, ['--port', String(srv.port), '--scenario', 'hot', '--connections', '3',
      '--duration-s', String(BENCH_DURATION_S), '--warmup-s', '0', '--rate', '100', '--seed', String(BENCH_SEED), '--quiet']);
    kids.push(bench.child);
    // ringpad-bench names its document after its seed (hex) and pid.
    const docName = `bench/hot-${BENCH_SEED.toString(16)}-${bench.child.pid}/d0`;
    const untilFile = join(dataDir, 'js-done');
    const py = run(PYTHON, [FUZZ_PY, url, docName, '--clients', '2', '--rounds', '40', '--seed', '5', '--until-file', untilFile]);
    kids.push(py.child);

    const rnd = prng(11);
    clients.push(...[0, 1].map((i) => new Client(url, { WebSocket, name: `js${i}` })));
    const docs = await Promise.all(clients.map((c) => c.open(docName)));
    const acked = docs.map(() => new Set());
    docs.forEach((d, i) => d.on('ack', (a) => acked[i].add(a.id)));
    for (let round = 0; round < 40; round++) {
      for (const d of docs) {
        const len = d.length;
        if (len > 0 && rnd() < 0.35) { const pos = Math.floor(rnd() * len); d.delete(pos, 1); }
        else d.insert(Math.floor(rnd() * (len + 1)), PIECES[Math.floor(rnd() * PIECES.length)]);
      }
      if (round % 10 === 5) clients[round % 2].dropConnection();
      await new Promise((r) => setTimeout(r, 5));
    }
    await within(Promise.all(docs.map((d) => d.whenSynced())), 'JS clients synced');

    const b = await within(bench.done, 'ringpad-bench exited', SETTLE_TIMEOUT_MS + BENCH_DURATION_S * 1000);
    assert.equal(b.code, 0, `ringpad-bench failed:\n${b.stdout}\n${b.stderr}`);
    const benchAcks = Number(/\((\d+) acks,/.exec(b.stdout)?.[1]);
    assert.ok(benchAcks > 0, `ringpad-bench acked nothing:\n${b.stdout}`);
    writeFileSync(untilFile, '');
    const p = await within(py.done, 'fuzz_editor.py exited', 2 * SETTLE_TIMEOUT_MS);
    assert.equal(p.code, 0, `fuzz_editor.py failed:\n${p.stderr}`);
    const pyResult = JSON.parse(p.stdout);

    const server = await (await fetch(`${srv.url}/api/docs/${docName}`)).json();
    await until(() => docs.every((d) => d.v === server.v), 'JS clients at the server version');
    for (const d of docs) assert.equal(d.text, server.text);
    assert.deepEqual(pyResult.texts, [server.text, server.text]);
    assert.deepEqual(pyResult.vs, [server.v, server.v]);
    // Edits made while one op is in flight are composed into the next op, so
    // how many ops 80 edits become depends on the round trip: a slow machine
    // sends fewer, larger ones. Every client must still have been acked.
    const jsAcks = acked.reduce((n, s) => n + s.size, 0);
    assert.ok(acked.every((s) => s.size >= 1) && pyResult.acked >= 2, `a client was never acked: js ${acked.map((s) => s.size)}, python ${pyResult.acked}`);
    assert.equal(server.v, jsAcks + pyResult.acked + benchAcks,
      `versions ${server.v} = acked ops (js ${jsAcks} + python ${pyResult.acked} + bench ${benchAcks})`);
  } finally {
    // Closed on failure too: a client left open reconnects forever and keeps
    // the test process alive past the runner's timeout.
    for (const c of clients) c.close();
    for (const k of kids) if (k.exitCode === null && k.signalCode === null) k.kill('SIGKILL');
    await srv.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
