// The SDK's front door: one reconnecting WebSocket (connection.js) that opens
// many documents, each driven by the client state machine of client.js, with
// a text kept in memory, presence, and events. The bundled editor uses the
// same modules with CodeMirror as its text; this file is for scripts, bots
// and other editors that want a document object to read and edit.

import { Connection } from './connection.js';
import { DocClient, diffOp } from './client.js';
import { validDocName } from './names.js';
import { apply, cpLength, normalize, transformPosition, OpBuilder, OtError } from './op.js';

const DEFAULT_PRESENCE_PER_SECOND = 20; // PROTOCOL.md §13; welcome.limits overrides

/** A tiny event emitter (EventTarget carries DOM baggage in Node and browsers alike). */
class Emitter {
  #listeners = new Map();
  /** @returns {() => void} a function that removes the listener */
  on(event, fn) {
    if (!this.#listeners.has(event)) this.#listeners.set(event, new Set());
    this.#listeners.get(event).add(fn);
    return () => this.off(event, fn);
  }
  off(event, fn) { this.#listeners.get(event)?.delete(fn); }
  once(event, fn) {
    const off = this.on(event, (...a) => { off(); fn(...a); });
    return off;
  }
  emit(event, arg) {
    for (const fn of [...(this.#listeners.get(event) || [])]) fn(arg);
  }
}

function randomId() {
  const c = globalThis.crypto;
  if (c && c.getRandomValues) {
    const b = c.getRandomValues(new Uint8Array(6));
    return [...b].map((x) => x.toString(36).padStart(2, '0')).join('').slice(0, 10);
  }
  return Math.random().toString(36).slice(2, 12);
}

/** The error a failed open() rejects with: `code` is the protocol error code (§5). */
export class RingpadError extends Error {
  constructor(code, message, ref) {
    super(`${code}: ${message}`);
    this.code = code;
    this.ref = ref;
  }
}

/**
 * One open document: its text at the newest version this client knows (its
 * own edits included), the collaborators' selections, and the state machine.
 * Events: 'change' (someone else's edit, or a resync), 'ack', 'presence',
 * 'leave', 'status', 'notice'.
 */
export class Doc extends Emitter {
  /** @param {Client} owner @param {string} name @param {string} clientId */
  constructor(owner, name, clientId) {
    super();
    this.owner = owner;
    this.name = name;
    this.text = '';
    this.peers = new Map(); // session -> {session, name, color, sel}
    this.closed = false;
    this.ready = false;
    this.selection = null; // our selection, code points on this.text
    this.presenceDirty = false;
    this.presenceTimer = null;
    this.lastPresenceAt = -Infinity;
    this.waiters = []; // resolve() calls waiting for 'synchronized'
    this.opened = null; // {resolve, reject} until the first snapshot
    this.lastState = null;
    this.client = new DocClient({
      doc: name,
      clientId,
      send: (msg) => { if (msg) owner.send(msg); },
      host: {
        snapshot: (text, v, peers) => this.#snapshot(text, v, peers),
        remoteOp: (op, meta) => this.#remote(op, meta),
        localText: () => this.text,
        changed: () => this.#changed(),
        notice: (kind, message, extra) => this.emit('notice', { kind, message, ...extra }),
        acked: (id, v) => this.emit('ack', { id, v }),
      },
    });
  }

  /** The version this client's text is based on (server_v of §9); null before the first snapshot. */
  get v() { return this.client.v; }
  /** 'synchronized' | 'awaiting-confirm' | 'awaiting-with-buffer' */
  get state() { return this.client.state; }
  /** Length of the text in code points (the protocol's unit). */
  get length() { return cpLength(this.text); }

  /**
   * Applies a local edit: `op` in the wire format of PROTOCOL.md §6, on the
   * current text (retains + deletes = this.length). It is sent at once or
   * composed into the buffer while an op is awaiting its ack.
   */
  edit(op) {
    if (this.closed) throw new Error(`document "${this.name}" is closed`);
    if (!this.ready) throw new Error(`document "${this.name}" has no text yet: await client.open() first`);
    if (this.client.readOnly) throw new RingpadError('forbidden', `document "${this.name}" is read-only for this token`, this.name);
    const canonical = normalize(op);
    const before = this.text;
    this.text = apply(before, canonical); // throws OtError('base_length') when op does not span the text
    this.#moveSelections(canonical, 'after');
    this.client.localOp(canonical, () => before);
  }

  /** Inserts `text` at code point `pos`. */
  insert(pos, text) {
    this.#checkRange(pos, 0);
    this.edit(new OpBuilder().retain(pos).insert(text).retain(this.length - pos).done());
  }

  /** Deletes `count` code points at `pos`. */
  delete(pos, count) {
    this.#checkRange(pos, count);
    this.edit(new OpBuilder().retain(pos).delete(count).retain(this.length - pos - count).done());
  }

  /** Makes the text `text` with the smallest single replacement (collaborators keep their cursors). */
  setText(text) { this.edit(diffOp(this.text, text)); }

  #checkRange(pos, count) {
    if (!Number.isSafeInteger(pos) || !Number.isSafeInteger(count) || pos < 0 || count < 0 || pos + count > this.length) {
      throw new RangeError(`range ${pos}+${count} is outside the text (0..${this.length} code points)`);
    }
  }

  /**
   * Your cursors for the others: [[anchor, head], ...] in code points of
   * this.text ([] hides them). Sent throttled to the server's presence rate,
   * only while no op is in flight (PROTOCOL.md §11).
   */
  setSelection(sel) {
    this.selection = sel.map(([a, h]) => [a, h]);
    this.presenceDirty = true;
    this.#flushPresence();
  }

  /** Resolves when every local edit is acknowledged (state 'synchronized' and connected). */
  whenSynced() {
    if (this.ready && this.client.live && !this.client.pending) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Unsubscribes. Unacknowledged edits are abandoned. */
  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.presenceTimer);
    this.owner._forget(this);
    this.owner.send({ type: 'close', doc: this.name });
  }

  /** A server message about this document (called by Client). */
  _receive(msg) {
    if (msg.type === 'error' && !this.ready && msg.ref === this.name) {
      // open refused before any text: forbidden, bad_doc_name, too_many_docs, ...
      const err = new RingpadError(msg.code, msg.message, msg.ref);
      this.closed = true;
      this.owner._forget(this);
      if (this.opened) { this.opened.reject(err); this.opened = null; }
      return;
    }
    if (msg.type === 'presence') return this.#presence(msg);
    if (msg.type === 'leave') {
      if (this.peers.delete(msg.session)) this.emit('leave', { session: msg.session });
      return;
    }
    this.client.receive(msg);
  }

  #snapshot(text, v, peers) {
    this.text = text;
    this.ready = true;
    this.peers.clear();
    for (const p of peers) this.peers.set(p.session, { session: p.session, name: p.name, color: p.color, sel: p.sel });
    if (this.opened) { this.opened.resolve(this); this.opened = null; }
  }

  #remote(op, meta) {
    this.text = apply(this.text, op);
    this.#moveSelections(op, 'before');
    this.emit('change', { op, by: meta.by, id: meta.id, v: meta.v, resync: !!meta.resync });
  }

  #moveSelections(op, ownSide) {
    if (this.selection) this.selection = this.selection.map(([a, h]) => [transformPosition(a, op, ownSide), transformPosition(h, op, ownSide)]);
    for (const p of this.peers.values()) {
      if (p.sel) p.sel = p.sel.map(([a, h]) => [transformPosition(a, op, 'before'), transformPosition(h, op, 'before')]);
    }
  }

