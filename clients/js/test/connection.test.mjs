// Reconnection with capped exponential backoff and jitter (src/connection.js), with a fake WebSocket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Connection, backoffDelayMs, SUBPROTOCOL } from '../src/connection.js';

test('backoff doubles, is capped, and jitters within [ceiling/2, ceiling]', () => {
  const opts = { baseMs: 500, capMs: 30000 };
  assert.equal(backoffDelayMs(0, () => 0, opts), 250);
  assert.equal(backoffDelayMs(0, () => 1, opts), 500);
  assert.equal(backoffDelayMs(3, () => 1, opts), 4000);
  assert.equal(backoffDelayMs(10, () => 1, opts), 30000);
  assert.equal(backoffDelayMs(1000, () => 0, opts), 15000);
  const seen = new Set();
  for (let i = 0; i < 50; i++) {
    const d = backoffDelayMs(4, Math.random, opts);
    assert.ok(d >= 4000 && d <= 8000, String(d));
    seen.add(d);
  }
  assert.ok(seen.size > 1, 'jitter');
});

function harness({ online = true } = {}) {
  const sockets = [], timers = [], listeners = {};
  let now = 1000;
  let isOnline = online;
  class FakeWS {
    constructor(url, proto) { this.url = url; this.proto = proto; this.sent = []; sockets.push(this); }
    send(s) { this.sent.push(JSON.parse(s)); }
    close() { this.closed = true; }
    serverSays(msg) { this.onmessage({ data: JSON.stringify(msg) }); }
  }
  const statuses = [], messages = [], readies = [], unauth = [];
  const conn = new Connection({
    url: 'ws://127.0.0.1:1/ws',
    hello: () => ({ type: 'hello', name: 'Ann' }),
    onReady: (w) => readies.push(w),
    onMessage: (m) => messages.push(m),
    onStatus: (s) => statuses.push(s),
    onUnauthorized: (m) => unauth.push(m),
    env: {
      WebSocket: FakeWS,
      setTimeout: (f, ms) => { timers.push({ f, ms }); return timers.length; },
      clearTimeout: () => {},
      setInterval: () => 0,
      clearInterval: () => {},
      now: () => now,
      random: () => 0.5,
      online: () => isOnline,
      addEventListener: (name, f) => { listeners[name] = f; },
    },
  });
  return { conn, sockets, timers, statuses, messages, readies, unauth, listeners, setOnline: (v) => { isOnline = v; }, advance: (ms) => { now += ms; } };
}

test('connect, hello, welcome, then messages; send only when ready', () => {
  const h = harness();
  h.conn.start();
  assert.equal(h.sockets.length, 1);
  assert.equal(h.sockets[0].proto, SUBPROTOCOL);
  assert.equal(h.conn.send({ type: 'ping' }), false);
  h.sockets[0].onopen();
  assert.deepEqual(h.sockets[0].sent[0], { type: 'hello', name: 'Ann' });
  h.sockets[0].serverSays({ type: 'welcome', session: 's1', server: 'x', limits: {} });
  assert.equal(h.readies.length, 1);
  assert.equal(h.statuses.at(-1).state, 'connected');
  assert.equal(h.conn.send({ type: 'ping' }), true);
  h.sockets[0].serverSays({ type: 'ack', doc: 'd', id: 'a:1', v: 0 });
  assert.equal(h.messages.at(-1).type, 'ack');
});

test('a drop reconnects after a growing delay; success resets the backoff', () => {
  const h = harness();
  h.conn.start();
  h.sockets[0].onopen();
  h.sockets[0].serverSays({ type: 'welcome', session: 's1' });
  h.sockets[0].onclose({ code: 1006 });
  assert.equal(h.messages.at(-1).type, '_disconnected');
  assert.equal(h.statuses.at(-1).state, 'reconnecting');
  assert.equal(h.timers.at(-1).ms, backoffDelayMs(0, () => 0.5));
  h.timers.at(-1).f();
  h.sockets[1].onclose({ code: 1006 }); // refused again
  assert.equal(h.timers.at(-1).ms, backoffDelayMs(1, () => 0.5));
  assert.ok(h.timers.at(-1).ms > h.timers.at(-2).ms);
  h.timers.at(-1).f();
  h.sockets[2].onopen();
  h.sockets[2].serverSays({ type: 'welcome', session: 's2' });
  assert.equal(h.readies.length, 2);
  h.sockets[2].onclose({ code: 1006 });
  assert.equal(h.timers.at(-1).ms, backoffDelayMs(0, () => 0.5));
});

