// TLS helpers: certificates made by `ringpad cert` (wolfCrypt, no openssl),
// a TLS server start (its listening line says https://), and Node clients.
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import WebSocket from 'ws';
import { RpConn } from './rp-client.mjs';
import { BIN, WEB_ROOT, flagsToArgs, within } from './server.mjs';

const START_TIMEOUT_MS = 5000;
const STOP_TERM_WAIT_MS = 2000;
const STDERR_KEEP_BYTES = 256 * 1024;
const LISTEN_RE = /ringpad listening on https:\/\/(\[[^\]]+\]|[^\s:]+):(\d+) \((\d+) workers?\)/;
export const IO_TIMEOUT_MS = 5000;

const live = new Set();
process.on('exit', () => {
    for (const child of live) {
        try { child.kill('SIGKILL'); } catch { /* gone */ }
    }
});

/** A folder with a test CA, two leaves it signed (a, b), an expired leaf and a self-signed one. */
export function makeCerts() {
    const dir = mkdtempSync(path.join(tmpdir(), 'ringpad-tls-'));
    const p = (name) => path.join(dir, name);
    const cert = (...args) => execFileSync(BIN, ['cert', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    cert('--ca', '--cert', p('ca.pem'), '--key', p('ca-key.pem'));
    const signed = ['--issuer-cert', p('ca.pem'), '--issuer-key', p('ca-key.pem')];
    cert('--cert', p('a.pem'), '--key', p('a-key.pem'), ...signed);
    cert('--cert', p('b.pem'), '--key', p('b-key.pem'), ...signed);
    cert('--expired', '--cert', p('expired.pem'), '--key', p('expired-key.pem'), ...signed);
    cert('--cert', p('self.pem'), '--key', p('self-key.pem'));
    const read = (name) => readFileSync(p(name));
    return {
        dir, path: p, ca: read('ca.pem'),
        fingerprint: (name) => new X509Certificate(read(name)).fingerprint256,
        remove: () => rmSync(dir, { recursive: true, force: true }),
    };
}

/** Starts ringpad with TLS flags; like startServer but for the https:// line. */
export async function startTlsServer(flags) {
    // Tests run several servers at once; each owns its data dir (one server per dir).
    const ownDir = flags.dataDir ? null : mkdtempSync(path.join(tmpdir(), 'ringpad-tls-data-'));
    const all = { host: '127.0.0.1', port: 0, threads: 1, webRoot: WEB_ROOT, dataDir: ownDir ?? undefined, ...flags };
    const args = flagsToArgs(all);
    const child = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(child);
    let stderr = '';
    let exitInfo = null;
    child.stderr.setEncoding('utf8');
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
        live.delete(child);
        if (ownDir) rmSync(ownDir, { recursive: true, force: true });
        exitInfo = { code, signal };
        resolve(exitInfo);
    }));
    const listening = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no https listening line')), START_TIMEOUT_MS);
        child.stderr.on('data', (c) => {
            stderr = (stderr + c).slice(-STDERR_KEEP_BYTES);
            const m = stderr.match(LISTEN_RE);
            if (m) { clearTimeout(timer); resolve(Number(m[2])); }
        });
        exited.then((info) => { clearTimeout(timer); reject(new Error(`ringpad exited (code ${info.code})\n${stderr}`)); });
    });
    let port;
    try {
        port = await listening;
    } catch (err) {
        child.kill('SIGKILL');
        throw err;
    }
    return {
        port,
        pid: child.pid,
        stderr: () => stderr,
        signal(sig) { if (!exitInfo) child.kill(sig); },
        /** Resolves when the server's stderr matches `re` (after `from` characters). */
        async waitLog(re, from = 0, ms = IO_TIMEOUT_MS) {
            return within(ms, new Promise((resolve) => {
                const check = () => {
                    if (re.test(stderr.slice(from))) { child.stderr.off('data', check); resolve(); }
                };
                child.stderr.on('data', check);
                check();
            }), `log ${re}`);
        },
        async stop() {
            if (exitInfo) return exitInfo;
            child.kill('SIGTERM');
            const timer = new Promise((r) => setTimeout(r, STOP_TERM_WAIT_MS, 'timeout'));
            if ((await Promise.race([exited, timer])) === 'timeout') child.kill('SIGKILL');
            const info = await exited;
            // under -Dsanitize=address a report at exit fails the test that owned the server
            if (/ERROR: (Leak|Address)Sanitizer/.test(stderr)) throw new Error(`sanitizer report:\n${stderr.slice(-4000)}`);
            return info;
        },
    };
}

/** A TLS connection; resolves the socket once the handshake is done, rejects with its error. */
export function tlsConnect(port, options = {}) {
    return within(IO_TIMEOUT_MS, new Promise((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...options });
        // sessions (TLS 1.2: with the handshake; TLS 1.3: tickets after it), newest last
        s.sessions = [];
        s.on('session', (session) => s.sessions.push(session));
        s.once('secureConnect', () => resolve(s));
        s.once('error', (err) => { s.destroy(); reject(err); });
    }), 'TLS connect');
}

/** GET over https; resolves { status, headers, body, socket facts }. */
export function httpsGet(port, urlPath, options = {}) {
    return within(IO_TIMEOUT_MS, new Promise((resolve, reject) => {
        const req = https.get({ host: '127.0.0.1', port, path: urlPath, servername: 'localhost', agent: false, ...options }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({
                status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks),
                protocol: res.socket.getProtocol?.(), alpn: res.socket.alpnProtocol,
            }));
            res.on('error', reject);
        });
        req.on('error', reject);
    }), `GET ${urlPath}`);
}

/**
 * A ringpad.v1 connection over wss:// (the client verifies the server against `ca`).
 * The same object as RpConn.open gives (send, next, type, error, close), whose
 * own open only speaks ws://.
 */
export async function openRpWss(port, ca, { path: urlPath = '/ws' } = {}) {
    const c = RpConn.over(new WebSocket(`wss://127.0.0.1:${port}${urlPath}`, 'ringpad.v1', { ca, servername: 'localhost', perMessageDeflate: false }));
    await within(IO_TIMEOUT_MS, c.opened, 'wss open');
    return c;
}

/** A JSON request over https; resolves { status, json, text }. */
export function httpsJson(port, method, urlPath, { body, ca } = {}) {
    const payload = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const headers = payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {};
    return within(IO_TIMEOUT_MS, new Promise((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port, method, path: urlPath, servername: 'localhost', ca, agent: false, headers }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString();
                let json = null;
                try { json = JSON.parse(text); } catch { /* not JSON */ }
                resolve({ status: res.statusCode, json, text, protocol: res.socket.getProtocol?.() });
            });
            res.on('error', reject);
        });
        req.on('error', reject);
        req.end(payload ?? undefined);
    }), `${method} ${urlPath}`);
}
