#!/usr/bin/env node
// Runs the editor's tests (node's test runner) against a built ringpad:
//   node scripts/run-tests.mjs <ringpad-binary> <installed-web-root> <test-file>...
// `zig build test` passes the binary it built and the installed web root; this
// exports them as RINGPAD_BIN / RINGPAD_WEB_ROOT (read by test/ringpad_server.mjs)
// and kills the run if it outlives RUN_TIMEOUT_MS.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const RUN_TIMEOUT_MS = 5 * 60 * 1000;

const [bin, webRoot, ...files] = process.argv.slice(2);
if (!bin || !webRoot || files.length === 0) {
  console.error('usage: node scripts/run-tests.mjs <ringpad-binary> <web-root> <test-file>...');
  process.exit(2);
}
for (const p of [bin, webRoot]) {
  if (!existsSync(p)) { console.error(`run-tests: ${p} does not exist`); process.exit(2); }
}

const child = spawn(process.execPath, ['--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: { ...process.env, RINGPAD_BIN: resolve(bin), RINGPAD_WEB_ROOT: resolve(webRoot) },
});
const killer = setTimeout(() => {
  console.error(`run-tests: the run took over ${RUN_TIMEOUT_MS} ms, killing it`);
  child.kill('SIGKILL');
}, RUN_TIMEOUT_MS);
child.on('exit', (code, signal) => {
  clearTimeout(killer);
  process.exit(code ?? (signal ? 1 : 0));
});
