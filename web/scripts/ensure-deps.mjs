// Runs `npm ci` in web/ only when node_modules is missing or older than the
// lockfile, so `zig build` stays fast and offline once dependencies are in.
// Usage: node web/scripts/ensure-deps.mjs
import { statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const webDir = fileURLToPath(new URL('..', import.meta.url));
const mtime = (p) => { try { return statSync(p).mtimeMs; } catch { return -1; } };

const lock = mtime(join(webDir, 'package-lock.json'));
const installed = mtime(join(webDir, 'node_modules', '.package-lock.json'));
if (lock < 0) {
  console.error('ensure-deps: web/package-lock.json is missing');
  process.exit(1);
}
if (installed >= lock) process.exit(0);

console.error('ensure-deps: npm ci in web/');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const r = spawnSync(npm, ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: webDir, stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
