// The client state machine (src/client.js) against an in-process fake server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DocClient, diffOp } from '../src/client.js';
import * as ot from '../src/op.js';
import { FakeServer } from './fake_server.mjs';
import { prng, randomOp } from './gen.mjs';

const DOC = 'notes/today';

// One editor: a text, a DocClient, and the two message queues of its connection.
class Sim {
  constructor(server, name, { autoFlush = false } = {}) {
    this.server = server;
    this.name = name;
    this.text = '';
    this.notices = [];
    this.timers = [];
    this.conn = null;
    this.toServer = [];
    this.client = new DocClient({
      doc: DOC,
      clientId: name,
      send: (msg) => { if (this.conn) this.toServer.push(JSON.parse(JSON.stringify(msg))); },
      schedule: (fn) => this.timers.push(fn),
      host: {
        snapshot: (text) => { this.text = text; },
        remoteOp: (op) => { this.text = ot.apply(this.text, op); },
        localText: () => this.text,
        changed: () => {},
        notice: (kind, message, extra) => this.notices.push({ kind, message, extra }),
      },
    });
    this.autoFlush = autoFlush;
  }
  connect() {
    this.conn = this.server.connect(this.name);
    this.toServer = [];
    this.toServer.push(this.client.connected());
  }
  disconnect({ deliverSent = 0 } = {}) {
    // Some of what was sent may still reach the server; the rest is lost.
    for (let i = 0; i < deliverSent && this.toServer.length; i++) this.server.receive(this.conn, this.toServer.shift());
    this.server.drop(this.conn);
    this.conn = null;
    this.toServer = [];
    this.client.disconnected();
  }
  edit(op) {
    const before = this.text;
    this.text = ot.apply(before, op);
    this.client.localOp(op, () => before);
  }
  /** Delivers one pending message in one direction; false when nothing was pending. */
  step(dir) {
    if (!this.conn) return false;
    if (dir === 'up' && this.toServer.length) { this.server.receive(this.conn, this.toServer.shift()); return true; }
    if (dir === 'down' && this.conn.out.length) { this.client.receive(this.conn.out.shift()); return true; }
    return false;
  }
  flush() {
    for (let i = 0; i < 10000; i++) if (!this.step('up') && !this.step('down')) return;
    throw new Error('flush did not settle');
  }
}

function settle(sims) {
  for (let i = 0; i < 100000; i++) {
    let moved = false;
    for (const s of sims) moved = s.step('up') || s.step('down') || moved;
    if (!moved) return;
  }
  throw new Error('did not settle');
}

test('first open gets a snapshot; an edit is sent with v and a fresh id, then acked', () => {
  const server = new FakeServer({ text: 'Hello' });
  const a = new Sim(server, 'a');
  a.connect();
  a.flush();
  assert.equal(a.text, 'Hello');
  assert.equal(a.client.v, 0);
  a.edit([5, ' world']);
  assert.equal(a.client.state, 'awaiting-confirm');
  assert.deepEqual(a.toServer[0], { type: 'op', doc: DOC, v: 0, id: 'a:1', op: [5, ' world'] });
  a.flush();
  assert.equal(a.client.state, 'synchronized');
  assert.equal(a.client.v, 1);
  assert.equal(server.text, 'Hello world');
});

test('buffer: edits while one is in flight are composed and sent after the ack', () => {
  const server = new FakeServer({ text: '' });
  const a = new Sim(server, 'a');
  a.connect(); a.flush();
  a.edit(['a']);
  a.edit([1, 'b']);
  a.edit([2, 'c']);
  assert.equal(a.client.state, 'awaiting-with-buffer');
  assert.deepEqual(a.client.buffer, [1, 'bc']);
  assert.equal(a.toServer.length, 1); // one op in flight
  a.flush();
  assert.equal(server.text, 'abc');
  assert.equal(a.client.v, 2);
  assert.equal(a.client.state, 'synchronized');
});

