// The client state machine of docs/PROTOCOL.md §9-§10 for one open document:
// Synchronized / AwaitingConfirm(outstanding) / AwaitingWithBuffer(outstanding, buffer),
// reconnection with catch-up and resend under the same id, and recovery by a
// fresh snapshot when the history no longer reaches us or an op was refused.
//
// It knows nothing of sockets or editors: the host gives it `send(msg)` and
// callbacks, and feeds it the server messages of its document. That keeps it
// testable against an in-process fake server (test/client.test.mjs).

import { apply, compose, transform, transformPosition, targetLength, isNoop, OpBuilder, cpLength, splitOp } from './op.js';

const HISTORY_RING_OPS = 128; // server ops kept to transform late presence
const STORAGE_RETRY_MS = 2000;
const DEFAULT_MAX_OP_BYTES = 1 << 20; // PROTOCOL.md §13; welcome.limits overrides

/** An op that turns `a` into `b` (one replacement between common prefix and suffix). */
export function diffOp(a, b) {
  let p = 0;
  const max = Math.min(a.length, b.length);
  while (p < max && a.charCodeAt(p) === b.charCodeAt(p)) p++;
  // Never split a surrogate pair.
  if (p > 0 && (a.charCodeAt(p - 1) & 0xfc00) === 0xd800) p--;
  let s = 0;
  while (s < max - p && a.charCodeAt(a.length - 1 - s) === b.charCodeAt(b.length - 1 - s)) s++;
  if (s > 0 && (a.charCodeAt(a.length - s) & 0xfc00) === 0xdc00) s--;
  const prefix = a.slice(0, p);
  return new OpBuilder()
    .retain(cpLength(prefix))
    .insert(b.slice(p, b.length - s))
    .delete(cpLength(a.slice(p, a.length - s)))
    .retain(cpLength(a.slice(a.length - s)))
    .done();
}

export class DocClient {
  /**
   * @param {object} o
   * @param {string} o.doc document name
   * @param {string} o.clientId random per editor instance; op ids are `${clientId}:${seq}`
   * @param {(msg: object) => void} o.send sends one message (dropped by the host while offline)
   * @param {object} o.host callbacks:
   *   snapshot(text, v, peers)      the first text of the document
   *   remoteOp(op, meta)            apply a transformed op to the local text
   *   localText() -> string         the editor's whole text (recovery only)
   *   changed()                     state/version changed (status bar)
   *   notice(kind, message, extra)  tell the user (kinds: 'lost', 'refused', 'readonly', 'fatal', 'retry', 'deleted')
   *   acked(id, v)                  optional: our op `id` was applied at version v
   * @param {(fn: () => void, ms: number) => any} [o.schedule] setTimeout stand-in (tests)
   */
  constructor({ doc, clientId, send, host, schedule }) {
    this.doc = doc;
    this.clientId = clientId;
    this.sendRaw = send;
    this.host = host;
    this.schedule = schedule || ((fn, ms) => setTimeout(fn, ms));
    this.seq = 0;
    this.v = null; // server_v; null until the first snapshot
    this.outstanding = null; // {id, op, sent}
    this.buffer = null; // op
    this.live = false; // connected and past the catch-up: ops may be sent
    this.recovering = null; // null | 'reopen' (a fresh snapshot is on its way)
    // The text at server_v, kept cheaply while ops are pending so that a fresh
    // snapshot can be merged with them: a thunk for the text when the pending
    // ops began, plus every op applied on the server since, composed.
    this.base = null; // {text: () => string, op: op | null}
    this.history = []; // [{v, op}] the last server ops, for presence
    this.readOnly = false;
    this.deleted = false; // the server deleted the document under us: nothing more is sent
    this.resyncing = false; // a gap was seen: an open {v: server_v} is on its way
    this.maxOpBytes = DEFAULT_MAX_OP_BYTES;
  }

  /**
   * What a page must keep to send its pending edits after a reload: the text at
   * server_v, server_v, the outstanding op with its id (a resend under the same
   * id is applied once, §7) and the buffer. null when nothing is pending.
   */
  pendingState() {
    const o = this.outstanding;
    if (!o || !this.base || this.v === null || this.deleted) return null;
    const baseText = this.base.op ? apply(this.base.text(), this.base.op) : this.base.text();
    return { v: this.v, baseText, outstanding: { id: o.id, op: o.op, sent: o.sent }, buffer: this.buffer };
  }

  /**
   * Takes over a pendingState() kept by an earlier page: the host shows
   * apply(apply(baseText, outstanding), buffer) and connects; connected() then
   * asks for the catch-up from v and the outstanding op is resent with its id.
   * New ops get ids of this client's own id.
   */
  restore({ v, baseText, outstanding, buffer }) {
    this.v = v;
    this.base = { text: () => baseText, op: null };
    this.outstanding = { id: outstanding.id, op: outstanding.op, sent: outstanding.sent === true };
    this.buffer = buffer || null;
    this.live = false;
    return buffer ? apply(apply(baseText, outstanding.op), buffer) : apply(baseText, outstanding.op);
  }

