// node --test bench/peers/test
// Both peers on an ephemeral loopback port: the protocol basics, acks and
// broadcasts, errors; ShareDB also concurrent edits, convergence and resume.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createShareDBPeer, toRingpad, toTextUnicode } from '../sharedb/server.mjs';
import { createRelay } from '../ws-relay/server.mjs';
import { Client, DocClient, transform } from './client.mjs';
import { applyOp, cpLength } from '../common/proto.mjs';

const PEERS = [
  ['sharedb', createShareDBPeer],
  ['ws-relay', createRelay],
];
// RINGPAD_PORT=N: also run the protocol basics against a running ringpad on
// 127.0.0.1:N, which checks that the adapters speak the same protocol.
const BASICS = [...PEERS];
if (process.env.RINGPAD_PORT) {
  BASICS.push(['ringpad', async () => ({ port: Number(process.env.RINGPAD_PORT), close: async () => {} })]);
}
// Document names unique per run, so a long-running ringpad can be reused.
const RUN = `t${process.pid}`;

for (const [name, create] of BASICS) {
  describe(`${name}: protocol basics`, () => {
    let peer;
    const clients = [];
    const connect = async () => {
      const c = await Client.connect(peer.port);
      clients.push(c);
      return c;
    };
    before(async () => { peer = await create({ port: 0 }); });
    after(async () => {
      for (const c of clients) await c.close();
      await peer.close();
    });

    test('hello is answered by welcome with a session and the limits', async () => {
      const c = await connect();
      c.send({ type: 'hello', name: 'Alice' });
      const m = await c.next();
      assert.equal(m.type, 'welcome');
      assert.equal(typeof m.session, 'string');
      assert.ok(m.session.length > 0);
      assert.equal(m.limits.history_depth, 1000);
      c.send({ type: 'ping' });
      assert.deepEqual(await c.next(), { type: 'pong' });
    });

    test('open, op, ack; a second client sees the snapshot and live ops', async () => {
      const a = await connect();
      const da = new DocClient(a, `${RUN}/basic`, 'a');
      const snap = await da.open();
      assert.deepEqual([snap.v, snap.text], [0, '']);
      da.edit(['Hello']);
      const ack = da.handle(await a.next());
      assert.deepEqual(ack, { type: 'ack', doc: `${RUN}/basic`, id: 'a:1', v: 0 });

      const b = await connect();
      const db = new DocClient(b, `${RUN}/basic`, 'b');
      const snapB = await db.open();
      assert.deepEqual([snapB.v, snapB.text], [1, 'Hello']);

      da.edit([5, ' world 😀']);
      // With the relay only sequential edits converge, so b edits after a's op.
      if (name === 'ws-relay') {
        await da.pump(() => da.idle());
        await db.pump(() => db.remote === 1);
        db.edit(['>', 13]);
        await db.pump(() => db.idle());
        await da.pump(() => da.remote === 1);
      } else {
        db.edit(['>', 5]);
        await Promise.all([
          da.pump(() => da.idle() && da.remote === 1),
          db.pump(() => db.idle() && db.remote === 1),
        ]);
      }
      assert.equal(da.text, db.text);
      assert.equal(da.serverV, 3);
      assert.equal(db.serverV, 3);
      assert.equal(da.text, '>Hello world 😀');
    });

    test('errors: bad_json, unknown_type, bad_doc_name, not_open, bad_op', async () => {
      const c = await connect();
      c.send('{"type":');
      assert.equal((await c.next()).code, 'bad_json');
      c.send({ type: 'nope' });
      assert.equal((await c.next()).code, 'unknown_type');
      c.send({ type: 'open', doc: '../x' });
      assert.equal((await c.next()).code, 'bad_doc_name');
      c.send({ type: 'op', doc: `${RUN}/err`, v: 0, id: 'e:1', op: ['x'] });
      const notOpen = await c.next();
      assert.deepEqual([notOpen.type, notOpen.code, notOpen.ref], ['error', 'not_open', 'e:1']);
      c.send({ type: 'open', doc: `${RUN}/err` });
      assert.equal((await c.next()).type, 'snapshot');
      c.send({ type: 'op', doc: `${RUN}/err`, v: 0, id: 'e:2', op: [0] });
      const e = await c.next();
      assert.deepEqual([e.type, e.code, e.ref], ['error', 'bad_op', 'e:2']);
      c.send({ type: 'op', doc: `${RUN}/err`, v: 5, id: 'e:3', op: ['x'] });
      const ahead = await c.next();
      assert.deepEqual([ahead.code, ahead.ref], ['version_ahead', 'e:3']);
    });

    test('close unsubscribes: no more ops arrive after close', async () => {
      const a = await connect();
      const b = await connect();
      const da = new DocClient(a, `${RUN}/close`, 'a');
      const db = new DocClient(b, `${RUN}/close`, 'b');
      await da.open();
      await db.open();
      b.send({ type: 'close', doc: `${RUN}/close` });
      da.edit(['x']);
      await da.pump(() => da.idle());
      b.send({ type: 'ping' });
      // Only the pong (and possibly nothing else) may arrive.
      assert.deepEqual(await b.next(), { type: 'pong' });
    });
  });
}

