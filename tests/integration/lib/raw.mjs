// A raw TCP client for hand-made HTTP requests and WebSocket frames: the
// requests and frames a well-behaved library refuses to send.
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const DEFAULT_READ_TIMEOUT_MS = 5000;
const MAX_HEAD_BYTES = 64 * 1024;

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

/** A socket with a receive buffer and bounded, awaitable reads. */
export class RawConn {
    constructor(socket) {
        this.socket = socket;
        this.buf = Buffer.alloc(0);
        this.ended = false;        // EOF or close seen
        this.error = null;
        this.waiters = [];
        socket.on('data', (chunk) => {
            this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
            this.wake();
        });
        socket.on('end', () => { this.ended = true; this.wake(); });
        socket.on('close', () => { this.ended = true; this.wake(); });
        socket.on('error', (err) => { this.error = err; this.ended = true; this.wake(); });
    }

    wake() {
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w();
    }

    /** Resolves when `pred()` returns non-undefined; rejects on timeout. */
    waitFor(pred, timeoutMs, what) {
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                this.waiters = this.waiters.filter((w) => w !== check);
                reject(new Error(`${what}: timed out after ${timeoutMs} ms (buffered ${this.buf.length} bytes, ended=${this.ended})`));
            }, timeoutMs);
            const check = () => {
                let v;
                try { v = pred(); } catch (err) { clearTimeout(timer); reject(err); return; }
                if (v !== undefined) { clearTimeout(timer); resolve(v); } else this.waiters.push(check);
            };
            check();
        });
    }

    write(data) {
        return new Promise((resolve) => {
            if (this.socket.destroyed) { resolve(false); return; }
            this.socket.write(data, (err) => resolve(!err));
        });
    }

    /** Exactly `n` bytes. */
    read(n, timeoutMs = DEFAULT_READ_TIMEOUT_MS) {
        return this.waitFor(() => {
            if (this.buf.length >= n) {
                const out = this.buf.subarray(0, n);
                this.buf = this.buf.subarray(n);
                return out;
            }
            if (this.ended) throw new Error(`connection ended after ${this.buf.length} of ${n} bytes`);
            return undefined;
        }, timeoutMs, `read ${n} bytes`);
    }

    /** Bytes through the first `delim` (included). */
    readUntil(delim, timeoutMs = DEFAULT_READ_TIMEOUT_MS, maxBytes = MAX_HEAD_BYTES) {
        return this.waitFor(() => {
            const i = this.buf.indexOf(delim);
            if (i >= 0) {
                const out = this.buf.subarray(0, i + delim.length);
                this.buf = this.buf.subarray(i + delim.length);
                return out;
            }
            if (this.buf.length > maxBytes) throw new Error(`no ${JSON.stringify(delim)} in ${maxBytes} bytes`);
            if (this.ended) throw new Error(`connection ended before ${JSON.stringify(delim)} (had ${this.buf.length} bytes: ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))})`);
            return undefined;
        }, timeoutMs, `read until ${JSON.stringify(delim)}`);
    }

    /** Everything until the peer closes; resolves with the remaining bytes. */
    readToEnd(timeoutMs = DEFAULT_READ_TIMEOUT_MS) {
        return this.waitFor(() => {
            if (!this.ended) return undefined;
            const out = this.buf;
            this.buf = Buffer.alloc(0);
            return out;
        }, timeoutMs, 'wait for the server to close the connection');
    }

    /** True if the peer closed within `timeoutMs`, false otherwise (never rejects). */
    async closedWithin(timeoutMs) {
        try { await this.waitFor(() => (this.ended ? true : undefined), timeoutMs, 'closed'); return true; } catch { return false; }
    }

    destroy() { this.socket.destroy(); }
}

export function connect(port, { host = '127.0.0.1', localAddress, timeoutMs = DEFAULT_READ_TIMEOUT_MS } = {}) {
    return new Promise((resolve, reject) => {
        const socket = net.connect({ host, port, localAddress });
        socket.setNoDelay(true);
        const timer = setTimeout(() => { socket.destroy(); reject(new Error(`connect ${host}:${port} timed out`)); }, timeoutMs);
        socket.once('connect', () => {
            clearTimeout(timer);
            socket.removeListener('error', reject);
            resolve(new RawConn(socket));
        });
        socket.once('error', (err) => { clearTimeout(timer); reject(err); });
    });
}

// ---- HTTP -------------------------------------------------------------------

/** Builds a request head; `headers` is an array of [name, value] or an object. */
export function buildRequest({ method = 'GET', path = '/', version = 'HTTP/1.1', headers = {}, host = '127.0.0.1', body = null }) {
    const list = Array.isArray(headers) ? headers : Object.entries(headers);
    const hasHost = list.some(([k]) => k.toLowerCase() === 'host');
    const lines = [`${method} ${path} ${version}`];
    if (!hasHost) lines.push(`Host: ${host}`);
    for (const [k, v] of list) lines.push(`${k}: ${v}`);
    const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
    return body ? Buffer.concat([head, Buffer.from(body)]) : head;
}