  #presence(msg) {
    const sel = this.client.mapRemoteSel(msg.sel, msg.v);
    if (!sel) return; // outside what we can follow: the next presence will do
    const p = { session: msg.session, name: msg.name, color: msg.color, sel };
    this.peers.set(msg.session, p);
    this.emit('presence', p);
  }

  #changed() {
    const s = this.state;
    if (s !== this.lastState) {
      this.lastState = s;
      this.emit('status', { state: s, v: this.v });
    }
    if (this.client.live && !this.client.pending) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
    this.#flushPresence();
  }

  #flushPresence() {
    if (!this.presenceDirty || this.closed || !this.client.canSendPresence() || !this.owner.connected) return;
    const rate = this.owner.limits.presence_per_second || DEFAULT_PRESENCE_PER_SECOND;
    const gapMs = Math.ceil(1000 / rate);
    const wait = this.lastPresenceAt + gapMs - Date.now();
    if (wait > 0) {
      if (!this.presenceTimer) this.presenceTimer = setTimeout(() => { this.presenceTimer = null; this.#flushPresence(); }, wait);
      return;
    }
    this.presenceDirty = false;
    this.lastPresenceAt = Date.now();
    // While Synchronized our text is the text at server_v: positions go as they are.
    this.owner.send({ type: 'presence', doc: this.name, v: this.v, sel: this.selection || [] });
  }
}

/**
 * One connection to a ringpad server (`ws://host:port/ws`) for any number of
 * documents. It reconnects by itself (capped exponential backoff with
 * jitter), re-opens every document from its version and resends what was not
 * acknowledged under the same op id. Events: 'status' ({state, ...}: connecting,
 * connected, reconnecting, unauthorized, stopped), 'error' (server errors that
 * belong to no open document).
 */
