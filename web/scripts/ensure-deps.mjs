// Runs `npm ci` in web/ only when node_modules is missing or older than the
// lockfile, so `zig build` stays fast and offline once dependencies are in.
// Usage: node web/scripts/ensure-deps.mjs [package-dir]   (default: web/; clients/js uses it too)
import { statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

const webDir = process.argv[2] ? resolve(process.argv[2]) : fileURLToPath(new URL('..', import.meta.url));
const mtime = (p) => { try { return statSync(p).mtimeMs; } catch { return -1; } };

const lock = mtime(join(webDir, 'package-lock.json'));
const installed = mtime(join(webDir, 'node_modules', '.package-lock.json'));
if (lock < 0) {
  console.error(`ensure-deps: ${join(webDir, 'package-lock.json')} is missing`);
  process.exit(1);
}
if (installed >= lock) process.exit(0);

console.error(`ensure-deps: npm ci in ${webDir}`);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const r = spawnSync(npm, ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: webDir, stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