describe('sharedb: transformation through ShareDB', () => {
  let peer;
  const clients = [];
  const connect = async () => {
    const c = await Client.connect(peer.port);
    clients.push(c);
    return c;
  };
  before(async () => { peer = await createShareDBPeer({ port: 0 }); });
  after(async () => {
    for (const c of clients) await c.close();
    await peer.close();
  });

  test('op conversion both ways keeps code points and spans the document', () => {
    assert.deepEqual(toTextUnicode([1, -1, 'e', 6]), [1, { d: 1 }, 'e']);
    assert.deepEqual(toTextUnicode([3]), []);
    assert.deepEqual(toRingpad([7, '🎉'], 8), { op: [7, '🎉', 1], len: 9 });
    assert.deepEqual(toRingpad([{ d: '😀' }], 2), { op: [-1, 1], len: 1 });
    assert.deepEqual(toRingpad([], 3), { op: [3], len: 3 });
  });

  test('the worked example of §14: concurrent edits are transformed and converge', async () => {
    const a = await connect();
    const b = await connect();
    const da = new DocClient(a, 'notes/today', 'a7f3');
    const db = new DocClient(b, 'notes/today', 'b2c9');
    await da.open();
    da.edit(['Hello']);
    await da.pump(() => da.idle());
    await db.open();
    assert.equal(db.text, 'Hello');
    da.edit([5, ' world']);
    db.edit(['Oh! ', 5]);
    await Promise.all([
      da.pump(() => da.idle() && da.remote === 1),
      db.pump(() => db.idle() && db.remote === 1),
    ]);
    assert.equal(da.text, 'Oh! Hello world');
    assert.equal(db.text, 'Oh! Hello world');
    assert.equal(da.serverV, 3);
    assert.equal(db.serverV, 3);
    // ShareDB's own snapshot agrees.
    const snap = await new DocClient(await connect(), 'notes/today', 'c').open();
    assert.deepEqual([snap.v, snap.text], [3, 'Oh! Hello world']);
  });

  test('three clients, seeded random concurrent edits, converge with ShareDB', async () => {
    let seed = 12345;
    const rand = (n) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const docs = [];
    for (let k = 0; k < 3; k++) {
      const c = await connect();
      const d = new DocClient(c, 'rand/doc', `c${k}`);
      await d.open();
      docs.push(d);
    }
    const ROUNDS = 40;
    for (let r = 0; r < ROUNDS; r++) {
      for (const d of docs) {
        if (d.buffer) continue;
        const len = cpLength(d.text);
        const pos = rand(len + 1);
        let op;
        if (len > 0 && rand(3) === 0) {
          const n = 1 + rand(Math.min(3, len - pos) || 1);
          op = pos + n <= len ? [pos, -n, len - pos - n] : [-len];
        } else {
          op = [pos, ['x', 'é', '😀', 'ab'][rand(4)], len - pos];
        }
        d.edit(op.filter((c) => c !== 0));
      }
      // Drain whatever has arrived, without waiting for quiescence.
      for (const d of docs) while (d.c.queue.length) d.handle(d.c.queue.shift());
    }
    // Settle: everyone idle and at the same version.
    const settled = () => docs.every((d) => d.idle()) && docs.every((d) => d.serverV === docs[0].serverV);
    const deadline = Date.now() + 5000;
    while (!settled()) {
      assert.ok(Date.now() < deadline, 'did not settle');
      for (const d of docs) {
        if (!d.c.queue.length && (!d.idle() || d.serverV !== Math.max(...docs.map((x) => x.serverV)))) {
          d.handle(await d.c.next());
        }
        while (d.c.queue.length) d.handle(d.c.queue.shift());
      }
    }
    const texts = docs.map((d) => d.text);
    assert.equal(texts[1], texts[0]);
    assert.equal(texts[2], texts[0]);
    const fresh = new DocClient(await connect(), 'rand/doc', 'f');
    const snap = await fresh.open();
    assert.equal(snap.text, texts[0]);
    assert.equal(snap.v, docs[0].serverV);
    assert.ok(docs.every((d) => d.acks > 0 && d.remote > 0));
  });

  test('open with v resumes: catch-up ops with ids, then synced', async () => {
    const a = await connect();
    const da = new DocClient(a, 'resume/x', 'r');
    await da.open();
    da.edit(['abc']);
    await da.pump(() => da.idle());
    da.edit([3, 'd']);
    await da.pump(() => da.idle());
    const b = await connect();
    b.send({ type: 'open', doc: 'resume/x', v: 1 });
    const op = await b.next();
    assert.deepEqual(op, { type: 'op', doc: 'resume/x', v: 1, id: 'r:2', op: [3, 'd'], by: op.by });
    assert.deepEqual(await b.next(), { type: 'synced', doc: 'resume/x', v: 2 });
    b.send({ type: 'open', doc: 'resume/y', v: 4 });
    const e = await b.next();
    assert.deepEqual([e.code, e.ref], ['version_ahead', 'resume/y']);
  });

  test('the client transform used by these tests matches §8 example 1', () => {
    assert.deepEqual(transform([1, 'X', 2], [1, 'Y', 2]), [[1, 'X', 3], [2, 'Y', 2]]);
    assert.equal(applyOp('abc', [1, 'X', 2]), 'aXbc');
  });
});

