// The JS SDK (src/ringpad.js) against the real ringpad: many documents on one
// connection, concurrent random edits with forced disconnects that converge to
// the server's REST text, presence, refused opens, version_too_old recovery.
// Skips when the server is not built (./zigw build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Client, RingpadError } from '../src/index.js';
import { available, startRingpad, mintToken } from '../../../web/test/ringpad_server.mjs';
import { prng } from './gen.mjs';

const skip = available ? false : 'ringpad is not built (./zigw build)';
const SETTLE_TIMEOUT_MS = 15000;

async function withServer(extraArgs, fn, { authSecret = null } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'ringpad-sdk-js-'));
  const srv = await startRingpad({ dataDir, extraArgs, authSecret });
  try {
    await fn(srv);
  } finally {
    await srv.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function restDoc(srv, name) {
  const r = await fetch(`${srv.url}/api/docs/${name}`);
  assert.equal(r.status, 200, `GET /api/docs/${name}`);
  return r.json();
}

function within(promise, ms, what) {
  let t;
  return Promise.race([promise, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: not within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

/** Resolves when `pred()` holds, polling (for events on other clients). */
async function until(pred, what, ms = SETTLE_TIMEOUT_MS) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const PIECES = ['a', 'bc', 'é', '😀', '👩‍💻', '\n', '中文', 'xyz'];

/** One random local edit: an insert or a delete in code points. */
function randomEdit(doc, rnd) {
  const len = doc.length;
  if (len > 0 && rnd() < 0.35) {
    const pos = Math.floor(rnd() * len);
    doc.delete(pos, 1 + Math.floor(rnd() * Math.min(3, len - pos)));
  } else {
    doc.insert(Math.floor(rnd() * (len + 1)), PIECES[Math.floor(rnd() * PIECES.length)]);
  }
}

test('three clients edit one document at once with forced disconnects and converge to the REST text', { skip }, async () => {
  await withServer([], async (srv) => {
    const url = `ws://127.0.0.1:${srv.port}/ws`;
    const rnd = prng(7);
    const clients = [0, 1, 2].map((i) => new Client(url, { WebSocket, name: `js${i}` }));
    const docs = await Promise.all(clients.map((c) => c.open('race/one')));
    const acked = docs.map(() => new Set());
    docs.forEach((d, i) => d.on('ack', (a) => acked[i].add(a.id)));
    const changes = [0, 0, 0];
    docs.forEach((d, i) => d.on('change', () => { changes[i]++; }));
    for (let round = 0; round < 60; round++) {
      for (const d of docs) randomEdit(d, rnd);
      if (round % 15 === 7) clients[round % 3].dropConnection();
      await new Promise((r) => setTimeout(r, 2));
    }
    await within(Promise.all(docs.map((d) => d.whenSynced())), SETTLE_TIMEOUT_MS, 'all edits acknowledged');
    const server = await restDoc(srv, 'race/one');
    await until(() => docs.every((d) => d.v === server.v), 'every client at the server version');
    for (const d of docs) assert.equal(d.text, server.text);
    const totalAcked = acked.reduce((n, s) => n + s.size, 0);
    assert.equal(server.v, totalAcked, 'one version per acknowledged op id');
    assert.ok(changes.every((n) => n > 0), 'every client saw the others edit');
    for (const c of clients) c.close();
  });
});

test('one connection opens many documents; each converges on its own', { skip }, async () => {
  await withServer([], async (srv) => {
    const url = `ws://127.0.0.1:${srv.port}/ws`;
    const a = new Client(url, { WebSocket });
    const b = new Client(url, { WebSocket });
    const names = ['many/1', 'many/2', 'many/3', 'many/4'];
    const da = await Promise.all(names.map((n) => a.open(n)));
    const db = await Promise.all(names.map((n) => b.open(n)));
    da.forEach((d, i) => d.insert(0, `A${i}`));
    db.forEach((d, i) => d.insert(0, `B${i}`));
    await Promise.all([...da, ...db].map((d) => d.whenSynced()));
    for (let i = 0; i < names.length; i++) {
      const server = await restDoc(srv, names[i]);
      await until(() => da[i].v === 2 && db[i].v === 2, `${names[i]} at v2 on both`);
      assert.equal(server.v, 2);
      assert.equal(da[i].text, server.text);
      assert.equal(db[i].text, server.text);
      assert.ok(server.text === `A${i}B${i}` || server.text === `B${i}A${i}`, server.text);
    }
    a.close(); b.close();
  });
});

test('presence: a selection reaches the other client, moved through later edits', { skip }, async () => {
  await withServer([], async (srv) => {
    const url = `ws://127.0.0.1:${srv.port}/ws`;
    const a = new Client(url, { WebSocket, name: 'Alice', color: '#e91e63' });
    const b = new Client(url, { WebSocket, name: 'Bob' });
    const da = await a.open('presence/doc');
    da.insert(0, 'Hello 😀 world');
    await da.whenSynced();
    const db = await b.open('presence/doc');
    const seen = [];
    db.on('presence', (p) => seen.push(p));
    da.setSelection([[8, 13]]);
    await until(() => seen.length > 0, 'presence at B');
    assert.equal(seen[0].name, 'Alice');
    assert.equal(seen[0].color, '#e91e63');
    assert.deepEqual(seen[0].sel, [[8, 13]]);
    assert.equal(seen[0].session, [...db.peers.keys()][0]);
    // B inserts before the selection: B's view of Alice's selection moves.
    db.insert(0, '>> ');
    assert.deepEqual(db.peers.get(seen[0].session).sel, [[11, 16]]);
    const left = new Promise((r) => db.once('leave', r));
    a.close();
    const l = await within(left, SETTLE_TIMEOUT_MS, 'leave at B');
    assert.equal(l.session, seen[0].session);
    assert.equal(db.peers.size, 0);
    b.close();
  });
});

test('open refused: the promise rejects with the protocol error code', { skip }, async () => {
  await withServer(['--max-doc-name-bytes', '32'], async (srv) => {
    const c = new Client(`ws://127.0.0.1:${srv.port}/ws`, { WebSocket });
    await assert.rejects(c.open('../escape'), (e) => e instanceof RingpadError && e.code === 'bad_doc_name' && e.ref === '../escape');
    assert.equal(c.docs.has('../escape'), false);
    // Names within our rules but over the server's --max-doc-name-bytes: the server's refusal (no ref) answers the open.
    await assert.rejects(c.open('n'.repeat(40)), (e) => e instanceof RingpadError && e.code === 'bad_doc_name' && e.ref === 'n'.repeat(40));
    assert.equal(c.docs.size, 0);
    const ok = await c.open('fine');
    assert.equal(ok.v, 0);
    c.close();
  });
});

test('edits made while offline are sent on reconnect with their ids', { skip }, async () => {
  await withServer([], async (srv) => {
    const url = `ws://127.0.0.1:${srv.port}/ws`;
    const a = new Client(url, { WebSocket });
    const d = await a.open('offline/doc');
    d.insert(0, 'one ');
    await d.whenSynced();
    a.disconnect();
    await until(() => !a.connected, 'disconnected');
    d.insert(d.length, 'two ');
    d.insert(d.length, 'three');
    assert.equal(d.state, 'awaiting-with-buffer');
    const acks = [];
    d.on('ack', (x) => acks.push(x));
    a.connect();
    await within(d.whenSynced(), SETTLE_TIMEOUT_MS, 'offline edits acknowledged');
    const server = await restDoc(srv, 'offline/doc');
    assert.equal(server.text, 'one two three');
    assert.equal(d.text, server.text);
    assert.equal(server.v, 3);
    assert.deepEqual(acks.map((x) => x.v), [1, 2]);
    a.close();
  });
});

test('version_too_old: a client away for longer than the history re-syncs from a snapshot', { skip }, async () => {
  await withServer(['--history-depth', '4'], async (srv) => {
    const url = `ws://127.0.0.1:${srv.port}/ws`;
    const a = new Client(url, { WebSocket });
    const b = new Client(url, { WebSocket });
    const da = await a.open('old/doc');
    const db = await b.open('old/doc');
    da.insert(0, 'base');
    await da.whenSynced();
    await until(() => db.text === 'base', 'B sees base');
    b.disconnect();
    await until(() => !b.connected, 'B offline');
    for (let i = 0; i < 10; i++) { da.insert(da.length, `${i}`); await da.whenSynced(); }
    const changes = [];
    db.on('change', (c) => changes.push(c));
    b.connect();
    const server = await restDoc(srv, 'old/doc');
    await until(() => db.v === server.v, 'B back at the server version');
    assert.equal(db.text, 'base0123456789');
    assert.equal(db.text, server.text);
    assert.equal(changes.length, 1);
    assert.equal(changes[0].resync, true, 'the catch-up came as one resync change from a fresh snapshot');
    a.close(); b.close();
  });
});

test('examples/edit.mjs appends its line and prints the acknowledged text', { skip }, async () => {
  await withServer([], async (srv) => {
    const { spawnSync } = await import('node:child_process');
    const example = fileURLToPath(new URL('../examples/edit.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [example, `ws://127.0.0.1:${srv.port}/ws`, 'ex/edit', 'first 😀'],
      { encoding: 'utf8', timeout: 30000, env: { ...process.env, WATCH_MS: '0' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /acknowledged: the document is at version 1/);
    const server = await restDoc(srv, 'ex/edit');
    assert.equal(server.text, 'first 😀\n');
    assert.equal(r.stdout, 'first 😀\n\n');
  });
});

test('auth: a read grant reads but cannot edit, no grant cannot open, a bad token stops reconnecting', { skip }, async () => {
  const secret = 'sdk-test-secret-0123456789';
  await withServer([], async (srv) => {
    const url = `ws://127.0.0.1:${srv.port}/ws`;
    const writer = new Client(url, { WebSocket, token: mintToken(secret, 'w', ['team/*:write']) });
    const w = await writer.open('team/doc');
    w.insert(0, 'shared');
    await w.whenSynced();
    const reader = new Client(url, { WebSocket, token: () => mintToken(secret, 'r', ['team/doc:read']) });
    const r = await reader.open('team/doc');
    assert.equal(r.text, 'shared');
    // The role is the server's to say: the first edit is refused, undone, and the document turns read-only.
    const notices = [];
    r.on('notice', (n) => notices.push(n));
    r.insert(0, 'x');
    await until(() => notices.length > 0, 'readonly notice');
    assert.equal(notices[0].kind, 'readonly');
    await until(() => r.text === 'shared', 'the refused edit undone');
    assert.throws(() => r.insert(0, 'y'), (e) => e instanceof RingpadError && e.code === 'forbidden');
    assert.equal(r.text, 'shared', 'a refused edit leaves the text alone');
    await assert.rejects(reader.open('other'), (e) => e instanceof RingpadError && e.code === 'forbidden' && e.ref === 'other');
    const stranger = new Client(url, { WebSocket, token: 'not.a.token' });
    const errors = [];
    stranger.on('error', (e) => errors.push(e));
    await until(() => stranger.status?.state === 'unauthorized', 'unauthorized status');
    assert.equal(errors[0].code, 'unauthorized');
    await new Promise((res) => setTimeout(res, 700)); // past the first backoff: no retry
    assert.equal(stranger.status.state, 'unauthorized');
    for (const c of [writer, reader, stranger]) c.close();
  }, { authSecret: secret });
});
