// An in-process stand-in for the server side of docs/PROTOCOL.md §7-§10, for one
// document: versions, transform against history, duplicates, catch-up, history limit.
import { apply, transform } from '../src/op.js';

export class FakeServer {
  constructor({ text = '', historyDepth = 1000 } = {}) {
    this.text = text;
    this.v = 0;
    this.history = []; // [{v, op, id, by}] the last historyDepth ops
    this.historyDepth = historyDepth;
    this.conns = new Set();
    this.nextSession = 1;
  }
  oldest() { return this.history.length ? this.history[0].v : this.v; }

  /** `out` receives server messages (an array, or anything with push()). */
  connect(by, out = []) {
    const conn = { session: `s${this.nextSession++}`, by, out, open: false, alive: true };
    this.conns.add(conn);
    return conn;
  }
  drop(conn) { conn.alive = false; conn.open = false; this.conns.delete(conn); }

  #send(conn, msg) { if (conn.alive) conn.out.push(JSON.parse(JSON.stringify(msg))); }

  receive(conn, msg) {
    if (!conn.alive) return;
    const doc = msg.doc;
    if (msg.type === 'open') {
      conn.open = true;
      if (msg.v === undefined) {
        this.#send(conn, { type: 'snapshot', doc, v: this.v, text: this.text, peers: [] });
      } else if (msg.v < this.oldest()) {
        this.#send(conn, { type: 'error', code: 'version_too_old', message: 'too old', ref: doc });
      } else if (msg.v > this.v) {
        this.#send(conn, { type: 'error', code: 'version_ahead', message: 'ahead', ref: doc });
      } else {
        for (const h of this.history) if (h.v >= msg.v) this.#send(conn, { type: 'op', doc, v: h.v, id: h.id, op: h.op, by: h.by });
        this.#send(conn, { type: 'synced', doc, v: this.v });
      }
      return;
    }
    if (msg.type === 'op') {
      if (this.refuse) { const code = this.refuse(msg); if (code) { this.#send(conn, { type: 'error', code, message: code, ref: msg.id }); return; } }
      const dup = this.history.find((h) => h.id === msg.id);
      if (dup) { this.#send(conn, { type: 'ack', doc, id: msg.id, v: dup.v }); return; }
      if (msg.v < this.oldest()) { this.#send(conn, { type: 'error', code: 'version_too_old', message: 'too old', ref: msg.id }); return; }
      if (msg.v > this.v) { this.#send(conn, { type: 'error', code: 'version_ahead', message: 'ahead', ref: msg.id }); return; }
      let op = msg.op;
      for (const h of this.history) if (h.v >= msg.v) op = transform(op, h.op)[0];
      this.text = apply(this.text, op);
      const entry = { v: this.v, op, id: msg.id, by: conn.by };
      this.history.push(entry);
      if (this.history.length > this.historyDepth) this.history.shift();
      this.v++;
      this.#send(conn, { type: 'ack', doc, id: msg.id, v: entry.v });
      for (const c of this.conns) if (c !== conn && c.open) this.#send(c, { type: 'op', doc, v: entry.v, id: entry.id, op, by: entry.by });
    }
  }
}
