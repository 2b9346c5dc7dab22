// Helpers for the document-session tests: scratch data dirs, HS256 tokens
// minted with node's crypto (independent of the server's code), waiting.
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Servers writing into a scratch dir, by dir: a dir is removed only after they
// stopped (after-hooks run in the order they were added, so the dir's own hook
// would otherwise run while a server started later still writes into it).
const dirWriters = new Map();

/** Called by startServer for its --data-dir: `stop` runs before the dir goes. */
export function addDirWriter(dir, stop) {
    if (!dirWriters.has(dir)) dirWriters.set(dir, new Set());
    dirWriters.get(dir).add(stop);
}

export function scratchDir(t, prefix = 'ringpad-docs-') {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    t.after(async () => {
        for (const [d, stops] of dirWriters) {
            if (d !== dir && !d.startsWith(dir + path.sep)) continue;
            await Promise.all([...stops].map((stop) => stop()));
            dirWriters.delete(d);
        }
        rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    });
    return dir;
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function mintToken(secret, claims) {
    const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = b64url(JSON.stringify(claims));
    const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest();
    return `${head}.${body}.${b64url(sig)}`;
}

export const nowS = () => Math.floor(Date.now() / 1000);

/** Polls `cond` every 20 ms until it is true or `ms` pass (then throws `what`). */
export async function until(cond, ms = 5000, what = 'condition') {
    const end = Date.now() + ms;
    for (;;) {
        if (await cond()) return;
        if (Date.now() > end) throw new Error(`${what}: not reached within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 20));
    }
}

/** One HTTP request: `body` is sent as JSON, `raw` as it is (with its own
 * content type in `headers`). The answer's headers come back as a Headers. */
export async function httpJson(port, method, urlPath, { body, token, raw, headers: extra = {} } = {}) {
    const headers = { ...extra };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, {
        method, headers, body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, json, text, headers: res.headers };
}
