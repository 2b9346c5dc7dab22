// An independent ringpad.v1 client, written from docs/PROTOCOL.md: the OT
// algebra on code points (apply, transform with the left-insert tie-break,
// compose) and the client state machine of §9/§10 (Synchronized /
// AwaitingConfirm / AwaitingWithBuffer, reconnect with v, resend of the
// outstanding op with the same id). Nothing here shares code with the server.
import WebSocket from 'ws';

export const cps = (s) => [...s];
export const cpLen = (s) => [...s].length;

// ---- ops: positive int = retain, negative int = delete, string = insert ----

function push(op, c) {
    if (typeof c === 'string') {
        if (c === '') return;
        // insert before a trailing delete (canonical form)
        const last = op[op.length - 1];
        if (typeof last === 'string') { op[op.length - 1] = last + c; return; }
        if (typeof last === 'number' && last < 0) {
            const prev = op[op.length - 2];
            if (typeof prev === 'string') op[op.length - 2] = prev + c;
            else op.splice(op.length - 1, 0, c);
            return;
        }
        op.push(c);
        return;
    }
    if (c === 0) return;
    const last = op[op.length - 1];
    if (typeof last === 'number' && (last > 0) === (c > 0)) op[op.length - 1] = last + c;
    else op.push(c);
}

export function baseLen(op) {
    let n = 0;
    for (const c of op) n += typeof c === 'string' ? 0 : Math.abs(c);
    return n;
}

export function apply(text, op) {
    const t = cps(text);
    if (baseLen(op) !== t.length) throw new Error(`apply: base length ${baseLen(op)} != ${t.length}`);
    let i = 0;
    const out = [];
    for (const c of op) {
        if (typeof c === 'string') out.push(c);
        else if (c > 0) { out.push(t.slice(i, i + c).join('')); i += c; }
        else i -= c;
    }
    return out.join('');
}

// Splits components so both walks advance together.
class Walker {
    constructor(op) { this.op = op; this.i = 0; this.off = 0; }
    peek() { return this.i < this.op.length ? this.op[this.i] : undefined; }
    // remaining part of the current component
    cur() {
        const c = this.op[this.i];
        if (c === undefined) return undefined;
        if (typeof c === 'string') return cps(c).slice(this.off).join('');
        return c > 0 ? c - this.off : c + this.off;
    }
    take(n) { // takes n from a retain/delete or n code points of an insert
        const c = this.op[this.i];
        if (typeof c === 'string') {
            const a = cps(c);
            const part = a.slice(this.off, this.off + n).join('');
            this.off += n;
            if (this.off >= a.length) { this.i++; this.off = 0; }
            return part;
        }
        const len = Math.abs(c) - this.off;
        const t = Math.min(n, len);
        this.off += t;
        if (this.off >= Math.abs(c)) { this.i++; this.off = 0; }
        return c > 0 ? t : -t;
    }
    takeAll() { const c = this.cur(); this.i++; this.off = 0; return c; }
}

const clen = (c) => (typeof c === 'string' ? cpLen(c) : Math.abs(c));

/** transform(a, b) -> [a', b']; a's insert goes first on a tie. */
export function transform(a, b) {
    if (baseLen(a) !== baseLen(b)) throw new Error('transform: base lengths differ');
    const ap = [], bp = [];
    const wa = new Walker(a), wb = new Walker(b);
    for (;;) {
        const ca = wa.cur(), cb = wb.cur();
        if (ca === undefined && cb === undefined) break;
        if (typeof ca === 'string') { wa.takeAll(); push(ap, ca); push(bp, cpLen(ca)); continue; }
        if (typeof cb === 'string') { wb.takeAll(); push(ap, cpLen(cb)); push(bp, cb); continue; }
        if (ca === undefined || cb === undefined) throw new Error('transform: ops too short');
        const n = Math.min(Math.abs(ca), Math.abs(cb));
        wa.take(n); wb.take(n);
        if (ca > 0 && cb > 0) { push(ap, n); push(bp, n); }
        else if (ca < 0 && cb < 0) { /* both deleted */ }
        else if (ca < 0) push(ap, -n);
        else push(bp, -n);
    }
    return [ap, bp];
}