describe('ws-relay: no transform', () => {
  test('a stale op is acked and relayed verbatim, and counted as diverged', async () => {
    const peer = await createRelay({ port: 0 });
    const a = await Client.connect(peer.port);
    const b = await Client.connect(peer.port);
    try {
      for (const c of [a, b]) {
        c.send({ type: 'open', doc: 'stale' });
        assert.equal((await c.next()).type, 'snapshot');
      }
      a.send({ type: 'op', doc: 'stale', v: 0, id: 'a:1', op: ['x'] });
      b.send({ type: 'op', doc: 'stale', v: 0, id: 'b:1', op: ['y'] });
      assert.deepEqual(await a.next(), { type: 'ack', doc: 'stale', id: 'a:1', v: 0 });
      const seen = [await b.next(), await b.next()].map((m) => m.type).sort();
      assert.deepEqual(seen, ['ack', 'op']);
      const relayed = await a.next();
      assert.deepEqual(relayed, { type: 'op', doc: 'stale', v: 1, id: 'b:1', op: ['y'], by: relayed.by });
      assert.equal(peer.stats.diverged, 1);
    } finally {
      await a.close();
      await b.close();
      await peer.close();
    }
  });
});

describe('every peer: /echo and /healthz', () => {
  test('the echo endpoint returns each message; /healthz answers ok', async () => {
    const { default: WebSocket } = await import('ws');
    for (const [, create] of PEERS) {
      const peer = await create({ port: 0 });
      try {
        const res = await fetch(`http://127.0.0.1:${peer.port}/healthz`);
        assert.equal(await res.text(), 'ok\n');
        const ws = new WebSocket(`ws://127.0.0.1:${peer.port}/echo`);
        await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
        const got = new Promise((resolve) => ws.once('message', (d) => resolve(d.toString())));
        ws.send('ping é');
        assert.equal(await got, 'ping é');
        ws.close();
      } finally {
        await peer.close();
      }
    }
  });
});
