// Webhooks: a real HTTP receiver in the test gets created / changed
// (debounced) / deleted notifications signed with HMAC-SHA256; a failing
// receiver gets them again with backoff; a restart keeps what is pending.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { BIN, sleep, startServer } from './lib/server.mjs';
import { httpJson, scratchDir, until } from './lib/rp-util.mjs';

const SECRET = 'webhook-secret-for-tests';

/** A server on a fresh data dir; the server stops before its dir is removed
 *  (its delivery thread writes the queue file until it stops). */
async function serve(t, flags) {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ringpad-hooks-'));
    const srv = await startServer({ dataDir, ...flags });
    t.after(async () => {
        await srv.stop();
        rmSync(dataDir, { recursive: true, force: true });
    });
    return srv;
}

/** A receiver that records every POST; `answer(req)` picks the status (or null: never answer). */
async function receiver(t, { port = 0, answer = () => 204 } = {}) {
    const got = [];
    const hanging = new Set();
    const server = http.createServer((req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (c) => { body += c; });
        req.on('end', () => {
            const entry = { method: req.method, url: req.url, headers: req.headers, body, json: JSON.parse(body) };
            const status = answer(entry, got.length);
            entry.status = status;
            got.push(entry);
            if (status === null) { hanging.add(res); return; }
            res.writeHead(status).end();
        });
    });
    await new Promise((r) => server.listen(port, '127.0.0.1', r));
    const close = () => new Promise((r) => { for (const res of hanging) res.destroy(); server.close(() => r()); server.closeAllConnections(); });
    t.after(close);
    return { got, port: server.address().port, url: `http://127.0.0.1:${server.address().port}/hook`, close };
}

const sign = (body) => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
const delivered = (r) => r.got.filter((g) => g.status >= 200 && g.status < 300);
const events = (r) => delivered(r).map((g) => [g.json.event, g.json.doc, g.json.v]);

test('created, changed (debounced) and deleted reach every URL, signed', async (t) => {
    const a = await receiver(t);
    const b = await receiver(t);
    const srv = await serve(t, { webhookUrl: [a.url, b.url], webhookSecret: SECRET, webhookDebounceMs: 300 });
    await httpJson(srv.port, 'PUT', '/api/docs/notes/w/text', { body: { text: 'one' } });
    for (let i = 0; i < 5; i++) await httpJson(srv.port, 'POST', '/api/docs/notes/w/append', { body: { text: '.' } });
    await until(() => events(a).some((e) => e[0] === 'changed' && e[2] === 6), 5000, 'the last change');
    await httpJson(srv.port, 'DELETE', '/api/docs/notes/w');
    await until(() => events(a).some((e) => e[0] === 'deleted') && events(b).some((e) => e[0] === 'deleted'), 5000, 'deleted');
    for (const r of [a, b]) {
        const ev = events(r);
        assert.deepEqual(ev[0], ['created', 'notes/w', 0]);
        assert.deepEqual(ev.at(-1), ['deleted', 'notes/w', 0]);
        const changed = ev.filter((e) => e[0] === 'changed');
        assert.ok(changed.length >= 1 && changed.length < 6, `6 writes within the debounce became ${changed.length} notification(s)`);
        assert.equal(changed.at(-1)[2], 6, 'the last change carries the last version');
        for (const g of r.got) {
            assert.equal(g.method, 'POST');
            assert.equal(g.url, '/hook');
            assert.equal(g.headers['content-type'], 'application/json');
            assert.equal(g.headers['x-ringpad-signature'], sign(g.body), 'HMAC-SHA256 of the raw body');
            assert.equal(g.headers['x-ringpad-event'], g.json.event);
            assert.equal(g.json.text, undefined, 'no text without --webhook-text');
        }
    }
    assert.notEqual(sign('{"forged":1}'), a.got[0].headers['x-ringpad-signature'], 'the signature depends on the body');
});

test('--webhook-text carries the text at v', async (t) => {
    const a = await receiver(t);
    const srv = await serve(t, { webhookUrl: a.url, webhookSecret: SECRET, webhookDebounceMs: 50, webhookText: true });
    await httpJson(srv.port, 'PUT', '/api/docs/t/text', { body: { text: 'héllo' } });
    await until(() => events(a).some((e) => e[0] === 'changed'), 5000, 'changed');
    const changed = delivered(a).find((g) => g.json.event === 'changed');
    assert.deepEqual(changed.json, { event: 'changed', doc: 't', v: 1, text: 'héllo' });
});