/**
 * Reads one response. headers: lower-cased name -> value (repeated names joined
 * with ", "). `noBody` for HEAD requests and 1xx/204/304.
 */
export async function readResponse(conn, { noBody = false, timeoutMs = DEFAULT_READ_TIMEOUT_MS } = {}) {
    const head = (await conn.readUntil('\r\n\r\n', timeoutMs)).toString('latin1');
    const [statusLine, ...lines] = head.slice(0, -4).split('\r\n');
    const m = statusLine.match(/^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/);
    if (!m) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
    const headers = {};
    const headerList = [];
    for (const line of lines) {
        const i = line.indexOf(':');
        if (i <= 0) throw new Error(`bad header line ${JSON.stringify(line)}`);
        const name = line.slice(0, i).trim().toLowerCase();
        const value = line.slice(i + 1).trim();
        headerList.push([name, value]);
        headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    const status = Number(m[2]);
    let body = Buffer.alloc(0);
    if (!noBody && status !== 101 && status !== 204 && status !== 304 && !(status >= 100 && status < 200)) {
        if ('content-length' in headers) {
            const n = Number(headers['content-length']);
            if (!Number.isSafeInteger(n) || n < 0) throw new Error(`bad Content-Length ${headers['content-length']}`);
            body = n ? await conn.read(n, timeoutMs) : body;
        } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
            const parts = [];
            for (;;) {
                const sizeLine = (await conn.readUntil('\r\n', timeoutMs)).toString('latin1');
                const size = parseInt(sizeLine, 16);
                if (!Number.isFinite(size)) throw new Error(`bad chunk size ${JSON.stringify(sizeLine)}`);
                if (size === 0) { await conn.readUntil('\r\n', timeoutMs); break; }
                parts.push(await conn.read(size, timeoutMs));
                await conn.read(2, timeoutMs);
            }
            body = Buffer.concat(parts);
        } else {
            body = await conn.readToEnd(timeoutMs);
        }
    }
    return { status, reason: m[3] ?? '', minor: Number(m[1]), headers, headerList, body, text: () => body.toString('utf8') };
}

/**
 * One request on a fresh connection. Resolves with the response plus `closed`:
 * whether the server closed the connection within `closeWaitMs` afterwards.
 */
export async function httpOnce(port, request, { noBody = false, closeWaitMs = 0, host = '127.0.0.1', timeoutMs } = {}) {
    const conn = await connect(port, { host });
    try {
        await conn.write(typeof request === 'string' || Buffer.isBuffer(request) ? request : buildRequest(request));
        const res = await readResponse(conn, { noBody, timeoutMs });
        res.closed = closeWaitMs > 0 ? await conn.closedWithin(closeWaitMs) : conn.ended;
        return res;
    } finally {
        conn.destroy();
    }
}

export const get = (port, path, headers = {}, opts = {}) => httpOnce(port, { path, headers }, opts);

// ---- WebSocket ---------------------------------------------------------------

export const newKey = () => randomBytes(16).toString('base64');
export const acceptFor = (key) => createHash('sha1').update(key + WS_GUID).digest('base64');

/** Upgrade request headers for `key`, overridable (null value = omit). */
export function upgradeHeaders(key, extra = {}) {
    const h = {
        Upgrade: 'websocket',
        Connection: 'Upgrade',
        'Sec-WebSocket-Key': key,
        'Sec-WebSocket-Version': '13',
        ...extra,
    };
    return Object.entries(h).filter(([, v]) => v !== null && v !== undefined);
}

/**
 * Opens a WebSocket by hand. Resolves { conn, res, key } with the socket
 * positioned after the 101 response; throws if the status is not 101.
 */
export async function wsConnect(port, { path = '/echo', headers = {}, host = '127.0.0.1', localAddress } = {}) {
    const conn = await connect(port, { host, localAddress });
    const key = newKey();
    await conn.write(buildRequest({ path, headers: upgradeHeaders(key, headers) }));
    const res = await readResponse(conn);
    if (res.status !== 101) {
        conn.destroy();
        throw new Error(`expected 101 from ${path}, got ${res.status} ${res.reason}: ${res.text().slice(0, 200)}`);
    }
    return { conn, res, key };
}

/**
 * Encodes a frame. Client frames are masked unless mask === false.
 * `length` overrides the announced payload length (the bytes sent are still
 * `payload`), `lengthForm` forces 7/16/64-bit encoding.
 */
