// Cluster mode (--redis): documents live in a real redis-server; a restart
// brings text and versions back from it, and after kill -9 of the owner a
// second node takes the document over once the lease has run out, with every
// acked op there exactly once at its acked version.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { startServerFor, within } from './lib/server.mjs';
import { RpConn, Editor, cpLen, typeAtEnds, collectThrown } from './lib/rp-client.mjs';
import { httpJson, scratchDir, until } from './lib/rp-util.mjs';
import { startRedis } from './lib/redis.mjs';

const LEASE_MS = 1000;

const node = startServerFor;

function nodeFlags(t, redis, nodeId) {
    return { dataDir: scratchDir(t), redis: redis.url, nodeId, leaseMs: LEASE_MS, historyDepth: 100000, checkpointOps: 1000000 };
}

/** Every op from version 0 (catch-up), and the version reached. */
async function catchUp(port, doc) {
    const c = await RpConn.open(port);
    c.send({ type: 'open', doc, v: 0 });
    const ops = [];
    const synced = await c.next((m) => { if (m.type === 'op') ops.push(m); return m.type === 'synced' || m.type === 'error'; }, 15000);
    c.close();
    assert.equal(synced.type, 'synced', JSON.stringify(synced));
    return { ops, v: synced.v };
}

/** Appends "!" with `id`, resending by id on storage_unavailable, until acked. */
async function writeUntilAcked(port, doc, id, ms = 15000) {
    const c = await RpConn.open(port);
    try {
        c.send({ type: 'open', doc });
        const snap = await c.type('snapshot', 10000);
        const end = Date.now() + ms;
        while (Date.now() < end) {
            c.send({ type: 'op', doc, v: snap.v, id, op: snap.text.length ? [cpLen(snap.text), '!'] : ['!'] });
            const m = await c.next((x) => (x.type === 'ack' && x.id === id) || (x.type === 'error' && x.ref === id), 10000);
            if (m.type === 'ack') return m;
            assert.equal(m.code, 'storage_unavailable', JSON.stringify(m));
            await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`${id} not acked within ${ms} ms`);
    } finally {
        c.close();
    }
}

test('cluster: ops are in Redis, and a restarted node has the text and versions back', { timeout: 60000 }, async (t) => {
    const redis = startRedis(t);
    const flags = nodeFlags(t, redis, 'n1');
    const srv = await node(t, flags);
    const c = await RpConn.open(srv.port);
    c.send({ type: 'open', doc: 'r' });
    await c.type('snapshot', 10000);
    const texts = ['héllo ', '世界 ', '👩‍💻 ', 'end'];
    let text = '';
    for (let v = 0; v < texts.length; v++) {
        c.send({ type: 'op', doc: 'r', v, id: `r:${v}`, op: v === 0 ? [texts[v]] : [cpLen(text), texts[v]] });
        const ack = await c.type('ack', 5000, (m) => m.id === `r:${v}`);
        assert.equal(ack.v, v);
        text += texts[v];
    }
    c.close();
    // acked means in Redis: the log holds every op, meta the version
    assert.equal(redis.cli('XLEN', 'ringpad:{d:r}:log'), '4');
    assert.equal(redis.cli('HGET', 'ringpad:{d:r}:meta', 'version'), '4');
    await srv.stop();
    // the data dir is not where the document is: a new one, same Redis
    const again = await node(t, { ...flags, dataDir: scratchDir(t) });
    const r = await httpJson(again.port, 'GET', '/api/docs/r');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.v, 4);
    assert.equal(r.json.text, text);
    const { ops, v } = await catchUp(again.port, 'r');
    assert.equal(v, 4);
    assert.deepEqual(ops.map((m) => [m.v, m.id]), [[0, 'r:0'], [1, 'r:1'], [2, 'r:2'], [3, 'r:3']]);
    // a resend of an acked op is acked at its version, not applied again
    const c2 = await RpConn.open(again.port);
    c2.send({ type: 'open', doc: 'r' });
    await c2.type('snapshot', 10000);
    c2.send({ type: 'op', doc: 'r', v: 1, id: 'r:2', op: [1, 'x'] });
    assert.equal((await c2.type('ack', 5000, (m) => m.id === 'r:2')).v, 2);
    c2.close();
});

