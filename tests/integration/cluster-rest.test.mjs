// Cluster mode's REST routes over the whole cluster (--redis, a real
// redis-server): the history older than a node's memory read from the Redis
// stream with its authors, the listing of every document of the cluster,
// DELETE, and /api/cluster's ownership as soon as a lease is taken or lost;
// retention by age of the stream, and the listing's backfill.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { startServerFor } from './lib/server.mjs';
import { RpConn, cpLen } from './lib/rp-client.mjs';
import { httpJson, scratchDir, until } from './lib/rp-util.mjs';
import { startRedis } from './lib/redis.mjs';

const LEASE_MS = 1000;

const node = startServerFor;

function nodeFlags(t, redis, nodeId, extra = {}) {
    return { dataDir: scratchDir(t), redis: redis.url, nodeId, leaseMs: LEASE_MS, ...extra };
}

/** A session that opened doc; its `by` (the session id in open mode). */
async function writer(port, doc) {
    const c = await RpConn.open(port);
    c.send({ type: 'hello', name: 'w' });
    const welcome = await c.type('welcome', 5000);
    c.send({ type: 'open', doc });
    const snap = await c.type('snapshot', 10000);
    return { c, by: welcome.session, v: snap.v };
}

const WORDS = ['日本', '😀', 'é', 'ab', '中文', '👩‍💻'];