test('§14 transcript: concurrent edits converge, the pending op\'s insert ordered as the server does', () => {
  const server = new FakeServer({ text: 'Hello' });
  server.v = 1; // as in the transcript: "Hello" is at v=1
  const a = new Sim(server, 'alice'), b = new Sim(server, 'bob');
  a.connect(); a.flush(); b.connect(); b.flush();
  a.edit([5, ' world']);
  b.edit(['Oh! ', 5]);
  a.step('up'); // Alice's arrives first
  b.step('up');
  settle([a, b]);
  assert.equal(server.text, 'Oh! Hello world');
  assert.equal(a.text, server.text);
  assert.equal(b.text, server.text);
  assert.equal(a.client.v, 3);
  assert.equal(b.client.v, 3);
});

test('reconnect: the outstanding op found in the catch-up is its ack (not applied twice)', () => {
  const server = new FakeServer({ text: 'Oh! Hello world' });
  const b = new Sim(server, 'bob');
  b.connect(); b.flush();
  b.edit([15, '!']);
  b.disconnect({ deliverSent: 1 }); // the op reached the server, the ack did not come back
  assert.equal(server.text, 'Oh! Hello world!');
  assert.equal(b.client.state, 'awaiting-confirm');
  b.connect();
  assert.deepEqual(b.toServer[0], { type: 'open', doc: DOC, v: 0 });
  b.flush();
  assert.equal(b.client.state, 'synchronized');
  assert.equal(b.client.v, 1);
  assert.equal(b.text, 'Oh! Hello world!');
  assert.equal(server.v, 1);
});

test('reconnect: an op lost on the way is resent after synced with the same id, transformed', () => {
  const server = new FakeServer({ text: 'abc' });
  const a = new Sim(server, 'a'), c = new Sim(server, 'c');
  a.connect(); a.flush(); c.connect(); c.flush();
  a.edit([3, 'X']);
  const id = a.client.outstanding.id;
  a.disconnect({ deliverSent: 0 }); // lost
  a.edit([4, 'Y']); // offline edit: buffered
  c.edit(['_', 3]);
  c.flush();
  a.connect();
  const sent = [];
  const orig = server.receive.bind(server);
  server.receive = (conn, msg) => { sent.push(msg); orig(conn, msg); };
  a.flush();
  const ops = sent.filter((m) => m.type === 'op');
  assert.equal(ops[0].id, id);
  assert.equal(ops[0].v, 1);
  assert.deepEqual(ops[0].op, [4, 'X']);
  assert.deepEqual(ops[1].op, [5, 'Y']);
  settle([a, c]);
  assert.equal(server.text, '_abcXY');
  assert.equal(a.text, server.text);
  assert.equal(c.text, server.text);
});

test('an ack for an id that is not outstanding is ignored', () => {
  const server = new FakeServer({ text: 'abc' });
  const a = new Sim(server, 'a');
  a.connect(); a.flush();
  a.edit([3, 'd']);
  a.client.receive({ type: 'ack', doc: DOC, id: 'a:999', v: 7 });
  assert.equal(a.client.state, 'awaiting-confirm');
  assert.equal(a.client.v, 0);
});

test('a gap in versions re-opens from server_v once; ops already applied are ignored', () => {
  const server = new FakeServer({ text: 'abc' });
  const a = new Sim(server, 'a');
  a.connect(); a.flush();
  a.client.receive({ type: 'op', doc: DOC, v: 5, id: 'z:1', op: [3, 'q'], by: 'z' });
  assert.equal(a.text, 'abc');
  assert.deepEqual(a.toServer.pop(), { type: 'open', doc: DOC, v: 0 });
  // Later ops past the gap do not re-open again; the catch-up then brings everything in order.
  a.client.receive({ type: 'op', doc: DOC, v: 6, id: 'z:2', op: [4, 'r'], by: 'z' });
  assert.equal(a.toServer.length, 0);
  const b = new Sim(server, 'b');
  b.connect(); b.flush();
  b.edit([3, 'X']); b.flush();
  a.client.receive({ type: 'op', doc: DOC, v: 0, id: server.history[0].id, op: [3, 'X'], by: 'b' });
  a.client.receive({ type: 'synced', doc: DOC, v: 1 });
  assert.equal(a.text, 'abcX');
  // An op already applied (a catch-up overlapping the live stream) is ignored.
  a.client.receive({ type: 'op', doc: DOC, v: 0, id: server.history[0].id, op: [3, 'X'], by: 'b' });
  assert.equal(a.text, 'abcX');
  assert.equal(a.client.v, 1);
});