test('cluster: kill -9 of the owner, a second node takes over after the lease, every acked op once', { timeout: 90000 }, async (t) => {
    const redis = startRedis(t);
    const a = await node(t, nodeFlags(t, redis, 'a'));
    const eds = [];
    for (let i = 0; i < 3; i++) {
        const e = new Editor(a.port, 'fo', { name: `k${i}` });
        await e.connect();
        eds.push(e);
    }
    const thrown = collectThrown(t);
    await typeAtEnds(eds, 1500, { tail: '😀', pauseMs: 3 });
    a.signal('SIGKILL');
    const killedAt = Date.now();
    await a.exited;
    const acked = eds.flatMap((e) => e.acked);
    assert.ok(acked.length > 20, `acked ${acked.length} ops before the kill`);
    for (const e of eds) e.disconnect();
    const b = await node(t, nodeFlags(t, redis, 'b'));
    // the new node serves the document at once (it follows the log while the
    // dead owner's lease runs out), and every acked op is in it
    const { ops, v } = await catchUp(b.port, 'fo');
    assert.equal(v, ops.length, 'one op per version');
    assert.equal(redis.cli('HGET', 'ringpad:{d:fo}:meta', 'version'), String(v));
    const byId = new Map();
    for (const m of ops) byId.set(m.id, (byId.get(m.id) ?? []).concat(m.v));
    for (const ack of acked) {
        assert.deepEqual(byId.get(ack.id), [ack.v], `acked op ${ack.id} at v${ack.v}: in the log at ${byId.get(ack.id)}`);
    }
    // a write is acked once the new node owns it: resent by id while it cannot be
    const ack = await writeUntilAcked(b.port, 'fo', 'after');
    const failoverMs = Date.now() - killedAt;
    assert.equal(ack.v, v);
    assert.ok(failoverMs < LEASE_MS + 3000, `first ack on the new owner ${failoverMs} ms after kill -9`);
    assert.equal(redis.cli('GET', 'ringpad:{d:fo}:owner'), 'b#0:2');
    assert.deepEqual(thrown.map(String), []);
    console.log(`cluster failover: first ack on the new owner ${failoverMs} ms after kill -9 (lease ${LEASE_MS} ms)`);
});

