// Starts the real ringpad binary on an ephemeral loopback port and always stops it.
//
// Every test gets its own server (startup is milliseconds) so that one test's
// damage never leaks into the next, and a failure message carries that
// server's own stderr.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { addDirWriter } from './rp-util.mjs';

export const BIN = process.env.RINGPAD_BIN;
export const WEB_ROOT = process.env.RINGPAD_WEB_ROOT;

const START_TIMEOUT_MS = 5000;
const STOP_TERM_WAIT_MS = 2000;
const STDERR_KEEP_BYTES = 256 * 1024;
const LISTEN_RE = /ringpad listening on https?:\/\/(\[[^\]]+\]|[^\s:]+):(\d+) \((\d+) workers?\)/;

// Servers still alive when this test file's process exits are killed, so a
// crashed test file never leaves a server behind.
const live = new Set();
process.on('exit', () => {
    for (const child of live) {
        try { child.kill('SIGKILL'); } catch { /* already gone */ }
    }
});

/** camelCase option object -> ['--kebab-case', 'value', ...]; true = bare flag. */
export function flagsToArgs(flags) {
    const args = [];
    for (const [key, value] of Object.entries(flags)) {
        if (value === undefined || value === null || value === false) continue;
        const flag = '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
        if (value === true) args.push(flag);
        else if (Array.isArray(value)) for (const v of value) args.push(flag, String(v)); // a repeatable flag
        else args.push(flag, String(value));
    }
    return args;
}

function procStatusKb(pid, field) {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]);
}

/**
 * Starts ringpad. `flags` are camelCase flag names (host/port/threads default to
 * 127.0.0.1 / 0 / 1; webRoot to RINGPAD_WEB_ROOT). `rawArgs` replaces the
 * computed argv entirely (for --help and env-var tests); `bin` another build
 * of the server (ringpad-faultalloc).
 */
export async function startServer(flags = {}, { env = {}, rawArgs = null, bin = BIN } = {}) {
    if (!bin) throw new Error('RINGPAD_BIN is not set (run the tests through run.mjs)');
    const all = { host: '127.0.0.1', port: 0, threads: 1, webRoot: WEB_ROOT, ...flags };
    const args = rawArgs ?? flagsToArgs(all);
    const child = spawn(bin, args, {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    let stderr = '';
    let stdout = '';
    const keep = (s, chunk) => (s + chunk).slice(-STDERR_KEEP_BYTES);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (c) => { stdout = keep(stdout, c); });
    const exited = new Promise((resolve) => {
        child.on('exit', (code, signal) => {
            live.delete(child);
            resolve({ code, signal });
        });
        child.on('error', (err) => {
            live.delete(child);
            stderr = keep(stderr, `spawn error: ${err.message}\n`);
            resolve({ code: null, signal: null, error: err });
        });
    });
    let exitInfo = null;
    exited.then((info) => { exitInfo = info; });

    const ready = new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            reject(new Error(`ringpad did not print its listening line within ${START_TIMEOUT_MS} ms`));
        }, START_TIMEOUT_MS);
        child.stderr.on('data', (c) => {
            stderr = keep(stderr, c);
            const m = stderr.match(LISTEN_RE);
            if (m) {
                clearTimeout(timer);
                resolve({ host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]), workers: Number(m[3]) });
            }
        });
        exited.then((info) => {
            clearTimeout(timer);
            reject(new Error(`ringpad exited before listening (code ${info.code}, signal ${info.signal})`));
        });
    });

    const server = {
        args,
        pid: child.pid,
        child,
        exited,
        host: null,
        port: null,
        workers: null,
        get exitInfo() { return exitInfo; },
        stderr: () => stderr,
        stdout: () => stdout,
        stderrTail: (bytes = 4000) => stderr.slice(-bytes),
        rssKb: () => procStatusKb(child.pid, 'VmRSS'),
        hwmKb: () => procStatusKb(child.pid, 'VmHWM'),
        signal(sig) { if (!exitInfo) child.kill(sig); },
        /** SIGTERM, then SIGKILL if it has not exited in time. Idempotent. */
        async stop() {
            if (exitInfo) return exitInfo;
            child.kill('SIGTERM');
            const timer = new Promise((r) => setTimeout(r, STOP_TERM_WAIT_MS, 'timeout'));
            if ((await Promise.race([exited, timer])) === 'timeout') child.kill('SIGKILL');
            return exited;
        },
    };
    if (typeof all.dataDir === 'string') addDirWriter(all.dataDir, () => server.stop());
    try {
        Object.assign(server, await ready);
    } catch (err) {
        child.kill('SIGKILL');
        await exited;
        err.message += `\nargv: ${BIN} ${args.join(' ')}\n--- ringpad stderr ---\n${stderr.slice(-4000)}`;
        throw err;
    }
    return server;
}

/**
 * A node:test test that runs against its own fresh server.
 *   serverTest(name, { flags: {...}, env, timeout }, async (t, srv) => {...})
 * The server is stopped in an after() hook, after the test's own hooks; a
 * failure's message ends with the server's stderr.
 */
export function serverTest(name, spec, fn) {
    const { flags = {}, env = {}, timeout = 20000 } = spec;
    test(name, { timeout }, async (t) => {
        const srv = await startServer(flags, { env });
        try {
            await fn(t, srv);
        } catch (err) {
            if (err && typeof err === 'object') {
                // The stack was rendered with the message when the error was made: extend both.
                const tail = `\n--- ringpad stderr (tail) ---\n${srv.stderrTail()}`;
                try {
                    if (typeof err.stack === 'string') err.stack += tail;
                    else err.message = String(err.message) + tail;
                } catch { /* frozen */ }
            }
            throw err;
        } finally {
            // after() hooks run in the order registered: registering here puts the
            // server's stop behind the test's own cleanup (its clients are gone by
            // then, so a graceful stop is quick). A test cancelled by its timeout
            // never gets here; the process exit hook above kills its server.
            t.after(async () => {
                await srv.stop();
                assertNoSanitizerReport(srv);
            });
        }
    });
}

// Under `-Dsanitize=address` (and UBSan in Debug) the server reports leaks and
// memory errors on stderr when it exits: any report fails the test that ran it.
const SANITIZER_RE = /ERROR: (LeakSanitizer|AddressSanitizer)|runtime error: /;
export function assertNoSanitizerReport(srv) {
    const text = srv.stderr();
    const m = text.match(SANITIZER_RE);
    if (m) throw new Error(`ringpad reported a sanitizer error:\n${text.slice(Math.max(0, m.index - 200), m.index + 3000)}`);
}

/** A server stopped after test `t`, whose stderr must then hold no sanitizer report. */
export async function startServerFor(t, flags, options) {
    const srv = await startServer(flags, options);
    t.after(async () => {
        await srv.stop();
        assertNoSanitizerReport(srv);
    });
    return srv;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects with `what` if `promise` has not settled within `ms`. */
export function within(ms, promise, what = 'operation') {
    let timer;
    return Promise.race([
        promise,
        new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
        }),
    ]).finally(() => clearTimeout(timer));
}
