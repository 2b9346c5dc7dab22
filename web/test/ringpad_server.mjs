// Starts the real ringpad binary for the browser tests: loopback, an ephemeral
// port (or a given one, to come back on the same address after a restart), a
// data folder of the caller's, and always stopped (SIGTERM, then SIGKILL; every
// server still alive when the process exits is killed).
//
// The binary and the installed editor come from RINGPAD_BIN / RINGPAD_WEB_ROOT
// (set by scripts/run-tests.mjs, which `zig build test` runs), else from
// ../zig-out after `./zigw build`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const repoDir = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = process.env.RINGPAD_BIN || join(repoDir, 'zig-out/bin/ringpad');
export const WEB_ROOT = process.env.RINGPAD_WEB_ROOT || join(repoDir, 'zig-out/share/ringpad/web');
export const available = existsSync(BIN) && existsSync(join(WEB_ROOT, 'editor.html'));

const START_TIMEOUT_MS = 5000;
const STOP_TERM_WAIT_MS = 3000;
const STDERR_KEEP_BYTES = 64 * 1024;
const LISTEN_RE = /ringpad listening on http:\/\/(\[[^\]]+\]|[^\s:]+):(\d+) \((\d+) workers?\)/;

const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
});

/**
 * @param {object} o
 * @param {string} o.dataDir the document store (kept across restarts by the caller)
 * @param {number} [o.port] 0 (default) for an ephemeral port
 * @param {string} [o.authSecret] turns auth on
 * @param {number} [o.threads] workers (2: documents and connections on different rings)
 * @param {string[]} [o.extraArgs] more flags
 * @returns {Promise<{port: number, url: string, stderr: () => string, stop: () => Promise<void>}>}
 */
export async function startRingpad({ dataDir, port = 0, authSecret = null, threads = 2, extraArgs = [] }) {
  const args = ['--host', '127.0.0.1', '--port', String(port), '--threads', String(threads),
    '--web-root', WEB_ROOT, '--data-dir', dataDir];
  if (authSecret) args.push('--auth-secret', authSecret);
  args.push(...extraArgs);
  const child = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => { live.delete(child); resolve({ code, signal }); });
    child.on('error', (e) => { live.delete(child); stderr += `spawn error: ${e.message}\n`; resolve({ code: null, signal: null }); });
  });
  let gone = false;
  exited.then(() => { gone = true; });
  const listening = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ringpad did not listen within ${START_TIMEOUT_MS} ms:\n${stderr}`)),
      START_TIMEOUT_MS);
    child.stderr.on('data', (c) => {
      stderr = (stderr + c).slice(-STDERR_KEEP_BYTES);
      const m = LISTEN_RE.exec(stderr);
      if (m) { clearTimeout(timer); resolve({ host: m[1], port: Number(m[2]) }); }
    });
    exited.then((i) => { clearTimeout(timer); reject(new Error(`ringpad exited (${i.code ?? i.signal}) before listening:\n${stderr}`)); });
  }).catch(async (e) => { child.kill('SIGKILL'); await exited; throw e; });
  return {
    port: listening.port,
    url: `http://127.0.0.1:${listening.port}`,
    stderr: () => stderr,
    async stop() {
      if (gone) return;
      child.kill('SIGTERM');
      const t = new Promise((r) => setTimeout(r, STOP_TERM_WAIT_MS, 'timeout'));
      if ((await Promise.race([exited, t])) === 'timeout') child.kill('SIGKILL');
      await exited;
    },
  };
}

/** `ringpad token` with the given secret: a JWT with these grants (['pattern:role', ...]). */
export function mintToken(secret, sub, docs, { name } = {}) {
  const args = ['token', '--secret', secret, '--sub', sub, '--ttl', '1h'];
  if (name) args.push('--name', name);
  for (const d of docs) args.push('--doc', d);
  const r = spawnSync(BIN, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ringpad token failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}