test('version_too_old on re-open: a fresh snapshot, offline edits that never left are merged', () => {
  const server = new FakeServer({ text: 'one two', historyDepth: 2 });
  const a = new Sim(server, 'a'), c = new Sim(server, 'c');
  a.connect(); a.flush(); c.connect(); c.flush();
  a.disconnect();
  a.edit([7, ' three']); // offline, never sent
  a.edit([13, '!']);
  for (let i = 0; i < 4; i++) { c.edit([0 + i, 'c'].filter((x) => x !== 0).concat([7])); c.flush(); }
  assert.equal(server.text, 'ccccone two');
  a.connect();
  a.flush();
  assert.equal(a.notices.length, 0, JSON.stringify(a.notices));
  settle([a, c]);
  assert.equal(server.text, 'ccccone two three!');
  assert.equal(a.text, server.text);
  assert.equal(c.text, server.text);
});

test('version_too_old with an op that was sent and not acked: merged, the user is told', () => {
  const server = new FakeServer({ text: 'abc', historyDepth: 1 });
  const a = new Sim(server, 'a'), c = new Sim(server, 'c');
  a.connect(); a.flush(); c.connect(); c.flush();
  a.edit([3, 'X']);
  a.disconnect({ deliverSent: 1 }); // applied at v=0, ack lost
  a.edit([4, 'Y']); // buffered
  c.flush(); // c sees X
  c.edit(['1', 4]); c.flush();
  c.edit(['2', 5]); c.flush();
  a.connect();
  settle([a, c]);
  assert.equal(a.notices.length, 1);
  assert.equal(a.notices[0].kind, 'lost');
  assert.equal(a.notices[0].extra.yourText, 'abcXY');
  assert.equal(server.text, '21abcXY'); // X was applied once, Y merged
  assert.equal(a.text, server.text);
});

test('a refused op: re-open, the user is told, later edits are kept', () => {
  const server = new FakeServer({ text: 'abc' });
  const a = new Sim(server, 'a');
  a.connect(); a.flush();
  server.refuse = (msg) => (msg.id === 'a:1' ? 'doc_too_large' : null);
  a.edit([3, 'X']);
  a.edit([4, 'Y']);
  a.flush();
  assert.equal(a.notices[0].kind, 'lost');
  assert.match(a.notices[0].message, /doc_too_large/);
  assert.equal(server.text, 'abcY');
  assert.equal(a.text, 'abcY');
  assert.equal(a.client.state, 'synchronized');
});

test('forbidden: the document turns read-only and the local text goes back to the server\'s', () => {
  const server = new FakeServer({ text: 'abc' });
  const a = new Sim(server, 'a');
  a.connect(); a.flush();
  server.refuse = () => 'forbidden';
  a.edit([3, 'X']);
  a.flush();
  assert.equal(a.client.readOnly, true);
  assert.equal(a.notices[0].kind, 'readonly');
  assert.equal(a.text, 'abc');
  assert.throws(() => a.client.localOp([3, 'Z'], () => 'abc'));
});

test('storage_unavailable: the same op (same id, same v) is resent later', () => {
  const server = new FakeServer({ text: 'abc' });
  const a = new Sim(server, 'a');
  a.connect(); a.flush();
  let failures = 1;
  server.refuse = () => (failures-- > 0 ? 'storage_unavailable' : null);
  a.edit([3, 'X']);
  a.flush();
  assert.equal(a.notices[0].kind, 'retry');
  assert.equal(a.timers.length, 1);
  a.timers.shift()();
  assert.deepEqual(a.toServer[0], { type: 'op', doc: DOC, v: 0, id: 'a:1', op: [3, 'X'] });
  a.flush();
  assert.equal(server.text, 'abcX');
  assert.equal(a.client.state, 'synchronized');
});

