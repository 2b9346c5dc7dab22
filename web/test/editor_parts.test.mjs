// The editor page's pure parts: the name a page uses (src/editor/identity.js),
// the status bar's words (src/editor/status.js), the shared link (src/editor/copy-link.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guestName, loadIdentity, saveIdentity, shownName } from '../src/editor/identity.js';
import { describeStatus } from '../src/editor/status.js';
import { shareLink } from '../src/editor/copy-link.js';

class MemoryStorage {
  constructor(init = {}) { this.m = new Map(Object.entries(init)); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
}

test('a first visit gets a "Guest NNNN" name and a colour, kept for the next visit', () => {
  assert.equal(guestName(() => 0), 'Guest 1000');
  assert.equal(guestName(() => 0.99999), 'Guest 9999');
  const storage = new MemoryStorage();
  const first = loadIdentity(storage, () => 0.4821);
  assert.equal(first.name, 'Guest 5338');
  assert.match(first.color, /^#[0-9a-f]{6}$/);
  assert.deepEqual(loadIdentity(storage, () => 0.1), first, 'the same browser keeps its name');
});

test('a stored name or colour that hello would refuse is replaced, not sent', () => {
  const storage = new MemoryStorage({ 'ringpad.name': '  \u0007 ', 'ringpad.color': 'red' });
  const id = loadIdentity(storage, () => 0);
  assert.equal(id.name, 'Guest 1000');
  assert.equal(id.color, '#e91e63');
});

test('renaming keeps the new name; an empty name keeps the old one', () => {
  const storage = new MemoryStorage({ 'ringpad.name': 'Ann', 'ringpad.color': '#123456' });
  assert.deepEqual(saveIdentity(storage, { name: ' Zoë ', color: '#abcdef' }), { name: 'Zoë', color: '#abcdef' });
  assert.deepEqual(saveIdentity(storage, { name: '   ', color: 'nope' }), { name: 'Zoë', color: '#abcdef' });
});

test('a token\'s name wins over the browser\'s (the server shows it to everybody)', () => {
  const id = { name: 'Guest 1234', color: '#123456' };
  assert.deepEqual(shownName(id, { sub: 'a', name: 'Alice' }), { name: 'Alice', fromToken: true });
  assert.deepEqual(shownName(id, { sub: 'a' }), { name: 'Guest 1234', fromToken: false });
  assert.deepEqual(shownName(id, { sub: 'a', name: '' }), { name: 'Guest 1234', fromToken: false });
  assert.deepEqual(shownName(id, null), { name: 'Guest 1234', fromToken: false });
});

const doc = (over = {}) => ({ v: 7, pending: false, deleted: false, ...over });

test('status: connected and idle, saving, and the peers count', () => {
  const s = describeStatus({ conn: { state: 'connected' }, doc: doc(), peers: 0 });
  assert.deepEqual([s.cls, s.conn, s.version, s.saved, s.people], ['connected', 'connected', 'version 7', 'all changes saved', 'nobody else here']);
  assert.equal(s.live, 'connected; all changes saved');
  assert.equal(describeStatus({ conn: { state: 'connected' }, doc: doc({ pending: true }), peers: 2 }).saved, 'saving…');
  assert.equal(describeStatus({ conn: { state: 'connected' }, doc: doc(), peers: 1 }).people, '1 other person here');
  assert.equal(describeStatus({ conn: { state: 'connected' }, doc: doc(), peers: 3 }).people, '3 other people here');
});

test('status: while disconnected the collaborators are unknown, and unsent edits say where they are kept', () => {
  const off = describeStatus({ conn: { state: 'offline' }, doc: doc({ pending: true }), kept: true, peers: 0 });
  assert.deepEqual([off.conn, off.saved, off.people], ['offline: your browser has no network', 'unsaved changes, kept in this browser', 'others: unknown while disconnected']);
  const away = describeStatus({ conn: { state: 'reconnecting', retryAt: 10_000, reason: 'the connection was lost' }, doc: doc({ pending: true }), kept: false, now: 7_500 });
  assert.deepEqual([away.conn, away.saved], ['disconnected, retrying in 3 s', 'unsaved changes, kept in this page']);
  assert.match(away.title, /the connection was lost.*stay in this page/);
  assert.equal(away.live, 'disconnected, reconnecting; unsaved changes, kept in this page', 'no countdown in the live region');
  assert.equal(describeStatus({ conn: { state: 'connecting' }, doc: doc({ v: null }) }).people, 'others: unknown while disconnected');
});

test('status: a deleted document says so whatever the connection, and never "all changes saved"', () => {
  for (const state of ['connected', 'reconnecting', 'offline']) {
    const s = describeStatus({ conn: { state, retryAt: 0 }, doc: doc({ deleted: true }), peers: 2 });
    assert.deepEqual([s.cls, s.conn, s.saved, s.people], ['deleted', 'document deleted', 'not saved', '']);
    assert.match(s.live, /deleted/);
  }
});

test('status: a document that cannot be opened says why, whatever the connection', () => {
  const s = describeStatus({ conn: { state: 'connecting' }, doc: null, problem: 'invalid' });
  assert.deepEqual([s.cls, s.conn, s.saved, s.people, s.live], ['invalid', 'not a valid document name', '', '', 'not a valid document name']);
  const f = describeStatus({ conn: { state: 'connected' }, doc: { v: null, pending: false, deleted: false }, problem: 'forbidden' });
  assert.deepEqual([f.cls, f.conn, f.people], ['invalid', 'no access to this document', '']);
});

test('the shared link is the document\'s address, without a token', () => {
  assert.equal(shareLink('https://pad.example', 'notes/today'), 'https://pad.example/d/notes/today');
  assert.equal(shareLink('http://127.0.0.1:8080', 'a.b_c-d'), 'http://127.0.0.1:8080/d/a.b_c-d');
});