test('a failing receiver gets the notification again, with backoff, until it takes it', async (t) => {
    // the created notification: 500, 500, no answer (the POST times out), then 200
    let createdTries = 0;
    const a = await receiver(t, {
        answer: (e) => {
            if (e.json.event !== 'created') return 200;
            createdTries++;
            return createdTries <= 2 ? 500 : createdTries === 3 ? null : 200;
        },
    });
    const srv = await serve(t, { webhookUrl: a.url, webhookSecret: SECRET, webhookDebounceMs: 0 });
    await httpJson(srv.port, 'POST', '/api/docs/r/ops', { body: { v: 0, id: 'x', op: ['x'] } });
    await until(() => delivered(a).some((g) => g.json.event === 'created'), 20000, 'delivery after failures');
    const tries = a.got.filter((g) => g.json.event === 'created');
    assert.deepEqual(tries.map((g) => g.status).slice(0, 4), [500, 500, null, 200]);
    assert.ok(tries.every((g) => g.body === tries[0].body), 'the same notification each time');
    await until(() => events(a).some((e) => e[0] === 'changed'), 10000, 'changed after the created');
    assert.match(srv.stderr(), /webhooks: created r v0 to http:\/\/127\.0\.0\.1:\d+\/hook: status 5xx \(attempt 1\)/);
});

test('a restart does not drop a pending notification', async (t) => {
    const dataDir = scratchDir(t);
    const down = await receiver(t, { answer: () => 503 });
    const url = down.url;
    let srv = await startServer({ dataDir, webhookUrl: url, webhookSecret: SECRET, webhookDebounceMs: 0 });
    await httpJson(srv.port, 'PUT', '/api/docs/p/text', { body: { text: 'pending' } });
    const file = path.join(dataDir, '.webhooks.json');
    await until(() => existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).items.some((i) => i.event === 'changed' && i.v === 1),
        5000, 'the change in the queue file');
    await until(() => down.got.some((g) => g.json.event === 'changed'), 5000, 'a failed attempt');
    await srv.stop();
    await down.close();
    const up = await receiver(t, { port: down.port });
    srv = await startServer({ dataDir, webhookUrl: url, webhookSecret: SECRET, webhookDebounceMs: 0 });
    t.after(() => srv.stop());
    await until(() => events(up).some((e) => e[0] === 'changed' && e[1] === 'p' && e[2] === 1), 5000, 'the pending change after the restart');
    assert.ok(events(up).some((e) => e[0] === 'created'), 'and the created');
    const g = delivered(up).find((x) => x.json.event === 'changed');
    assert.equal(g.headers['x-ringpad-signature'], sign(g.body));
    await until(() => JSON.parse(readFileSync(file, 'utf8')).items.length === 0, 5000, 'the queue emptied');
    await srv.stop();   // before the data dir goes: its delivery thread writes there
});

test('a bad --webhook-url stops the start with a message', () => {
    for (const [url, why] of [['https://x/h', /only http:\/\/ URLs/], ['http://:80/x', /host is empty/], ['http://h:8x/', /port must be digits/]]) {
        const r = spawnSync(BIN, ['--port', '0', '--data-dir', '/nonexistent-ringpad', '--webhook-url', url], { encoding: 'utf8', timeout: 5000 });
        assert.notEqual(r.status, 0, url);
        assert.match(r.stderr, why, url);
    }
});

test('writes and reads never wait for a receiver that hangs', async (t) => {
    const slow = await receiver(t, { answer: () => null });
    const srv = await serve(t, { webhookUrl: slow.url, webhookDebounceMs: 0 });
    const started = Date.now();
    for (let i = 0; i < 20; i++) {
        const r = await httpJson(srv.port, 'POST', `/api/docs/h${i}/append`, { body: { text: 'x' } });
        assert.equal(r.status, 200);
    }
    assert.ok(Date.now() - started < 3000, `20 writes took ${Date.now() - started} ms with a hanging receiver`);
    const stopping = Date.now();
    await srv.stop();
    assert.equal(srv.exitInfo.code, 0, 'a clean stop');
    assert.ok(Date.now() - stopping < 2000, 'the POST in flight does not hold the shutdown');
    await sleep(10);
});
