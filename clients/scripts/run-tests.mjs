#!/usr/bin/env node
// Runs the SDK suites (`zig build test`, `zig build sdk-test`):
//   node clients/scripts/run-tests.mjs <ringpad> <ringpad-bench> <installed-web-root>
// 1. clients/js: `npm ci` when its lockfile changed; node --test test/*.test.mjs; tsc on the types.
// 2. clients/python: a venv under ~/.cache/ringpad from requirements.lock (made again only when
//    the lockfile changes, so later runs are offline); unittest; mypy --strict.
// The JS suite's mixed test runs the Python fuzz editor with that venv.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUN_TIMEOUT_MS = 5 * 60 * 1000;
const clientsDir = fileURLToPath(new URL('..', import.meta.url));
const repoDir = resolve(clientsDir, '..');
const jsDir = join(clientsDir, 'js');
const pyDir = join(clientsDir, 'python');
const cacheDir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ringpad');
const venvDir = join(cacheDir, 'venv-python-sdk');
const venvPython = join(venvDir, 'bin', 'python');

const [bin, bench, webRoot] = process.argv.slice(2);
if (!bin || !bench || !webRoot) {
  console.error('usage: node clients/scripts/run-tests.mjs <ringpad> <ringpad-bench> <web-root>');
  process.exit(2);
}
const env = {
  ...process.env,
  RINGPAD_BIN: resolve(bin), RINGPAD_BENCH: resolve(bench), RINGPAD_WEB_ROOT: resolve(webRoot), RINGPAD_PYTHON: venvPython,
};

function step(what, cmd, args, cwd) {
  console.error(`sdk-test: ${what}`);
  const r = spawnSync(cmd, args, { cwd, env, stdio: 'inherit', timeout: RUN_TIMEOUT_MS });
  if (r.status !== 0) {
    console.error(`sdk-test: ${what} failed (${r.error ? r.error.message : r.signal ?? `exit ${r.status}`})`);
    process.exit(1);
  }
}

// The venv is stamped with the lockfile's hash: an unchanged lockfile means no pip (offline).
function ensureVenv() {
  const lock = readFileSync(join(pyDir, 'requirements.lock'));
  const hash = createHash('sha256').update(lock).digest('hex');
  const stamp = join(venvDir, '.requirements.sha256');
  if (existsSync(venvPython) && existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return;
  rmSync(venvDir, { recursive: true, force: true });
  mkdirSync(cacheDir, { recursive: true });
  step(`python venv in ${venvDir}`, 'python3', ['-m', 'venv', venvDir], repoDir);
  step('pip install -r clients/python/requirements.lock', venvPython,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', join(pyDir, 'requirements.lock')], repoDir);
  writeFileSync(stamp, hash);
}

step('npm ci in clients/js (when its lockfile changed)', process.execPath, [join(repoDir, 'web/scripts/ensure-deps.mjs'), jsDir], repoDir);
ensureVenv();
const jsTests = readdirSync(join(jsDir, 'test')).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => `test/${f}`);
step('clients/js tests', process.execPath, ['--test', '--test-reporter=spec', ...jsTests], jsDir);
step('clients/js types (tsc)', process.execPath, [join(jsDir, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], jsDir);
step('clients/python tests', venvPython, ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.', '-v'], pyDir);
step('clients/python types (mypy --strict)', venvPython, ['-m', 'mypy', 'ringpad', 'tests'], pyDir);
console.error('sdk-test: all SDK suites passed');
