// GET /api/docs/{name}/events: a document's live events as Server-Sent
// Events, read by real clients (node:http with a spec-following parser, and
// curl -N): snapshot, ops with their version as id, resume with
// Last-Event-ID or ?from= without a gap, heartbeats, auth, the end of the
// stream on delete, and a slow reader cut off at the send-queue limit.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';
import { sleep, startServer } from './lib/server.mjs';
import { RpConn } from './lib/rp-client.mjs';
import { httpJson, mintToken, nowS, scratchDir } from './lib/rp-util.mjs';
import { openEvents } from './lib/sse.mjs';

const SECRET = 'correct-horse-battery-staple';
const here = path.dirname(fileURLToPath(import.meta.url));
const spec = YAML.parse(readFileSync(path.join(here, '../../docs/openapi.yaml'), 'utf8'));
const ajv = new Ajv2020({ strict: false });
ajv.addSchema(spec, 'openapi');
const eventData = ajv.getSchema('openapi#/components/schemas/EventData');
const errorBody = ajv.getSchema('openapi#/components/schemas/Error');

async function srvWith(t, flags = {}) {
    const srv = await startServer({ dataDir: scratchDir(t), ...flags });
    t.after(() => srv.stop());
    return srv;
}

const append = (port, name, text, opts = {}) => httpJson(port, 'POST', `/api/docs/${name}/append`, { body: { text }, ...opts });

function checkEvents(stream) {
    for (const e of stream.events) {
        assert.ok(eventData(e.json), `event ${e.event} data matches the document: ${e.data.slice(0, 200)}`);
        assert.equal(e.json.type, e.event, 'the event is named by its message type');
        if (e.event === 'op') assert.equal(e.id, String(e.json.v), 'an op\'s id is its version');
    }
}