export class Client extends Emitter {
  /**
   * @param {string} url the server's WebSocket endpoint, e.g. ws://127.0.0.1:8080/ws
   * @param {object} [o]
   * @param {string | (() => string | undefined)} [o.token] JWT when the server has auth on (a function is read at each connect)
   * @param {string} [o.name] display name for presence
   * @param {string} [o.color] '#rgb' or '#rrggbb'
   * @param {string} [o.clientId] prefix of op ids (random by default); unique per client instance
   * @param {any} [o.WebSocket] a WebSocket class (Node 20/21: `import WebSocket from 'ws'`)
   */
  constructor(url, { token, name, color, clientId, WebSocket } = {}) {
    super();
    const WS = WebSocket || globalThis.WebSocket;
    if (!WS) throw new Error('no WebSocket class: Node before 22 has none built in; pass { WebSocket } from the "ws" package');
    this.url = url;
    this.clientId = clientId || randomId();
    this.docs = new Map();
    this.opened = 0;
    this.limits = {};
    this.session = null;
    this.connected = false;
    this.stoppedByUser = false;
    const helloMsg = () => {
      const m = { type: 'hello' };
      const t = typeof token === 'function' ? token() : token;
      if (t) m.token = t;
      if (name) m.name = name;
      if (color) m.color = color;
      return m;
    };
    this.conn = new Connection({
      url,
      hello: helloMsg,
      onReady: (welcome) => this.#ready(welcome),
      onMessage: (msg) => this.#message(msg),
      onStatus: (s) => this.emit('status', s),
      onUnauthorized: (msg) => this.emit('error', new RingpadError(msg.code, msg.message)),
      env: { WebSocket: WS },
    });
    // Started after the constructor returns, so 'status' listeners see 'connecting'.
    queueMicrotask(() => { if (!this.stoppedByUser) this.conn.start(); });
  }

  /** Current connection status ({state: 'connecting' | 'connected' | 'reconnecting' | 'unauthorized' | 'stopped' | 'offline', ...}). */
  get status() { return this.conn.status; }

  /**
   * Opens (subscribes to, creating if absent) a document; resolves with its
   * Doc once the first snapshot arrived, rejects with a RingpadError when the
   * server refuses (forbidden, bad_doc_name, too_many_docs).
   * @returns {Promise<Doc>}
   */
  open(name) {
    if (!validDocName(name)) {
      return Promise.reject(new RingpadError('bad_doc_name',
        `"${name}" is not a document name: 1..200 bytes of A-Z a-z 0-9 . _ - /, without a leading or trailing /, //, or a . or .. segment`, name));
    }
    if (this.docs.has(name)) return Promise.resolve(this.docs.get(name));
    const doc = new Doc(this, name, `${this.clientId}.${++this.opened}`);
    this.docs.set(name, doc);
    const p = new Promise((resolve, reject) => { doc.opened = { resolve, reject }; });
    doc.client.setLimits(this.limits);
    if (this.connected) this.send(doc.client.connected());
    return p;
  }

  /**
   * Goes offline on purpose: closes the WebSocket and does not reconnect until
   * connect(). Documents stay open and keep local edits (sent on connect()).
   */
  disconnect() {
    this.stoppedByUser = true;
    for (const d of this.docs.values()) { clearTimeout(d.presenceTimer); d.presenceTimer = null; }
    this.conn.stop();
  }

  /** Comes back after disconnect(): reconnects now, re-opens every document and resends. */
  connect() {
    this.stoppedByUser = false;
    this.conn.resume();
  }

  /** Stops for good: closes the WebSocket and does not reconnect. */
  close() { this.disconnect(); }

  /**
   * Drops the WebSocket as if the network failed: it comes back by itself
   * with backoff (for tests of reconnection).
   */
  dropConnection() {
    const ws = this.conn.ws;
    if (!ws) return;
    // The "ws" package can cut the TCP connection like a network failure; a browser can only close.
    if (typeof ws.terminate === 'function') ws.terminate(); else ws.close(4000);
  }

  /** @internal */
  send(msg) { return this.conn.send(msg); }
  /** @internal */
  _forget(doc) { if (this.docs.get(doc.name) === doc) this.docs.delete(doc.name); }

  #ready(welcome) {
    this.connected = true;
    this.session = welcome.session;
    this.limits = welcome.limits || {};
    for (const d of this.docs.values()) {
      d.client.setLimits(this.limits);
      const m = d.client.connected();
      if (m) this.send(m);
    }
  }

  #message(msg) {
    if (msg.type === '_disconnected') {
      this.connected = false;
      for (const d of this.docs.values()) d.client.disconnected();
      return;
    }
    let doc = typeof msg.doc === 'string' ? this.docs.get(msg.doc) : undefined;
    if (!doc && msg.type === 'error' && typeof msg.ref === 'string') {
      doc = this.docs.get(msg.ref);
      if (!doc) {
        // An op id: `<clientId>.<n>:<seq>` names the document's state machine.
        for (const d of this.docs.values()) if (msg.ref.startsWith(`${d.client.clientId}:`)) doc = d;
      }
    }
    if (!doc && msg.type === 'error' && msg.ref === undefined && msg.code === 'bad_doc_name') {
      // A name the server refuses to decode comes back without ref (a lower
      // --max-doc-name-bytes than ours): it answers the oldest open still waiting.
      doc = [...this.docs.values()].find((d) => !d.ready);
      if (doc) msg = { ...msg, ref: doc.name };
    }
    if (doc) { doc._receive(msg); return; }
    if (msg.type === 'error') this.emit('error', new RingpadError(msg.code, msg.message, msg.ref));
  }
}

export { OtError };
