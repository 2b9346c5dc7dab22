// A redis-server for one test (lib/redis-server.sh, shared with the C unit
// tests): a free loopback port, AOF with appendfsync always, a temp dir;
// stopped by its pid and its dir removed in an after() hook.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'redis-server.sh');

function start(args = []) {
    const out = execFileSync('sh', [script, ...args], { encoding: 'utf8', timeout: 20000 }).trim();
    const [port, pid, dir] = out.split(' ');
    return { port: Number(port), pid: Number(pid), dir };
}

function alive(pid) {
    try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Starts Redis for test t; `.url` for --redis, `.kill()` (SIGKILL), `.restart()` on the same dir and port. */
export function startRedis(t) {
    const r = { ...start() };
    r.url = `redis://127.0.0.1:${r.port}`;
    r.kill = async () => {
        if (!alive(r.pid)) return;
        process.kill(r.pid, 'SIGKILL');
        for (let i = 0; i < 100 && alive(r.pid); i++) await new Promise((res) => setTimeout(res, 20));
    };
    r.restart = async () => {
        await r.kill();
        Object.assign(r, start([r.dir, String(r.port)]));
    };
    r.cli = (...args) => execFileSync('redis-cli', ['-p', String(r.port), ...args], { encoding: 'utf8' }).trim();
    t.after(async () => {
        await r.kill();
        rmSync(r.dir, { recursive: true, force: true });
    });
    return r;
}