test('a reader gets the snapshot, then every op with its version as id, from REST and WebSocket writers', async (t) => {
    const srv = await srvWith(t, { threads: 2 });
    await append(srv.port, 'live', 'hello');
    const s = await openEvents(srv.port, '/api/docs/live/events');
    t.after(() => s.close());
    assert.equal(s.status, 200);
    assert.equal(s.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(s.headers['cache-control'], 'no-store');
    const snap = await s.event('snapshot');
    assert.deepEqual([snap.id, snap.json.v, snap.json.text], ['0', 1, 'hello']);

    await append(srv.port, 'live', ' world');
    const ws = await RpConn.open(srv.port);
    t.after(() => ws.close());
    ws.send({ type: 'open', doc: 'live' });
    await ws.type('snapshot');
    ws.send({ type: 'op', doc: 'live', v: 2, id: 'w:1', op: [11, '!'] });
    await ws.type('ack');
    const op2 = await s.event('op', 1);
    const op1 = s.events.find((e) => e.event === 'op');
    assert.deepEqual([op1.id, op1.json.op], ['1', [5, ' world']]);
    assert.deepEqual([op2.id, op2.json.op, op2.json.id], ['2', [11, '!'], 'w:1']);
    checkEvents(s);
});

test('Last-Event-ID and ?from= resume without a gap; too old or ahead is refused before the stream', async (t) => {
    const srv = await srvWith(t, { historyDepth: 5 });
    for (let i = 0; i < 3; i++) await append(srv.port, 'r', `${i}`);
    let s = await openEvents(srv.port, '/api/docs/r/events?from=1');
    await s.event('synced');
    assert.deepEqual(s.events.map((e) => [e.event, e.id]), [['op', '1'], ['op', '2'], ['synced', null]]);
    s.close();
    const last = s.lastEventId;
    assert.equal(last, '2');
    // ops made while the reader was away arrive on resume, in order, none twice
    for (let i = 3; i < 6; i++) await append(srv.port, 'r', `${i}`);
    s = await openEvents(srv.port, '/api/docs/r/events', { 'last-event-id': last });
    t.after(() => s.close());
    await s.event('synced');
    await append(srv.port, 'r', '6');
    await s.event('op', 3);
    assert.deepEqual(s.events.map((e) => [e.event, e.id]), [['op', '3'], ['op', '4'], ['op', '5'], ['synced', null], ['op', '6']]);
    checkEvents(s);

    for (let i = 7; i < 30; i++) await append(srv.port, 'r', '.');
    let r = await openEvents(srv.port, '/api/docs/r/events?from=0');
    assert.equal(r.status, 410);
    assert.equal(r.json.code, 'version_too_old');
    assert.ok(errorBody(r.json));
    r = await openEvents(srv.port, '/api/docs/r/events', { 'last-event-id': '0' });
    assert.equal(r.status, 410, 'an id older than the history');
    r = await openEvents(srv.port, '/api/docs/r/events?from=999');
    assert.equal(r.status, 409);
    assert.equal(r.json.code, 'version_ahead');
    r = await openEvents(srv.port, '/api/docs/r/events', { 'last-event-id': 'abc' });
    assert.equal(r.status, 400);
    assert.equal(r.json.message, 'Last-Event-ID must be the version of an event');
    r = await openEvents(srv.port, '/api/docs/r/events?v=1');
    assert.equal(r.status, 400);
    assert.equal(r.json.code, 'unknown_parameter');
    r = await openEvents(srv.port, '/api/docs/missing/events');
    assert.equal(r.status, 404);
    assert.equal(r.json.code, 'not_found');
    assert.equal((await httpJson(srv.port, 'GET', '/api/docs/missing')).status, 404, 'a stream never creates a document');
});

test('heartbeat comments while quiet; a delete ends the stream with not_open', async (t) => {
    const srv = await srvWith(t, { pingIntervalMs: 200, idleTimeoutMs: 600 });
    await append(srv.port, 'hb', 'x');
    const s = await openEvents(srv.port, '/api/docs/hb/events');
    t.after(() => s.close());
    await s.event('snapshot');
    await s.until((x) => x.comments.length >= 4, 5000, 'four heartbeats');
    assert.ok(s.comments.every((c) => c === 'ping'));
    assert.equal(s.ended, false, 'heartbeats keep the stream past --idle-timeout-ms');
    await httpJson(srv.port, 'DELETE', '/api/docs/hb');
    const err = await s.event('error');
    assert.equal(err.json.code, 'not_open');
    assert.equal(err.json.ref, 'hb');
    await s.until((x) => x.ended, 5000, 'the end of the stream');
});

test('the same auth as a WebSocket reader: a token with a read grant', async (t) => {
    const srv = await srvWith(t, { authSecret: SECRET });
    const writer = mintToken(SECRET, { sub: 'svc', exp: nowS() + 600, docs: [{ pattern: '*', role: 'write' }] });
    const reader = mintToken(SECRET, { sub: 'ro', exp: nowS() + 600, docs: [{ pattern: 'team/*', role: 'read' }] });
    await append(srv.port, 'team/a', 'x', { token: writer });
    await append(srv.port, 'other', 'x', { token: writer });
    let r = await openEvents(srv.port, '/api/docs/team/a/events');
    assert.equal(r.status, 401);
    assert.equal(r.json.code, 'unauthorized');
    r = await openEvents(srv.port, '/api/docs/team/a/events', { authorization: `Bearer ${reader.slice(0, -3)}xyz` });
    assert.equal(r.status, 401);
    r = await openEvents(srv.port, '/api/docs/other/events', { authorization: `Bearer ${reader}` });
    assert.equal(r.status, 403);
    assert.equal(r.json.code, 'forbidden');
    const s = await openEvents(srv.port, '/api/docs/team/a/events', { authorization: `Bearer ${reader}` });
    t.after(() => s.close());
    assert.equal(s.status, 200);
    await s.event('snapshot');
    await append(srv.port, 'team/a', 'y', { token: writer });
    assert.equal((await s.event('op')).json.by, 'svc');
});

test('curl -N streams the events as they happen', async (t) => {
    const srv = await srvWith(t);
    await append(srv.port, 'c', 'a');
    const curl = spawn('curl', ['-sN', `http://127.0.0.1:${srv.port}/api/docs/c/events`], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => curl.kill());
    let out = '';
    curl.stdout.on('data', (d) => { out += d; });
    const waitFor = async (re) => {
        for (let i = 0; i < 100 && !re.test(out); i++) await sleep(50);
        assert.match(out, re);
    };
    await waitFor(/event: snapshot\nid: 0\ndata: \{"type":"snapshot","doc":"c","v":1,"text":"a","peers":\[\]\}\n\n/);
    await append(srv.port, 'c', 'b');
    await waitFor(/event: op\nid: 1\ndata: \{"type":"op","doc":"c","v":1,"id":"[^"]+","op":\[1,"b"\],"by":"rest"\}\n\n/);
});

const OPS = 300;   // 19 MiB of events: past the kernel's socket buffers and the queue

test('a reader that stops reading is cut off at --max-send-queue-bytes with an error event, others keep going', async (t) => {
    // the cut-off stream waits (--close-timeout-ms) for its reader to take the last event
    const srv = await srvWith(t, { maxSendQueueBytes: '256k', maxMessageBytes: '1m', closeTimeoutMs: 60000, historyMemoryBytes: '64m' });
    await append(srv.port, 'big', 'a');
    const slow = await openEvents(srv.port, '/api/docs/big/events');
    t.after(() => slow.close());
    await slow.event('snapshot');
    slow.res.pause();
    slow.req.socket.pause();
    const fast = await openEvents(srv.port, '/api/docs/big/events');
    t.after(() => fast.close());
    await fast.event('snapshot');
    const chunk = (c) => c.repeat(64 * 1024);
    let v = 1;
    for (let i = 0; i < OPS; i++) {
        const r = await httpJson(srv.port, 'PUT', '/api/docs/big/text', { body: { text: chunk('xy'[i % 2]) } });
        assert.equal(r.status, 200, r.text);
        v = r.json.v;
        await fast.until((x) => x.lastEventId === String(v - 1) || x.ended, 10000, `fast reader at v${v}`);
        assert.equal(fast.ended, false, `the reader that keeps up is not cut off: ${fast.raw.slice(-300)}`);
    }
    slow.req.socket.resume();
    slow.res.resume();
    await slow.until((x) => x.ended, 15000, 'the slow reader cut off');
    const last = slow.events[slow.events.length - 1];
    assert.equal(last.event, 'error');
    assert.equal(last.json.code, 'slow_consumer');
    const ids = slow.events.filter((e) => e.event === 'op').map((e) => Number(e.id));
    assert.ok(ids.length < OPS, `the slow reader got ${ids.length} of ${OPS} ops before the cut`);
    ids.forEach((id, i) => assert.equal(id, i + 1, 'what it got has no gap'));
    assert.equal(fast.ended, false, 'the reader that keeps up is not affected');
    // a catch-up larger than the queue is cut off the same way, after the response head
    const behind = await openEvents(srv.port, '/api/docs/big/events', { 'last-event-id': slow.lastEventId || '0' });
    t.after(() => behind.close());
    assert.equal(behind.status, 200);
    await behind.until((x) => x.ended, 15000, 'the catch-up cut off');
    assert.equal(behind.events.at(-1).json.code, 'slow_consumer');
    // a reader a little behind catches up without a gap
    const near = await openEvents(srv.port, '/api/docs/big/events', { 'last-event-id': String(v - 3) });
    t.after(() => near.close());
    await near.event('synced', 0, 10000);
    assert.deepEqual(near.events.map((e) => e.id), [String(v - 2), String(v - 1), null]);
});
