// nginx from Debian for the reverse-proxy test, without installing it: the
// package is downloaded with `apt-get download` and unpacked into the cache
// (no post-install scripts, so no service is enabled or started). An nginx
// already on PATH is used as it is.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

const CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'ringpad', 'nginx-deb');

/** Path of an nginx binary, or { skip: reason }. */
export function findNginx() {
    for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin'])) {
        const p = path.join(dir, 'nginx');
        if (dir && existsSync(p)) return { bin: p };
    }
    const cached = path.join(CACHE, 'root', 'usr', 'sbin', 'nginx');
    if (existsSync(cached)) return { bin: cached };
    if (spawnSync('apt-get', ['--version']).status !== 0) return { skip: 'no nginx and no apt-get to fetch it' };
    mkdirSync(CACHE, { recursive: true });
    const dl = spawnSync('apt-get', ['download', 'nginx'], { cwd: CACHE, encoding: 'utf8', timeout: 60000 });
    const deb = readdirSync(CACHE).find((f) => /^nginx_.*\.deb$/.test(f));
    if (!deb) return { skip: `apt-get download nginx failed: ${dl.stderr}` };
    const x = spawnSync('dpkg-deb', ['-x', deb, 'root'], { cwd: CACHE, encoding: 'utf8' });
    if (x.status !== 0 || !existsSync(cached)) return { skip: `dpkg-deb -x failed: ${x.stderr}` };
    return { bin: cached };
}