export function encodeFrame({ opcode, payload = Buffer.alloc(0), fin = true, rsv1 = false, rsv2 = false, rsv3 = false, mask = true, length, lengthForm }) {
    const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    const len = length ?? data.length;
    const form = lengthForm ?? (len < 126 ? 7 : len < 65536 ? 16 : 64);
    const head = [((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (rsv2 ? 0x20 : 0) | (rsv3 ? 0x10 : 0) | (opcode & 0x0f))];
    const maskBit = mask ? 0x80 : 0;
    let ext;
    if (form === 7) {
        head.push(maskBit | len);
        ext = Buffer.alloc(0);
    } else if (form === 16) {
        head.push(maskBit | 126);
        ext = Buffer.alloc(2);
        ext.writeUInt16BE(len);
    } else {
        head.push(maskBit | 127);
        ext = Buffer.alloc(8);
        ext.writeBigUInt64BE(BigInt(len));
    }
    if (!mask) return Buffer.concat([Buffer.from(head), ext, data]);
    const key = randomBytes(4);
    const masked = Buffer.alloc(data.length);
    for (let i = 0; i < data.length; i++) masked[i] = data[i] ^ key[i & 3];
    return Buffer.concat([Buffer.from(head), ext, key, masked]);
}

export const frame = (opcode, payload, opts = {}) => encodeFrame({ opcode, payload, ...opts });

/** Close payload: 2-byte code + reason (string or Buffer). */
export function closePayload(code, reason = '') {
    const r = Buffer.isBuffer(reason) ? reason : Buffer.from(reason, 'utf8');
    const out = Buffer.alloc(2 + r.length);
    out.writeUInt16BE(code);
    r.copy(out, 2);
    return out;
}

/** Reads one server frame; server frames must not be masked. */
export async function readFrame(conn, timeoutMs = DEFAULT_READ_TIMEOUT_MS) {
    const h = await conn.read(2, timeoutMs);
    const fin = (h[0] & 0x80) !== 0;
    const rsv1 = (h[0] & 0x40) !== 0;
    const rsv2 = (h[0] & 0x20) !== 0;
    const rsv3 = (h[0] & 0x10) !== 0;
    const opcode = h[0] & 0x0f;
    const masked = (h[1] & 0x80) !== 0;
    let len = h[1] & 0x7f;
    if (len === 126) len = (await conn.read(2, timeoutMs)).readUInt16BE();
    else if (len === 127) {
        const big = (await conn.read(8, timeoutMs)).readBigUInt64BE();
        if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`server frame length ${big}`);
        len = Number(big);
    }
    if (masked) throw new Error('server sent a masked frame');
    const payload = len ? await conn.read(len, timeoutMs) : Buffer.alloc(0);
    return { fin, rsv1, rsv2, rsv3, opcode, payload };
}

/**
 * Next data message (fragments reassembled) or control frame. Returns
 * { opcode, payload } where opcode is TEXT/BINARY for messages.
 */
export async function readMessage(conn, timeoutMs = DEFAULT_READ_TIMEOUT_MS) {
    let first = null;
    const parts = [];
    for (;;) {
        const f = await readFrame(conn, timeoutMs);
        if (f.opcode >= 0x8) {
            if (!first) return f;
            continue; // control frames may sit between fragments; not what the caller waits for
        }
        if (!first) {
            if (f.opcode === OP.CONT) throw new Error('server sent a continuation without a start');
            first = f;
        } else if (f.opcode !== OP.CONT) {
            throw new Error(`server started a new message (opcode ${f.opcode}) inside a fragmented one`);
        }
        parts.push(f.payload);
        if (f.fin) return { opcode: first.opcode, payload: Buffer.concat(parts), rsv1: first.rsv1 };
    }
}

/**
 * Reads until the server's close frame (data and pings before it are skipped)
 * and returns { code, reason, payload, tcpClosed }. Unless `reply` is false,
 * answers with a close frame; then waits up to `closeWaitMs` for the server
 * to close the TCP connection.
 */
export async function expectClose(conn, { timeoutMs = DEFAULT_READ_TIMEOUT_MS, reply = true, closeWaitMs = 3000 } = {}) {
    let f;
    for (;;) {
        try {
            f = await readFrame(conn, timeoutMs);
        } catch (err) {
            err.message = `waiting for a close frame: ${err.message}`;
            throw err;
        }
        if (f.opcode === OP.CLOSE) break;
    }
    const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
    const reason = f.payload.length > 2 ? f.payload.subarray(2).toString('utf8') : '';
    if (reply) await conn.write(frame(OP.CLOSE, code === null ? Buffer.alloc(0) : closePayload(code)));
    const tcpClosed = await conn.closedWithin(closeWaitMs);
    return { code, reason, payload: f.payload, tcpClosed };
}