test('cluster: /ops, /history, /authors and ?v= older than memory come from the Redis stream, with authors, on every node', { timeout: 60000 }, async (t) => {
    const redis = startRedis(t);
    // five ops in memory; a snapshot every 20 ops; 30 ops retained at least;
    // a 50 ms timer (a quarter of the close timeout), which writes the snapshots
    const extra = { historyDepth: 5, checkpointOps: 20, historyRetention: 30, closeTimeoutMs: 200 };
    const a = await node(t, nodeFlags(t, redis, 'a', extra));
    const texts = [''];
    const want = [];
    const halves = [await writer(a.port, 'h'), await writer(a.port, 'h')];
    const COUNT = 200, SPLIT = COUNT - 15;   // the second writer's ops are all retained
    for (let v = 0; v < COUNT; v++) {
        const w = halves[v < SPLIT ? 0 : 1];
        const word = WORDS[v % WORDS.length];
        const id = `h${v}`;
        const cur = texts[v];
        w.c.send({ type: 'op', doc: 'h', v, id, op: cur.length ? [cpLen(cur), word] : [word] });
        await w.c.type('ack', 5000, (m) => m.id === id);
        texts.push(cur + word);
        want.push({ v, id, by: w.by });
        // pauses let the timer write snapshots (and trim) along the way
        if (v % 10 === 9) await new Promise((r) => setTimeout(r, 120));
    }
    for (const w of halves) w.c.close();
    // the log was trimmed to a kept text: the base is the oldest retained version
    await until(() => Number(redis.cli('HGET', 'ringpad:{d:h}:base', 'version') || 0) > 0, 5000, 'the log trimmed');
    const oldest = Number(redis.cli('HGET', 'ringpad:{d:h}:base', 'version'));
    assert.ok(oldest > 0 && oldest <= COUNT - 30, `oldest retained v${oldest}`);
    assert.equal(redis.cli('HGET', 'ringpad:{d:h}:base', 'text'), texts[oldest]);
    assert.equal(Number(redis.cli('XLEN', 'ringpad:{d:h}:log')), COUNT - oldest);

    const b = await node(t, nodeFlags(t, redis, 'b', extra));
    for (const srv of [a, b]) {
        // /ops from the oldest retained version: every op, with its id and author
        let r = await httpJson(srv.port, 'GET', `/api/docs/h/ops?from=${oldest}`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.v, COUNT);
        assert.equal(r.json.to, COUNT);
        assert.deepEqual(r.json.ops.map((o) => ({ v: o.v, id: o.id, by: o.by })), want.slice(oldest));
        r = await httpJson(srv.port, 'GET', `/api/docs/h/ops?from=${oldest + 7}&to=${oldest + 9}`);
        assert.deepEqual(r.json.ops.map((o) => o.id), [`h${oldest + 7}`, `h${oldest + 8}`]);
        r = await httpJson(srv.port, 'GET', `/api/docs/h/ops?from=${oldest - 1}`);
        assert.equal(r.status, 410, r.text);
        assert.equal(r.json.code, 'version_too_old');
        // /history: from the oldest retained version, one session per author
        r = await httpJson(srv.port, 'GET', '/api/docs/h/history');
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.from, oldest);
        assert.equal(r.json.to, COUNT);
        assert.deepEqual(r.json.sessions.map((s) => [s.by, s.from, s.to, s.ops]),
            [[halves[0].by, oldest, SPLIT, SPLIT - oldest], [halves[1].by, SPLIT, COUNT, COUNT - SPLIT]]);
        // ?v=: the text at any retained version, rebuilt from the base and the stream
        for (const v of [oldest, oldest + 1, SPLIT + 3, COUNT - 6]) {
            r = await httpJson(srv.port, 'GET', `/api/docs/h?v=${v}`);
            assert.equal(r.status, 200, r.text);
            assert.equal(r.json.text, texts[v], `text at v${v}`);
        }
        r = await httpJson(srv.port, 'GET', `/api/docs/h?v=${oldest - 1}`);
        assert.equal(r.status, 410, r.text);
        // /authors: the text before the base has no author, then each writer's part
        r = await httpJson(srv.port, 'GET', `/api/docs/h/authors?v=${COUNT - 1}`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.text, texts[COUNT - 1]);
        assert.equal(r.json.base, oldest);
        const half = cpLen(texts[SPLIT]), start = cpLen(texts[oldest]);
        assert.deepEqual(r.json.spans, [
            { by: null, from: 0, to: start },
            { by: halves[0].by, from: start, to: half },
            { by: halves[1].by, from: half, to: cpLen(texts[COUNT - 1]) },
        ]);
    }
    // Redis down: the reads that need the stream say so; memory still answers
    await redis.kill();
    for (const path of [`/api/docs/h/ops?from=${oldest}`, '/api/docs/h/history', `/api/docs/h?v=${oldest + 1}`,
        '/api/docs/h/authors']) {
        const r = await httpJson(a.port, 'GET', path);
        assert.equal(r.status, 503, `${path}: ${r.text}`);
        assert.equal(r.json.code, 'storage_unavailable');
    }
    const r = await httpJson(a.port, 'GET', `/api/docs/h/ops?from=${COUNT - 2}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.ops.map((o) => o.id), [`h${COUNT - 2}`, `h${COUNT - 1}`]);
});

test('cluster: --history-retention by age trims the stream of ops older than the limit, down to a kept text', { timeout: 30000 }, async (t) => {
    const redis = startRedis(t);
    // ops older than a second may go; a snapshot every 5 ops; 5 ops in memory
    const extra = { historyDepth: 5, checkpointOps: 5, historyRetention: '1s', closeTimeoutMs: 200 };
    const a = await node(t, nodeFlags(t, redis, 'a', extra));
    const w = await writer(a.port, 'age');
    const texts = [''];
    const write = async (count) => {
        for (let i = 0; i < count; i++) {
            const v = texts.length - 1, cur = texts[v], word = WORDS[v % WORDS.length];
            w.c.send({ type: 'op', doc: 'age', v, id: `g${v}`, op: cur.length ? [cpLen(cur), word] : [word] });
            await w.c.type('ack', 5000, (m) => m.id === `g${v}`);
            texts.push(cur + word);
            // pauses let the timer write snapshots (and trim) along the way
            if (v % 5 === 4) await new Promise((r) => setTimeout(r, 120));
        }
    };
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    await write(10);
    // every op is younger than the limit: nothing goes, whatever the snapshots
    assert.equal(Number(redis.cli('XLEN', 'ringpad:{d:age}:log')), 10);
    assert.equal(redis.cli('HGET', 'ringpad:{d:age}:base', 'version'), '');
    await sleep(1300);
    await write(10);
    await sleep(1300);
    await write(10);
    const COUNT = 30;
    // the ops of the first phase are all older than the limit and gone (the cut is at a snapshot of
    // the second); the third phase's are younger and all kept
    await until(() => Number(redis.cli('HGET', 'ringpad:{d:age}:base', 'version') || 0) >= 10, 5000, 'the log trimmed');
    const oldest = Number(redis.cli('HGET', 'ringpad:{d:age}:base', 'version'));
    assert.ok(oldest >= 10 && oldest <= 20, `oldest retained v${oldest}`);
    assert.equal(redis.cli('HGET', 'ringpad:{d:age}:base', 'text'), texts[oldest]);
    assert.equal(Number(redis.cli('XLEN', 'ringpad:{d:age}:log')), COUNT - oldest);
    assert.equal(redis.cli('XRANGE', 'ringpad:{d:age}:log', '-', '+', 'COUNT', '1').split('\n')[0], `${oldest}-1`);
    assert.equal(redis.cli('HEXISTS', 'ringpad:{d:age}:ids', `g${oldest - 1}`), '0');
    assert.equal(redis.cli('HEXISTS', 'ringpad:{d:age}:ids', `g${oldest}`), '1');
    const b = await node(t, nodeFlags(t, redis, 'b', extra));
    for (const srv of [a, b]) {
        let r = await httpJson(srv.port, 'GET', `/api/docs/age/ops?from=${oldest}`);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json.ops.map((o) => o.id), texts.slice(oldest + 1).map((_, i) => `g${oldest + i}`));
        for (const v of [oldest, oldest + 1, 22, COUNT - 6]) {
            r = await httpJson(srv.port, 'GET', `/api/docs/age?v=${v}`);
            assert.equal(r.status, 200, r.text);
            assert.equal(r.json.text, texts[v], `text at v${v}`);
        }
        r = await httpJson(srv.port, 'GET', `/api/docs/age?v=${oldest - 1}`);
        assert.equal(r.status, 410, r.text);
        assert.equal(r.json.code, 'version_too_old');
        r = await httpJson(srv.port, 'GET', '/api/docs/age/history');
        assert.equal(r.status, 200, r.text);
        assert.deepEqual([r.json.from, r.json.to], [oldest, COUNT]);
    }
    w.c.close();
});

/** The workers of /api/cluster on port that own (or follow) doc. */
async function holders(port, doc, kind = 'owned') {
    const r = await httpJson(port, 'GET', '/api/cluster');
    assert.equal(r.status, 200, r.text);
    return r.json.workers.filter((w) => w[kind].includes(doc)).map((w) => w.worker);
}

test('cluster: /api/cluster shows a lease as soon as it is taken, on the node and soon on the others', { timeout: 30000 }, async (t) => {
    const redis = startRedis(t);
    // a long lease: the heartbeat alone (every third of it) would take 2 s to tell
    const a = await node(t, nodeFlags(t, redis, 'a', { leaseMs: 6000, shutdownGraceMs: 100 }));
    const b = await node(t, nodeFlags(t, redis, 'b', { leaseMs: 6000 }));
    await until(async () => (await httpJson(b.port, 'GET', '/api/cluster')).json?.workers?.length === 2, 5000, 'both nodes listed');
    const w = await writer(a.port, 'own');
    // on the owner at once: its own entry is shown as it is now
    assert.deepEqual(await holders(a.port, 'own'), ['a#0']);
    const took = Date.now();
    await until(async () => (await holders(b.port, 'own')).length === 1, 1500, 'the other node sees the owner');
    const seenMs = Date.now() - took;
    assert.ok(seenMs < 1000, `seen on the other node after ${seenMs} ms`);
    // a follower shows itself following at once
    const f = await writer(b.port, 'own');
    assert.deepEqual(await holders(b.port, 'own', 'following'), ['b#0']);
    // the owner gone (its leases released at shutdown): the follower takes it, and says so
    w.c.close();
    await a.stop();
    await until(async () => (await holders(b.port, 'own')).includes('b#0'), 5000, 'b owns it');
    assert.deepEqual(await holders(b.port, 'own', 'following'), []);
    f.c.close();
});

test('cluster: GET /api/docs lists every document of the cluster, paged in byte order, from any node', { timeout: 30000 }, async (t) => {
    const redis = startRedis(t);
    const a = await node(t, nodeFlags(t, redis, 'a'));
    const b = await node(t, nodeFlags(t, redis, 'b'));
    const texts = { 'notes': 'héllo', 'b-2': '世界 😀', 'a-1': '', 'z': 'zz', 'Zeta': '日本語', 'dir/sub.txt': '👩‍💻!', '_x': 'x' };
    let i = 0;
    for (const [name, text] of Object.entries(texts)) {
        const srv = i++ % 2 ? b : a;
        const r = await httpJson(srv.port, 'PUT', `/api/docs/${name}/text`, { body: { text } });
        assert.equal(r.status, 200, r.text);
    }
    // a document opened (created) with no op yet is a document too
    const w = await writer(b.port, 'opened');
    texts.opened = '';
    const byBytes = (x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y));
    const names = Object.keys(texts).sort(byBytes);
    const want = names.map((name) => ({
        name, v: texts[name] === '' ? 0 : 1, codepoints: cpLen(texts[name]), bytes: Buffer.byteLength(texts[name]),
    }));
    // a node that serves none of them lists them all
    const c = await node(t, nodeFlags(t, redis, 'c'));
    await until(async () => (await httpJson(c.port, 'GET', '/api/cluster')).json?.redis === 'up', 5000, 'c reached Redis');
    let r = await httpJson(c.port, 'GET', '/api/docs');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.docs, want);
    assert.equal(r.json.next, undefined);
    // pages of 3: every document once, in order
    const seen = [];
    let after = '', pages = 0;
    for (;;) {
        r = await httpJson(a.port, 'GET', `/api/docs?limit=3${after ? `&after=${encodeURIComponent(after)}` : ''}`);
        assert.equal(r.status, 200, r.text);
        seen.push(...r.json.docs.map((d) => d.name));
        pages++;
        if (r.json.next === undefined) break;
        after = r.json.next;
    }
    assert.deepEqual(seen, names);
    assert.equal(pages, Math.ceil(names.length / 3));
    // a caller that leaves while the listing waits for Redis (paused): nothing is answered to it,
    // nothing is left behind, and the next caller is answered once Redis is back
    process.kill(redis.pid, 'SIGSTOP');
    try {
        const req = http.get({ host: '127.0.0.1', port: c.port, path: '/api/docs' });
        req.on('error', () => {});
        await new Promise((res) => setTimeout(res, 200));
        req.destroy();
        await new Promise((res) => setTimeout(res, 100));
    } finally {
        process.kill(redis.pid, 'SIGCONT');
    }
    r = await httpJson(c.port, 'GET', '/api/docs?limit=2');
    assert.deepEqual(r.json.docs.map((d) => d.name), names.slice(0, 2));
    // Redis down: the listing says so
    w.c.close();
    await redis.kill();
    r = await httpJson(c.port, 'GET', '/api/docs');
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.code, 'storage_unavailable');
});

test('cluster: documents written before the cluster\'s list existed are listed once a node starts', { timeout: 30000 }, async (t) => {
    const redis = startRedis(t);
    const a = await node(t, nodeFlags(t, redis, 'a'));
    // the first node on an empty Redis walks it at once and marks the list complete
    await until(() => redis.cli('GET', 'ringpad:{cluster}:listed') === '1', 5000, 'the list marked complete');
    for (const name of ['p1', 'dir/p2', 'gone']) {
        const r = await httpJson(a.port, 'PUT', `/api/docs/${name}/text`, { body: { text: `${name}!` } });
        assert.equal(r.status, 200, r.text);
    }
    assert.equal((await httpJson(a.port, 'DELETE', '/api/docs/gone')).status, 200);
    // as Redis was before the list: documents in it, no list, no mark; another cluster's document beside
    redis.cli('DEL', 'ringpad:{cluster}:docs', 'ringpad:{cluster}:listed');
    redis.cli('HSET', 'other:{d:x}:meta', 'version', '1');
    assert.deepEqual((await httpJson(a.port, 'GET', '/api/docs')).json.docs, []);
    const b = await node(t, nodeFlags(t, redis, 'b'));
    await until(() => redis.cli('GET', 'ringpad:{cluster}:listed') === '1', 5000, 'the list walked again');
    assert.equal(redis.cli('ZRANGE', 'ringpad:{cluster}:docs', '0', '-1'), 'dir/p2\np1');
    for (const srv of [a, b]) {
        const r = await httpJson(srv.port, 'GET', '/api/docs');
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json.docs.map((d) => [d.name, d.v, d.bytes]), [['dir/p2', 1, 7], ['p1', 1, 3]]);
    }
});

test('cluster: DELETE from any node tells every node\'s sessions, and a document created again under the name starts past the old versions', { timeout: 30000 }, async (t) => {
    const redis = startRedis(t);
    const a = await node(t, nodeFlags(t, redis, 'a'));
    const b = await node(t, nodeFlags(t, redis, 'b'));
    const c = await node(t, nodeFlags(t, redis, 'c'));
    const owner = await writer(a.port, 'del');
    for (let v = 0; v < 3; v++) {
        owner.c.send({ type: 'op', doc: 'del', v, id: `d${v}`, op: v ? [v, 'x'] : ['x'] });
        await owner.c.type('ack', 5000, (m) => m.id === `d${v}`);
    }
    const follower = await RpConn.open(b.port);
    follower.send({ type: 'open', doc: 'del' });
    assert.equal((await follower.type('snapshot', 10000, (m) => m.v === 3)).text, 'xxx');
    await until(async () => (await httpJson(c.port, 'GET', '/api/cluster')).json?.redis === 'up', 5000, 'c reached Redis');
    // c neither owns nor follows it: the deletion is in Redis, the others hear of it
    let r = await httpJson(c.port, 'DELETE', '/api/docs/del');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { deleted: true });
    for (const conn of [owner.c, follower]) {
        const err = await conn.next((m) => m.type === 'error', 5000);
        assert.equal(err.code, 'not_open', JSON.stringify(err));
        assert.equal(err.ref, 'del');
        assert.match(err.message, /deleted/);
    }
    for (const srv of [a, b, c]) {
        r = await httpJson(srv.port, 'GET', '/api/docs/del');
        assert.equal(r.status, 404, r.text);
    }
    assert.deepEqual((await httpJson(b.port, 'GET', '/api/docs')).json.docs, []);
    assert.equal(redis.cli('GET', 'ringpad:{d:del}:owner'), '');
    r = await httpJson(a.port, 'DELETE', '/api/docs/del');
    assert.deepEqual(r.json, { deleted: false });
    // created again: a new document, at a version no old client holds, with a history of its own
    r = await httpJson(b.port, 'PUT', '/api/docs/del/text', { body: { text: 'new' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.v, 5);   // versions 0..2 were ops, 3 the tombstone; 4 starts the new text
    r = await httpJson(a.port, 'GET', '/api/docs/del');
    assert.equal(r.json.text, 'new');
    r = await httpJson(a.port, 'GET', '/api/docs/del/ops?from=0');
    assert.equal(r.json.code, 'version_too_old');
    r = await httpJson(c.port, 'GET', '/api/docs/del/history');
    assert.deepEqual([r.json.from, r.json.to], [4, 5]);
    assert.deepEqual((await httpJson(c.port, 'GET', '/api/docs')).json.docs.map((d) => [d.name, d.v]), [['del', 5]]);
    // deleted on its owner (b made it again): its own session is told at once
    const again = await writer(b.port, 'del');
    r = await httpJson(b.port, 'DELETE', '/api/docs/del');
    assert.deepEqual(r.json, { deleted: true });
    const err = await again.c.next((m) => m.type === 'error', 5000);
    assert.equal(err.code, 'not_open', JSON.stringify(err));
    assert.equal((await httpJson(c.port, 'GET', '/api/docs/del')).status, 404);
    assert.equal(redis.cli('HGET', 'ringpad:{d:del}:meta', 'version'), '6');
    again.c.close();
    // Redis down: a clear error, nothing deleted
    await redis.kill();
    r = await httpJson(a.port, 'DELETE', '/api/docs/del');
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.code, 'storage_unavailable');
    owner.c.close();
    follower.close();
});