test('cluster: three nodes, editors spread and reconnecting at random, converge on emoji and CJK text', { timeout: 120000 }, async (t) => {
    const redis = startRedis(t);
    const nodes = [];
    for (const id of ['a', 'b', 'c']) {
        const srv = await node(t, nodeFlags(t, redis, id));
        nodes.push(srv);
    }
    const thrown = collectThrown(t);
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const words = ['日本語', '😀', '한국어', 'é', '👩‍💻', 'abc', '中文 ', '🎉🎉'];
    const eds = [];
    for (let i = 0; i < 6; i++) {
        const e = new Editor(nodes[i % 3].port, 'three', { name: `e${i}` });
        await within(10000, e.connect(), `e${i} connects`);
        eds.push(e);
    }
    let reconnects = 0;
    const end = Date.now() + 3000;
    while (Date.now() < end) {
        for (const e of eds) {
            if (!e.ready) continue;
            if (rnd() < 0.02) {
                e.disconnect();
                e.port = nodes[Math.floor(rnd() * 3)].port;
                await within(10000, e.connect(), `${e.name} reconnects`);
                reconnects++;
                continue;
            }
            const n = cpLen(e.text);
            const at = Math.floor(rnd() * (n + 1));
            const w = words[Math.floor(rnd() * words.length)];
            if (n > 0 && rnd() < 0.3) {
                const del = Math.min(n - at, 1 + Math.floor(rnd() * 3));
                if (del > 0) { e.edit([...(at > 0 ? [at] : []), -del, ...(n - at - del > 0 ? [n - at - del] : [])]); continue; }
            }
            e.edit([...(at > 0 ? [at] : []), w, ...(n - at > 0 ? [n - at] : [])]);
        }
        await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => eds.every((e) => e.idle), 20000, 'every edit acked');
    const acked = eds.reduce((s, e) => s + e.acked.length, 0);
    const last = Math.max(...eds.map((e) => e.v));
    await until(() => eds.every((e) => e.v === last), 10000, 'every editor at the last version');
    const text = eds[0].text;
    for (const e of eds) assert.equal(e.text, text, `${e.name} converged`);
    assert.equal(last, acked, 'one version per acked op');
    for (const srv of nodes) {
        await until(async () => (await httpJson(srv.port, 'GET', '/api/docs/three')).json?.v === last, 10000, 'node caught up');
        const r = await httpJson(srv.port, 'GET', '/api/docs/three');
        assert.equal(r.json.text, text, `node on port ${srv.port} has the text`);
    }
    assert.ok(reconnects > 0 && acked > 50, `reconnects ${reconnects}, acked ${acked}`);
    // GET /api/cluster: every node's worker, one owner of the document, the others following it
    let view;
    await until(async () => {
        view = (await httpJson(nodes[1].port, 'GET', '/api/cluster')).json;
        return view?.workers?.length === 3 && view.workers.every((w) => w.count_owned + w.count_following === 1);
    }, 10000, 'the registry lists the three nodes');
    assert.equal(view.redis, 'up');
    assert.deepEqual(view.workers.map((w) => w.node).sort(), ['a', 'b', 'c']);
    const owners = view.workers.filter((w) => w.owned.includes('three'));
    assert.equal(owners.length, 1, JSON.stringify(view));
    // /metrics: the owner counts ops forwarded to it; every node, its Redis round trips
    const ownerNode = nodes[['a', 'b', 'c'].indexOf(owners[0].node)];
    const metrics = (await httpJson(ownerNode.port, 'GET', '/metrics')).text;
    assert.match(metrics, /^ringpad_cluster_owned_documents 1$/m);
    assert.match(metrics, /^ringpad_cluster_forwarded_ops_total\{direction="in"\} [1-9]\d*$/m);
    assert.match(metrics, /^ringpad_redis_rtt_seconds_count [1-9]\d*$/m);
    assert.match(metrics, /^ringpad_cluster_stream_lag_milliseconds \d+$/m);
    console.log(`cluster three nodes: ${acked} ops acked, ${reconnects} reconnects, text of ${cpLen(text)} code points`);
    assert.deepEqual(thrown.map(String), []);
    for (const e of eds) e.disconnect();
});