export function compose(a, b) {
    const out = [];
    const wa = new Walker(a), wb = new Walker(b);
    for (;;) {
        const ca = wa.cur(), cb = wb.cur();
        if (ca === undefined && cb === undefined) break;
        if (typeof ca === 'number' && ca < 0) { wa.takeAll(); push(out, ca); continue; }
        if (typeof cb === 'string') { wb.takeAll(); push(out, cb); continue; }
        if (ca === undefined || cb === undefined) throw new Error('compose: length mismatch');
        const n = Math.min(clen(ca), Math.abs(cb));
        const pa = wa.take(n), pb = wb.take(n);
        if (pb > 0) push(out, pa);               // retain in b keeps a's part
        else if (typeof pa === 'string') { /* inserted then deleted */ }
        else push(out, pb);                      // a retained, b deletes
    }
    return out;
}

/** A random edit on `text` with emoji and CJK. */
export function randomEdit(text, rnd = Math.random) {
    const n = cpLen(text);
    const alphabet = ['a', 'b', 'z', ' ', '😀', '🎉', '中', '文', 'é', '\n', '👍🏽'];
    const pos = Math.floor(rnd() * (n + 1));
    const op = [];
    push(op, pos);
    if (n - pos > 0 && rnd() < 0.4) {
        const del = 1 + Math.floor(rnd() * Math.min(3, n - pos));
        push(op, -del);
        push(op, n - pos - del);
    } else {
        let s = '';
        const k = 1 + Math.floor(rnd() * 3);
        for (let i = 0; i < k; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
        push(op, s);
        push(op, n - pos);
    }
    return op;
}

// ---- connection ----

/** A raw ringpad.v1 connection: send objects, await messages by predicate. */
export class RpConn {
    static async open(port, { path = '/ws', headers } = {}) {
        const c = RpConn.over(new WebSocket(`ws://127.0.0.1:${port}${path}`, 'ringpad.v1', { headers, perMessageDeflate: false }));
        await c.opened;
        return c;
    }

    /** A connection over a WebSocket being opened (ws:// or wss://); await its `opened`. */
    static over(ws) {
        const c = new RpConn();
        c.ws = ws;
        c.msgs = [];
        c.waiters = [];
        c.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
        ws.on('message', (data) => {
            const m = JSON.parse(data.toString());
            c.msgs.push(m);
            c.onmessage?.(m);
            for (const w of [...c.waiters]) {
                if (w.pred(m)) { c.waiters.splice(c.waiters.indexOf(w), 1); w.resolve(m); }
            }
        });
        ws.on('error', () => {});
        c.opened = new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
        return c;
    }
    send(obj) { this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)); }
    /** Resolves with the first message (already received or future) matching pred. */
    next(pred, ms = 5000, what = 'message') {
        const i = this.seen ?? 0;
        for (let k = i; k < this.msgs.length; k++) {
            if (pred(this.msgs[k])) { this.seen = k + 1; return Promise.resolve(this.msgs[k]); }
        }
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`${what}: none within ${ms} ms; got ${JSON.stringify(this.msgs.slice(-5))}`)), ms);
            this.waiters.push({ pred, resolve: (m) => { clearTimeout(timer); this.seen = this.msgs.indexOf(m) + 1; resolve(m); } });
        });
    }
    type(t, ms, extra = () => true) { return this.next((m) => m.type === t && extra(m), ms, `type ${t}`); }
    error(code, ms) { return this.next((m) => m.type === 'error' && m.code === code, ms, `error ${code}`); }
    close() { try { this.ws.close(); } catch { /* gone */ } }
    terminate() { try { this.ws.terminate(); } catch { /* gone */ } }
}