test('remote selections map through later server ops and our pending ops', () => {
  const server = new FakeServer({ text: 'abcdef' });
  const a = new Sim(server, 'a'), c = new Sim(server, 'c');
  a.connect(); a.flush(); c.connect(); c.flush();
  c.edit(['12', 6]); c.flush();
  a.flush(); // a at v=1: "12abcdef"
  a.edit([8, '!']); // pending
  a.edit(['>', 9]); // buffered
  // A selection made at v=0 around "cd" ([2,4]) is at [5,7] for a now.
  assert.deepEqual(a.client.mapRemoteSel([[2, 4]], 0), [[5, 7]]);
  assert.equal(a.client.mapRemoteSel([[1, 1]], 5), null); // ahead of us
  assert.equal(a.client.canSendPresence(), false);
});

test('diffOp gives an op from one text to another without splitting pairs', () => {
  const pairs = [['', ''], ['abc', 'abc'], ['abc', 'aXc'], ['😀', '😃'], ['a😀b', 'ab'], ['', 'xyz'], ['中文', '']];
  for (const [x, y] of pairs) assert.equal(ot.apply(x, diffOp(x, y)), y, `${x} -> ${y}`);
});

test('random convergence: 4 editors, random delivery, disconnects and reconnects', () => {
  for (const seed of [1, 2, 3]) {
    const rnd = prng(seed);
    const server = new FakeServer({ text: 'start', historyDepth: 1000 });
    const sims = ['a', 'b', 'c', 'd'].map((n) => new Sim(server, n));
    for (const s of sims) { s.connect(); s.flush(); }
    for (let step = 0; step < 3000; step++) {
      const s = rnd.pick(sims);
      const r = rnd();
      if (r < 0.25) s.edit(randomOp(rnd, ot.cpLength(s.text)));
      else if (r < 0.6) s.step('up');
      else if (r < 0.97) s.step('down');
      else if (s.conn) s.disconnect({ deliverSent: rnd.int(2) });
      else s.connect();
      if (!s.conn && rnd() < 0.05) s.connect();
    }
    for (const s of sims) if (!s.conn) s.connect();
    settle(sims);
    for (const s of sims) {
      assert.equal(s.text, server.text, `seed ${seed}: ${s.name}`);
      assert.equal(s.client.state, 'synchronized');
      assert.equal(s.client.v, server.v);
      assert.equal(s.notices.length, 0);
    }
    // Nothing applied twice: every id once in the history.
    const ids = server.history.map((h) => h.id);
    assert.equal(new Set(ids).size, ids.length);
  }
});

test('a paste larger than max_op_bytes goes as several ops, one at a time', () => {
  const server = new FakeServer({ text: 'xy' });
  const a = new Sim(server, 'a'), c = new Sim(server, 'c');
  a.client.setLimits({ max_op_bytes: 64 });
  a.connect(); a.flush(); c.connect(); c.flush();
  const paste = 'line 😀 中文\n'.repeat(40);
  a.edit([1, paste, 1]);
  let sent = 0;
  const orig = server.receive.bind(server);
  server.receive = (conn, msg) => {
    if (msg.type === 'op') {
      sent++;
      assert.ok(Buffer.byteLength(JSON.stringify(msg.op)) <= 64, JSON.stringify(msg.op));
    }
    orig(conn, msg);
  };
  c.edit(['>', 2]); // concurrent edit while the pieces go
  settle([a, c]);
  assert.ok(sent > 5, String(sent));
  assert.equal(server.text, '>x' + paste + 'y');
  assert.equal(a.text, server.text);
  assert.equal(c.text, server.text);
});