test('offline: no retry timer until the browser is online again', () => {
  const h = harness();
  h.conn.start();
  h.setOnline(false);
  h.sockets[0].onclose({ code: 1006 });
  assert.equal(h.statuses.at(-1).state, 'offline');
  const timers = h.timers.length;
  h.setOnline(true);
  h.listeners.online();
  assert.equal(h.timers.length, timers);
  assert.equal(h.sockets.length, 2);
});

test('unauthorized: no reconnect loop until resume()', () => {
  const h = harness();
  h.conn.start();
  h.sockets[0].onopen();
  h.sockets[0].serverSays({ type: 'error', code: 'unauthorized', message: 'token expired' });
  h.sockets[0].onclose({ code: 4401 });
  assert.equal(h.unauth.length, 1);
  assert.equal(h.statuses.at(-1).state, 'unauthorized');
  assert.equal(h.timers.length, 0);
  h.conn.resume();
  assert.equal(h.sockets.length, 2);
});

function connected(h) {
  h.conn.start();
  h.sockets[0].onopen();
  h.sockets[0].serverSays({ type: 'welcome', session: 's1', server: 'x', limits: {} });
  return h.sockets[0];
}

test('the browser going offline drops a socket that still looks open: status offline at once, back when online', () => {
  const h = harness();
  const ws = connected(h);
  h.setOnline(false);
  h.listeners.offline();
  assert.equal(ws.closed, true);
  assert.equal(h.messages.at(-1).type, '_disconnected');
  assert.equal(h.statuses.at(-1).state, 'offline');
  assert.equal(h.conn.send({ type: 'op' }), false);
  assert.equal(h.timers.length, 0, 'no retry while offline');
  ws.onclose({ code: 1006 }); // the late close of the dropped socket changes nothing
  assert.equal(h.statuses.at(-1).state, 'offline');
  h.setOnline(true);
  h.listeners.online();
  assert.equal(h.sockets.length, 2);
  assert.equal(h.statuses.at(-1).state, 'connecting');
});

test('an op met by silence gets a ping, and silence after the ping drops the link', () => {
  const h = harness();
  const ws = connected(h);
  assert.equal(h.conn.send({ type: 'op', doc: 'd', v: 0, id: 'a:1', op: ['x'] }), true);
  const first = h.timers.at(-1);
  assert.equal(first.ms, 3000);
  h.advance(3000);
  first.f();
  assert.deepEqual(ws.sent.at(-1), { type: 'ping' });
  const second = h.timers.at(-1);
  assert.equal(second.ms, 4000);
  h.advance(4000);
  second.f();
  assert.equal(ws.closed, true);
  assert.equal(h.messages.at(-1).type, '_disconnected');
  assert.equal(h.statuses.at(-1).state, 'reconnecting');
  assert.match(h.statuses.at(-1).reason, /stopped answering/);
});

test('an op answered in time sends no ping and keeps the link', () => {
  const h = harness();
  const ws = connected(h);
  h.conn.send({ type: 'op', doc: 'd', v: 0, id: 'a:1', op: ['x'] });
  const timer = h.timers.at(-1);
  h.advance(5);
  ws.serverSays({ type: 'ack', doc: 'd', id: 'a:1', v: 0 });
  h.advance(3000);
  timer.f();
  assert.equal(ws.sent.filter((m) => m.type === 'ping').length, 0);
  assert.notEqual(ws.closed, true);
  assert.equal(h.statuses.at(-1).state, 'connected');
});

test('reconnect() sends a new hello at once on a new socket, without a backoff', () => {
  const h = harness();
  const ws = connected(h);
  h.conn.reconnect();
  assert.equal(ws.closed, true);
  assert.equal(h.messages.at(-1).type, '_disconnected');
  assert.equal(h.sockets.length, 2);
  assert.equal(h.timers.length, 0);
  assert.equal(h.statuses.at(-1).state, 'connecting');
  h.sockets[1].onopen();
  assert.deepEqual(h.sockets[1].sent[0], { type: 'hello', name: 'Ann' });
  ws.onclose({ code: 1000 }); // the old socket's late close is ignored
  assert.equal(h.sockets.length, 2);
  assert.equal(h.timers.length, 0);
});