/** One document edited through the client state machine (PROTOCOL.md §9, §10). */
export class Editor {
    constructor(port, doc, { name = 'ed', token, clientId = Math.random().toString(36).slice(2, 8) } = {}) {
        Object.assign(this, { port, doc, name, token, clientId });
        this.seq = 0;
        this.text = '';
        this.v = null;            // server_v
        this.outstanding = null;  // {id, op, v}
        this.buffer = null;
        this.acked = [];          // ids acked (with versions)
        this.conn = null;
        this.errors = [];
    }
    async connect() {
        this.ready = false;
        this.conn = await RpConn.open(this.port);
        this.conn.onmessage = (m) => this.onMessage(m);
        this.conn.send({ type: 'hello', name: this.name, ...(this.token ? { token: this.token } : {}) });
        this.synced = new Promise((r) => { this.resolveSynced = r; });
        if (this.v === null) this.conn.send({ type: 'open', doc: this.doc });
        else this.conn.send({ type: 'open', doc: this.doc, v: this.v });
        await this.synced;
    }
    disconnect() { this.ready = false; this.conn?.terminate(); this.conn = null; }
    newId() { return `${this.clientId}:${++this.seq}`; }
    sendOutstanding() {
        const o = this.outstanding;
        this.conn?.send({ type: 'op', doc: this.doc, v: this.v, id: o.id, op: o.op });
    }
    edit(op) {
        this.text = apply(this.text, op);
        if (this.outstanding === null) {
            this.outstanding = { id: this.newId(), op };
            if (this.conn && this.ready) this.sendOutstanding();
        } else if (this.buffer === null) this.buffer = op;
        else this.buffer = compose(this.buffer, op);
    }
    onMessage(m) {
        if (m.doc !== undefined && m.doc !== this.doc) return;
        switch (m.type) {
        case 'snapshot':
            this.text = m.text; this.v = m.v; this.outstanding = null; this.buffer = null;
            this.ready = true; this.resolveSynced();
            break;
        case 'synced':
            if (m.v !== this.v) throw new Error(`synced at ${m.v} but client at ${this.v}`);
            this.ready = true;
            if (this.outstanding) this.sendOutstanding();
            this.resolveSynced();
            break;
        case 'op':
            if (m.v !== this.v) throw new Error(`${this.name}: op v${m.v} but client at v${this.v} (gap or reorder)`);
            if (this.outstanding && m.id === this.outstanding.id) { this.onAck({ id: m.id, v: m.v }); break; }
            if (this.outstanding) {
                const [o1, s1] = transform(this.outstanding.op, m.op);
                this.outstanding.op = o1;
                let s = s1;
                if (this.buffer) { const [b1, s2] = transform(this.buffer, s1); this.buffer = b1; s = s2; }
                this.text = apply(this.text, s);
            } else this.text = apply(this.text, m.op);
            this.v = m.v + 1;
            break;
        case 'ack': this.onAck(m); break;
        case 'error':
            this.errors.push(m);
            if (this.outstanding && m.ref === this.outstanding.id && m.code === 'storage_unavailable') {
                setTimeout(() => { if (this.outstanding && this.ready) this.sendOutstanding(); }, 50);
            }
            break;
        default: break;
        }
    }
    onAck(m) {
        if (!this.outstanding || m.id !== this.outstanding.id) return;
        if (m.v !== this.v) throw new Error(`${this.name}: ack v${m.v} but client at v${this.v}: an op before the ack is missing`);
        this.acked.push({ id: m.id, v: m.v });
        this.v = m.v + 1;
        this.outstanding = null;
        if (this.buffer) {
            this.outstanding = { id: this.newId(), op: this.buffer };
            this.buffer = null;
            this.sendOutstanding();
        }
    }
    get idle() { return this.outstanding === null && this.buffer === null; }
}

/* Until `ms` have passed, each editor with nothing in flight appends "<name>-<i><tail> " at the
 * end of its text, every `pauseMs`: steady concurrent typing whose every op is distinct. */
export async function typeAtEnds(eds, ms, { tail = '', pauseMs = 2 } = {}) {
    const end = Date.now() + ms;
    for (let i = 0; Date.now() < end; i++) {
        for (const e of eds) {
            if (e.buffer === null && e.ready) {
                const n = cpLen(e.text);
                const word = `${e.name}-${i}${tail} `;
                e.edit(n > 0 ? [n, word] : [word]);
            }
        }
        await new Promise((r) => setTimeout(r, pauseMs));
    }
}

/* Uncaught errors (an Editor's failed assertion in a socket callback) collected for the test's
 * own assertion instead of ending the runner; the listener goes with the test. */
export function collectThrown(t) {
    const thrown = [];
    const onThrow = (err) => thrown.push(err);
    process.on('uncaughtException', onThrow);
    t.after(() => process.off('uncaughtException', onThrow));
    return thrown;
}
