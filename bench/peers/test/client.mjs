// A small ringpad.v1 test client: a WebSocket with a queue of received
// messages, and the client-side OT of docs/PROTOCOL.md §8/§9 (written from the
// spec, independent of both the peers and the C engine).

import WebSocket from 'ws';
import { applyOp } from '../common/proto.mjs';

const WAIT_MS = 5000;

export class Client {
  static connect(port) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, 'ringpad.v1');
      ws.once('open', () => resolve(new Client(ws)));
      ws.once('error', reject);
    });
  }

  constructor(ws) {
    this.ws = ws;
    this.queue = [];
    this.waiters = [];
    ws.on('message', (data) => {
      this.queue.push(JSON.parse(data.toString('utf8')));
      this.wake();
    });
    ws.on('close', () => this.wake());
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(m) {
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  }

  /** Next received message (bounded wait). */
  async next() {
    const deadline = Date.now() + WAIT_MS;
    while (this.queue.length === 0) {
      if (this.ws.readyState !== WebSocket.OPEN) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a message');
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.queue.shift();
  }

  close() {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', resolve);
      this.ws.close();
    });
  }
}

// ---- client-side OT (§8), code points ---------------------------------------

function cpLen(s) {
  return [...s].length;
}

function makeAppender(out) {
  return (c) => {
    if (c === 0 || c === '') return;
    const last = out[out.length - 1];
    if (out.length && typeof c === 'string' && typeof last === 'string') out[out.length - 1] = last + c;
    else if (out.length && typeof c === 'number' && typeof last === 'number' && Math.sign(c) === Math.sign(last)) out[out.length - 1] = last + c;
    else out.push(c);
  };
}

/** transform(a, b) -> [a', b'] with a's inserts first on ties. */
export function transform(a, b) {
  const ap = [];
  const bp = [];
  const pa = makeAppender(ap);
  const pb = makeAppender(bp);
  let i = 0;
  let j = 0;
  let ca = a[0];
  let cb = b[0];
  const nextA = () => { i++; ca = a[i]; };
  const nextB = () => { j++; cb = b[j]; };
  for (;;) {
    if (ca === undefined && cb === undefined) break;
    if (typeof ca === 'string') {
      pa(ca);
      pb(cpLen(ca));
      nextA();
      continue;
    }
    if (typeof cb === 'string') {
      pa(cpLen(cb));
      pb(cb);
      nextB();
      continue;
    }
    if (ca === undefined || cb === undefined) throw new Error('ops of different base length');
    const n = Math.min(Math.abs(ca), Math.abs(cb));
    if (ca > 0 && cb > 0) {
      pa(n);
      pb(n);
    } else if (ca < 0 && cb > 0) {
      pa(-n);
    } else if (ca > 0 && cb < 0) {
      pb(-n);
    }
    // both deletes: nothing
    ca = Math.sign(ca) * (Math.abs(ca) - n) || undefined;
    cb = Math.sign(cb) * (Math.abs(cb) - n) || undefined;
    if (ca === undefined) nextA();
    if (cb === undefined) nextB();
  }
  return [ap, bp];
}

/** One document's client state machine (§9), with at most one op in flight. */
export class DocClient {
  constructor(client, doc, prefix) {
    this.c = client;
    this.doc = doc;
    this.prefix = prefix;
    this.seq = 0;
    this.text = '';
    this.serverV = 0;
    this.outstanding = null; // {id, op}
    this.buffer = null;
    this.acks = 0;
    this.remote = 0;
  }

  async open() {
    this.c.send({ type: 'open', doc: this.doc });
    const m = await this.c.next();
    if (m.type !== 'snapshot') throw new Error(`expected snapshot, got ${JSON.stringify(m)}`);
    this.text = m.text;
    this.serverV = m.v;
    return m;
  }

  /** A local edit, already expressed as an op on the local text. */
  edit(op) {
    this.text = applyOp(this.text, op);
    if (!this.outstanding) this.sendOp(op);
    else if (!this.buffer) this.buffer = op;
    else throw new Error('test client composes at most one buffered op');
  }

  sendOp(op) {
    const id = `${this.prefix}:${++this.seq}`;
    this.outstanding = { id, op };
    this.c.send({ type: 'op', doc: this.doc, v: this.serverV, id, op });
  }

  /** Handles one server message; returns it. */
  handle(m) {
    if (m.doc !== this.doc) throw new Error(`unexpected message ${JSON.stringify(m)}`);
    if (m.type === 'ack') {
      if (!this.outstanding || m.id !== this.outstanding.id) return m;
      if (m.v !== this.serverV) throw new Error(`ack v=${m.v} but server_v=${this.serverV}`);
      this.acks++;
      this.serverV = m.v + 1;
      this.outstanding = null;
      if (this.buffer) {
        const b = this.buffer;
        this.buffer = null;
        this.sendOp(b);
      }
    } else if (m.type === 'op') {
      if (m.v !== this.serverV) throw new Error(`op v=${m.v} but server_v=${this.serverV}`);
      let s = m.op;
      if (this.outstanding) {
        const [o2, s2] = transform(this.outstanding.op, s);
        this.outstanding.op = o2;
        s = s2;
        if (this.buffer) {
          const [b2, s3] = transform(this.buffer, s);
          this.buffer = b2;
          s = s3;
        }
      }
      this.text = applyOp(this.text, s);
      this.serverV = m.v + 1;
      this.remote++;
    } else if (m.type === 'error') {
      throw new Error(`server error ${JSON.stringify(m)}`);
    }
    return m;
  }

  async pump(until) {
    while (!until()) this.handle(await this.c.next());
  }

  idle() {
    return !this.outstanding && !this.buffer;
  }
}