test('cluster: an owner paused past its lease cannot append when it wakes; its clients are told and reconnect', { timeout: 60000 }, async (t) => {
    const redis = startRedis(t);
    const a = await node(t, nodeFlags(t, redis, 'a'));
    const b = await node(t, nodeFlags(t, redis, 'b'));
    const ca = await RpConn.open(a.port);
    ca.send({ type: 'open', doc: 'st' });
    await ca.type('snapshot', 10000);
    ca.send({ type: 'op', doc: 'st', v: 0, id: 'a1', op: ['a1 '] });
    assert.equal((await ca.type('ack', 5000, (m) => m.id === 'a1')).v, 0);
    assert.match(redis.cli('GET', 'ringpad:{d:st}:owner'), /^a#0:/);
    a.signal('SIGSTOP');
    t.after(() => a.signal('SIGCONT'));
    // while it sleeps its lease runs out; the other node takes the document and writes
    const ack = await writeUntilAcked(b.port, 'st', 'b1');
    assert.equal(ack.v, 1);
    assert.match(redis.cli('GET', 'ringpad:{d:st}:owner'), /^b#0:/);
    // an op that reaches the paused owner is read only once it wakes
    ca.send({ type: 'op', doc: 'st', v: 1, id: 'stale', op: [3, 'x'] });
    await new Promise((r) => setTimeout(r, 100));
    a.signal('SIGCONT');
    const err = await ca.next((m) => m.type === 'error' || m.type === 'ack', 10000);
    assert.equal(err.type, 'error', JSON.stringify(err));
    assert.equal(err.code, 'storage_unavailable');
    await new Promise((r) => setTimeout(r, 500));
    // nothing of the stale owner landed: the log has a1 and b1 only
    assert.equal(redis.cli('HGET', 'ringpad:{d:st}:meta', 'version'), '2');
    assert.equal(redis.cli('XLEN', 'ringpad:{d:st}:log'), '2');
    // the client reconnects (to the node it knew) and resends by id: acked once
    ca.close();
    const again = await writeUntilAcked(a.port, 'st', 'stale');
    assert.equal(again.v, 2);
    assert.equal(redis.cli('HGET', 'ringpad:{d:st}:meta', 'version'), '3');
    assert.match(a.stderr(), /no longer owned here|lost/);
});

test('cluster: Redis down refuses writes (never an ack), serves reads, says degraded; kill -9 and restart with AOF loses no acked op', { timeout: 60000 }, async (t) => {
    const redis = startRedis(t);
    const a = await node(t, nodeFlags(t, redis, 'a'));
    await until(async () => (await httpJson(a.port, 'GET', '/healthz')).status === 200, 5000, 'healthy');
    const c = await RpConn.open(a.port);
    c.send({ type: 'open', doc: 'rd' });
    await c.type('snapshot', 10000);
    for (let v = 0; v < 5; v++) {
        c.send({ type: 'op', doc: 'rd', v, id: `rd${v}`, op: v === 0 ? ['0'] : [v, String(v)] });
        await c.type('ack', 5000, (m) => m.id === `rd${v}`);
    }
    await redis.kill();
    // a write: refused, not acked
    c.send({ type: 'op', doc: 'rd', v: 5, id: 'down', op: [5, 'X'] });
    const refused = await c.next((m) => (m.type === 'error' || m.type === 'ack') && m.id !== 'rd4' && (m.ref === 'down' || m.id === 'down'), 10000);
    assert.equal(refused.type, 'error', JSON.stringify(refused));
    assert.equal(refused.code, 'storage_unavailable');
    // reads keep working from memory
    const r = await httpJson(a.port, 'GET', '/api/docs/rd');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.text, '01234');
    const h = await httpJson(a.port, 'GET', '/healthz');
    assert.equal(h.status, 503);
    assert.match(h.text, /degraded: Redis unreachable/);
    // Redis comes back from its append-only file: every acked op is there
    await redis.restart();
    await until(async () => (await httpJson(a.port, 'GET', '/healthz')).status === 200, 10000, 'healthy again');
    assert.equal(redis.cli('HGET', 'ringpad:{d:rd}:meta', 'version'), '5');
    const ack = await writeUntilAcked(a.port, 'rd', 'down');
    assert.equal(ack.v, 5);
    assert.equal(redis.cli('XLEN', 'ringpad:{d:rd}:log'), '6');
    c.close();
});

test('cluster: presence and leaves reach the sessions on other nodes', { timeout: 30000 }, async (t) => {
    const redis = startRedis(t);
    const a = await node(t, nodeFlags(t, redis, 'a'));
    const b = await node(t, nodeFlags(t, redis, 'b'));
    const x = await RpConn.open(a.port);
    x.send({ type: 'hello', name: 'Xu' });
    x.send({ type: 'open', doc: 'pr' });
    await x.type('snapshot', 10000);
    x.send({ type: 'op', doc: 'pr', v: 0, id: 'p0', op: ['héllo 世界'] });
    await x.type('ack', 5000);
    const y = await RpConn.open(b.port);
    y.send({ type: 'hello', name: 'Yoko' });
    y.send({ type: 'open', doc: 'pr' });
    await y.type('snapshot', 10000, (m) => m.v === 1);
    // b follows a: its session's cursor reaches a's, and a's reaches b's
    await until(async () => /ringpad_cluster_followed_documents 1/.test((await httpJson(b.port, 'GET', '/metrics')).text), 5000, 'b follows');
    await new Promise((r) => setTimeout(r, 300));   // b's channel subscription is on its way
    y.send({ type: 'presence', doc: 'pr', v: 1, sel: [[7, 8]] });
    const px = await x.type('presence', 5000);
    assert.equal(px.name, 'Yoko');
    assert.deepEqual(px.sel, [[7, 8]]);
    x.send({ type: 'presence', doc: 'pr', v: 1, sel: [[2, 2]] });
    const py = await y.type('presence', 5000);
    assert.equal(py.name, 'Xu');
    assert.deepEqual(py.sel, [[2, 2]]);
    y.close();
    const leave = await x.type('leave', 5000);
    assert.equal(leave.session, px.session);
    x.close();
});

test('cluster: when the owner dies, the node that did not take over forwards to the one that did', { timeout: 60000 }, async (t) => {
    const redis = startRedis(t);
    const nodes = {};
    for (const id of ['a', 'b', 'c']) {
        nodes[id] = await node(t, nodeFlags(t, redis, id));
    }
    const w = await RpConn.open(nodes.a.port);
    w.send({ type: 'open', doc: 'oc' });
    await w.type('snapshot', 10000);
    w.send({ type: 'op', doc: 'oc', v: 0, id: 'oc0', op: ['0'] });
    await w.type('ack', 5000);
    for (const id of ['b', 'c']) {
        const c = await RpConn.open(nodes[id].port);
        c.send({ type: 'open', doc: 'oc' });
        await c.type('snapshot', 10000, (m) => m.v === 1);
        t.after(() => c.close());
    }
    nodes.a.signal('SIGKILL');
    const killed = Date.now();
    await nodes.a.exited;
    // one of b and c takes the lease; writes through both are acked soon after
    const ackB = await writeUntilAcked(nodes.b.port, 'oc', 'via-b');
    const ackC = await writeUntilAcked(nodes.c.port, 'oc', 'via-c');
    const took = Date.now() - killed;
    assert.deepEqual([ackB.v, ackC.v].sort(), [1, 2]);
    assert.ok(took < LEASE_MS + 3000, `both writes acked ${took} ms after the kill`);
    assert.match(redis.cli('GET', 'ringpad:{d:oc}:owner'), /^[bc]#0:2$/);
    w.terminate();
});

test('cluster: webhooks come from the owner only, once for the cluster', { timeout: 30000 }, async (t) => {
    const got = [];
    const hooks = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => { body += c; });
        req.on('end', () => { got.push(JSON.parse(body)); res.writeHead(204).end(); });
    });
    await new Promise((r) => hooks.listen(0, '127.0.0.1', r));
    t.after(() => new Promise((r) => { hooks.close(() => r()); hooks.closeAllConnections(); }));
    const url = `http://127.0.0.1:${hooks.address().port}/hook`;
    const redis = startRedis(t);
    const a = await node(t, { ...nodeFlags(t, redis, 'a'), webhookUrl: url, webhookDebounceMs: 100 });
    const b = await node(t, { ...nodeFlags(t, redis, 'b'), webhookUrl: url, webhookDebounceMs: 100 });
    assert.equal((await httpJson(a.port, 'PUT', '/api/docs/wh/text', { body: { text: 'one' } })).status, 200);
    // b follows and forwards its write; only a tells the webhooks
    assert.equal((await httpJson(b.port, 'POST', '/api/docs/wh/append', { body: { text: ' two' } })).status, 200);
    await until(() => got.some((e) => e.event === 'changed' && e.v === 2), 10000, 'the change at v2');
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(got.filter((e) => e.event === 'created').map((e) => e.doc), ['wh']);
    const changed = got.filter((e) => e.event === 'changed');
    assert.ok(changed.length >= 1 && changed.length <= 2, JSON.stringify(got));
    assert.equal(new Set(changed.map((e) => e.v)).size, changed.length, 'no version told twice');
});