test('deleted on the server (not_open, ref = doc): stop sending, keep the text, do not re-open', () => {
  const server = new FakeServer({ text: 'abc' });
  const a = new Sim(server, 'a');
  a.connect(); a.flush();
  a.edit([3, 'X']);
  a.client.receive({ type: 'error', code: 'not_open', message: 'document deleted', ref: DOC });
  assert.equal(a.client.deleted, true);
  assert.equal(a.client.pending, false);
  assert.equal(a.notices.length, 1);
  assert.equal(a.notices[0].kind, 'deleted');
  assert.match(a.notices[0].message, /not saved/);
  assert.equal(a.notices[0].extra.yourText, 'abcX');
  a.toServer = [];
  a.edit([4, 'Y']);
  assert.deepEqual(a.toServer, []);
  assert.equal(a.client.connected(), null);
});

test('pendingState survives a reload: a sent op whose ack was lost and an unsent buffer are applied exactly once by the next page', () => {
  const server = new FakeServer({ text: 'base' });
  const a = new Sim(server, 'a');
  a.connect();
  a.flush();
  assert.equal(a.client.pendingState(), null);
  a.edit([4, ' one']);
  a.step('up'); // the op reaches the server and is applied; its ack never arrives
  a.edit([8, ' two']); // buffered behind it
  const other = new Sim(server, 'b');
  other.connect();
  other.flush();
  other.edit(['>', 8]);
  other.flush();
  const kept = JSON.parse(JSON.stringify(a.client.pendingState())); // what IndexedDB stores
  assert.deepEqual(kept, { v: 0, baseText: 'base', outstanding: { id: 'a:1', op: [4, ' one'], sent: true }, buffer: [8, ' two'] });
  a.disconnect();
  // The reloaded page: a new client id, the kept state, the catch-up from v.
  const b = new Sim(server, 'a2');
  b.text = b.client.restore(kept);
  assert.equal(b.text, 'base one two');
  assert.deepEqual(b.client.connected(), { type: 'open', doc: DOC, v: 0 });
  b.connect();
  b.flush();
  assert.equal(server.text, '>base one two');
  assert.equal(b.text, server.text);
  assert.deepEqual(server.history.map((h) => h.id), ['a:1', 'b:1', 'a2:1']);
  assert.equal(b.client.pendingState(), null);
  assert.deepEqual(b.notices, []);
});

test('a restored op the server never saw is sent with its kept id and v, once', () => {
  const server = new FakeServer({ text: 'x' });
  const a = new Sim(server, 'a');
  a.connect();
  a.flush();
  a.disconnect();
  a.edit([1, 'y']);
  const kept = JSON.parse(JSON.stringify(a.client.pendingState()));
  assert.deepEqual(kept.outstanding, { id: 'a:1', op: [1, 'y'], sent: false });
  const b = new Sim(server, 'b');
  b.text = b.client.restore(kept);
  b.connect();
  b.flush();
  assert.equal(server.text, 'xy');
  assert.deepEqual(server.history.map((h) => h.id), ['a:1']);
  // The same state restored a second time (a stale copy) is a duplicate: acked, not applied.
  const c = new Sim(server, 'c');
  c.text = c.client.restore(kept);
  c.connect();
  c.flush();
  assert.equal(server.text, 'xy');
  assert.equal(c.text, 'xy');
  assert.deepEqual(server.history.map((h) => h.id), ['a:1']);
});

test('a restored state ahead of the server (the document was deleted meanwhile): a fresh snapshot, the edits rebased onto it, the user told', () => {
  const server = new FakeServer({ text: '' });
  const b = new Sim(server, 'b');
  b.text = b.client.restore({ v: 5, baseText: 'old text', outstanding: { id: 'a:9', op: [8, '!'], sent: false }, buffer: null });
  assert.equal(b.text, 'old text!');
  b.connect();
  b.flush();
  assert.equal(server.text, '!');
  assert.equal(b.text, '!');
  assert.equal(b.client.pendingState(), null);
  assert.equal(b.notices.length, 1);
  assert.equal(b.notices[0].kind, 'lost');
  assert.match(b.notices[0].message, /no longer has the version/);
  assert.equal(b.notices[0].extra.yourText, 'old text!');
});