  /** Server limits from welcome (max_op_bytes bounds the JSON text of one op). */
  setLimits(limits) {
    if (limits && Number.isSafeInteger(limits.max_op_bytes) && limits.max_op_bytes > 0) this.maxOpBytes = limits.max_op_bytes;
  }

  // A new outstanding op; one too large for the server goes in pieces, the
  // rest staying in front of the buffer. Half the budget leaves room for JSON
  // escapes ("\n" doubles).
  #makeOutstanding(op) {
    const [first, rest] = splitOp(op, Math.max(4, Math.floor(this.maxOpBytes / 2)));
    this.outstanding = { id: this.#newId(), op: first, sent: false };
    if (rest) this.buffer = this.buffer ? compose(rest, this.buffer) : rest;
    this.#sendOutstanding();
  }

  get state() {
    return !this.outstanding ? 'synchronized' : this.buffer ? 'awaiting-with-buffer' : 'awaiting-confirm';
  }
  get pending() { return this.outstanding !== null; }

  #newId() { return `${this.clientId}:${++this.seq}`; }

  #sendOutstanding() {
    const o = this.outstanding;
    if (!o || !this.live) return;
    o.sent = true;
    this.sendRaw({ type: 'op', doc: this.doc, v: this.v, id: o.id, op: o.op });
  }

  #remember(v, op) {
    this.history.push({ v, op });
    if (this.history.length > HISTORY_RING_OPS) this.history.shift();
    if (this.base) this.base.op = this.base.op ? compose(this.base.op, op) : op;
  }

  /** The connection is up (after welcome): the message that (re)subscribes, or null (deleted). */
  connected() {
    this.live = false;
    this.resyncing = false;
    if (this.deleted) return null; // re-opening would start a new, empty document
    if (this.v === null || this.recovering) return { type: 'open', doc: this.doc };
    return { type: 'open', doc: this.doc, v: this.v };
  }

  /** The connection dropped: whatever was sent may or may not have arrived. */
  disconnected() {
    this.live = false;
  }

  /**
   * A local edit, already applied to the editor's text.
   * @param {Array} op the edit in code points, on the text before it
   * @param {() => string} baseText the text before the edit (called only for recovery)
   */
  localOp(op, baseText) {
    if (isNoop(op)) return;
    if (this.readOnly) throw new Error('read-only document');
    if (this.deleted) return; // the page is read-only now; nothing can be saved
    if (!this.outstanding) {
      this.base = { text: baseText, op: null };
      this.#makeOutstanding(op);
    } else {
      this.buffer = this.buffer ? compose(this.buffer, op) : op;
    }
    this.host.changed();
  }

  #ack(v) {
    if (this.host.acked) this.host.acked(this.outstanding.id, v);
    this.v = v + 1;
    this.#remember(v, this.outstanding.op);
    if (this.buffer) {
      const b = this.buffer;
      this.buffer = null;
      this.#makeOutstanding(b);
    } else {
      this.outstanding = null;
      this.base = null;
    }
    this.host.changed();
  }

  /** Feeds one server message about this document. */
  receive(msg) {
    switch (msg.type) {
      case 'snapshot': return this.#snapshot(msg);
      case 'synced':
        this.resyncing = false;
        this.v = msg.v;
        this.live = true;
        // §10.4: an op still outstanding was not in the catch-up: resend, same id.
        if (this.outstanding) this.#sendOutstanding();
        this.host.changed();
        return;
      case 'op': return this.#serverOp(msg);
      case 'ack':
        if (this.outstanding && msg.id === this.outstanding.id) this.#ack(msg.v);
        return; // an ack of a resend we no longer need
      case 'error': return this.#error(msg);
      default:
    }
  }

  #serverOp(msg) {
    if (this.v === null) return;
    if (msg.v < this.v) return; // already applied: a catch-up overlapping live ops
    if (msg.v > this.v) { // a gap: the stream is broken; catch up again from server_v, once
      if (!this.resyncing) {
        const reopen = this.connected();
        this.resyncing = true;
        this.sendRaw(reopen);
      }
      return;
    }
    if (this.outstanding && msg.id === this.outstanding.id) { this.#ack(msg.v); return; }
    let s = msg.op;
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
    this.#remember(msg.v, msg.op);
    this.v = msg.v + 1;
    this.host.remoteOp(s, { by: msg.by, id: msg.id, v: msg.v });
    this.host.changed();
  }

  #error(msg) {
    const o = this.outstanding;
    if (o && msg.ref === o.id) {
      if (msg.code === 'storage_unavailable') {
        this.host.notice('retry', `The server could not store your edit (${msg.message}); retrying.`);
        this.schedule(() => { if (this.outstanding === o) this.#sendOutstanding(); }, STORAGE_RETRY_MS);
        return;
      }
      // Refused: it was not applied and never will be. Re-open and merge what can be.
      if (msg.code === 'forbidden') this.readOnly = true;
      this.#reopen({ dropOutstanding: true, code: msg.code, message: msg.message });
      return;
    }
    if (msg.code === 'not_open' && msg.ref === this.doc && this.v !== null) {
      // PROTOCOL.md §15: DELETE closes the document for its subscribers.
      this.live = false;
      this.deleted = true;
      const unsaved = this.outstanding !== null;
      this.outstanding = null;
      this.buffer = null;
      this.base = null;
      this.host.notice('deleted', unsaved
        ? 'This document was deleted on the server, and your last changes were not saved.'
        : 'This document was deleted on the server.', { yourText: this.host.localText() });
      this.host.changed();
      return;
    }
    if ((msg.code === 'version_too_old' || msg.code === 'version_ahead') && (msg.ref === this.doc || msg.ref === undefined)) {
      // The history no longer reaches server_v (or the server is behind it: the
      // document was deleted or restored from a backup since, e.g. while edits
      // waited in a closed tab): a fresh snapshot.
      this.#reopen({ dropOutstanding: false, code: msg.code, message: msg.message });
      return;
    }
    if (msg.ref === this.doc || msg.ref === undefined) this.host.notice('fatal', `${msg.code}: ${msg.message}`, msg);
  }

  #reopen(why) {
    this.live = false;
    this.recovering = why;
    this.sendRaw({ type: 'open', doc: this.doc });
  }

  #snapshot(msg) {
    this.resyncing = false;
    const why = this.recovering;
    this.recovering = null;
    if (this.v === null && !why) {
      this.v = msg.v;
      this.live = true;
      this.host.snapshot(msg.text, msg.v, msg.peers || []);
      if (this.outstanding) this.#sendOutstanding();
      this.host.changed();
      return;
    }
    this.#mergeSnapshot(msg, why || { dropOutstanding: false });
  }

  // A fresh snapshot replaces a history we can no longer follow. The local
  // text is rebased onto it: server changes since server_v are found by a diff
  // of the text at server_v and the snapshot, and the pending edits are
  // transformed through them. An op that was sent and not acked may or may
  // not be in the snapshot: it is dropped and the user is told.
  #mergeSnapshot(msg, why) {
    const local = this.host.localText();
    const o = this.outstanding, b = this.buffer;
    let keep = null; // pending edits to rebase
    let keepBase = null; // the text they apply to
    let lost = null; // what the user is told about
    if (o && this.base) {
      const atServerV = this.base.op ? apply(this.base.text(), this.base.op) : this.base.text();
      if (why.dropOutstanding || o.sent) {
        keepBase = apply(atServerV, o.op);
        keep = b;
        lost = why.dropOutstanding ? `your edit was refused (${why.code}: ${why.message})`
          : 'your last edit before the connection dropped could not be confirmed';
      } else { // never left this page: nothing on the server has it
        keepBase = atServerV;
        keep = b ? compose(o.op, b) : o.op;
      }
    } else if (o) {
      lost = 'your unsent edits could not be merged';
    }
    if (why.code === 'version_ahead' && !lost) lost = 'the server no longer has the version this page was at (the document was deleted or restored meanwhile); your edits were applied to its current text';
    if (this.readOnly) keep = null;
    this.outstanding = null;
    this.buffer = null;
    this.base = null;
    this.history = [];
    this.v = msg.v;
    this.live = true;
    let toLocal; // the op taking the editor's text to the new text
    let resend = null;
    if (keep) {
      const serverChange = diffOp(keepBase, msg.text);
      const [keep2, server2] = transform(keep, serverChange);
      toLocal = compose(diffOp(local, apply(keepBase, keep)), server2);
      resend = isNoop(keep2) ? null : keep2;
    } else {
      toLocal = diffOp(local, msg.text);
    }
    if (!isNoop(toLocal)) this.host.remoteOp(toLocal, { by: null, id: null, v: msg.v, resync: true });
    if (lost || this.readOnly) {
      this.host.notice(this.readOnly ? 'readonly' : 'lost',
        this.readOnly ? 'This document is read-only for you: your edits were not saved.' : `Re-synchronized with the server: ${lost}.`,
        { yourText: local });
    }
    if (resend) {
      this.base = { text: () => msg.text, op: null };
      this.#makeOutstanding(resend);
    }
    this.host.changed();
  }

  /**
   * Positions of a collaborator's selection (code points at version v) mapped to
   * the local text: through later server ops, then our pending ops. null when v
   * is outside what we can follow (the next presence will do).
   */
  mapRemoteSel(sel, v) {
    if (this.v === null || v > this.v) return null;
    let ops = [];
    if (v < this.v) {
      const first = this.history.findIndex((h) => h.v === v);
      if (first < 0 || this.history.length - first !== this.v - v) return null;
      ops = this.history.slice(first).map((h) => h.op);
    }
    if (this.outstanding) ops.push(this.outstanding.op);
    if (this.buffer) ops.push(this.buffer);
    return sel.map(([anchor, head]) => {
      for (const op of ops) {
        anchor = transformPosition(anchor, op, 'before');
        head = transformPosition(head, op, 'before');
      }
      return [anchor, head];
    });
  }

  /** True when presence may be sent now (§11: only while Synchronized). */
  canSendPresence() { return this.live && !this.outstanding; }

  /** Length (code points) the document has locally, for sanity checks. */
  static lengthAfter(op) { return targetLength(op); }
}
