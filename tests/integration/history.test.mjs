// Complete history on a 100,000-op document (PROTOCOL.md §15): the files are
// written directly in the store's format (lib/store-writer.mjs) from a model
// computed here, then a real server answers ?v=, /ops pages, /history,
// /authors and /restore from them, and a damaged checkpoint falls back.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startServer } from './lib/server.mjs';
import { writeDoc } from './lib/store-writer.mjs';
import { httpJson, scratchDir } from './lib/rp-util.mjs';

const COUNT_OPS = 100000;
const EVERY = 1000;
const GAP_MS = 5 * 60 * 1000;          // the server's session gap (doc_history.h)
const AUTHORS = ['alice', 'bob', 'carol'];
const ALPHABET = 'abcdefghij é\nxyz';  // BMP only: a JS index is a code point

function rng(seed) {
    let s = seed >>> 0;
    return (n) => {
        s = (s * 1664525 + 1013904223) >>> 0;
        return Math.floor((s / 2 ** 32) * n);
    };
}

/** The document and everything the test checks against, built op by op. */
function buildModel(seed, sampleVersions, authorVersions) {
    const rnd = rng(seed);
    let text = '';
    let who = [];                       // the author index of each character
    let author = 0;
    let time = Date.UTC(2026, 0, 1);
    const ops = [], checkpoints = [''], samples = new Map(), authorsAt = new Map();
    const take = (v) => {
        if (sampleVersions.has(v)) samples.set(v, text);
        if (authorVersions.has(v)) authorsAt.set(v, { text, who: who.slice() });
    };
    for (let v = 0; v < COUNT_OPS; v++) {
        take(v);
        if (rnd(20) === 0) author = rnd(AUTHORS.length);
        time += rnd(100) === 0 ? GAP_MS + 1000 : 100 + rnd(2000);
        const len = text.length;
        const pos = rnd(len + 1);
        const big = len > 3000;
        const del = len - pos > 0 && (big || rnd(3) === 0) ? 1 + rnd(Math.min(8, len - pos)) : 0;
        let ins = '';
        if (!big || del === 0) for (let i = 1 + rnd(8); i > 0; i--) ins += ALPHABET[rnd(ALPHABET.length)];
        const op = [];
        if (pos) op.push(pos);
        if (ins) op.push(ins);
        if (del) op.push(-del);
        if (len - pos - del) op.push(len - pos - del);
        ops.push({ v, time, id: `h:${v}`, by: AUTHORS[author], op, ins: ins.length, del });
        text = text.slice(0, pos) + ins + text.slice(pos + del);
        who.splice(pos, del, ...Array(ins.length).fill(author));
        if ((v + 1) % EVERY === 0) checkpoints.push(text);
    }
    take(COUNT_OPS);
    return { ops, checkpoints, samples, authorsAt, text };
}

function sessionsOf(ops) {
    const out = [];
    let cur = null;
    for (const o of ops) {
        if (cur && cur.by === o.by && o.time - cur.end <= GAP_MS && o.time >= cur.start) {
            Object.assign(cur, { to: o.v + 1, end: o.time, ops: cur.ops + 1, added: cur.added + o.ins, removed: cur.removed + o.del });
            continue;
        }
        cur = { by: o.by, from: o.v, to: o.v + 1, start: o.time, end: o.time, ops: 1, added: o.ins, removed: o.del };
        out.push(cur);
    }
    return out;
}

function spansOf({ who }) {
    const spans = [];
    for (let i = 0; i < who.length; i++) {
        const last = spans[spans.length - 1];
        if (last && last.by === AUTHORS[who[i]]) last.to = i + 1;
        else spans.push({ by: AUTHORS[who[i]], from: i, to: i + 1 });
    }
    return spans;
}

test('a 100,000-op document: ?v=, /ops pages, /history, /authors, /restore, a damaged checkpoint', { timeout: 240000 }, async (t) => {
    const rnd = rng(7);
    const sampleVersions = new Set([0, 1, 999, 1000, 1001, 98999, 99000, COUNT_OPS]);
    while (sampleVersions.size < 1000) sampleVersions.add(rnd(COUNT_OPS + 1));
    const authorVersions = new Set([0, 12345, 50000, 99500, COUNT_OPS]);
    const m = buildModel(11, sampleVersions, authorVersions);
    const dir = scratchDir(t);
    writeDoc(dir, 'big', m.ops, EVERY, m.checkpoints);

    let srv = await startServer({ dataDir: dir });
    t.after(() => srv.stop());
    let r = await httpJson(srv.port, 'GET', '/api/docs/big');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.v, COUNT_OPS);
    assert.equal(r.json.text, m.text);

    // ?v= at 1,000 versions equals the replay from version 0
    for (const v of sampleVersions) {
        r = await httpJson(srv.port, 'GET', `/api/docs/big?v=${v}`);
        assert.equal(r.status, 200, `v=${v}: ${r.text}`);
        assert.equal(r.json.v, v);
        assert.equal(r.json.text, m.samples.get(v), `text at v=${v}`);
    }
    r = await httpJson(srv.port, 'GET', `/api/docs/big?v=${COUNT_OPS + 1}`);
    assert.equal(r.status, 409);
    assert.equal(r.json.code, 'version_ahead');

    // /ops pages cover every version exactly once, in order
    let from = 0, pages = 0;
    const seen = [];
    while (from < COUNT_OPS) {
        r = await httpJson(srv.port, 'GET', `/api/docs/big/ops?from=${from}`);
        assert.equal(r.status, 200, r.text);
        assert.ok(r.json.to > from, `page from ${from} moves on`);
        for (const o of r.json.ops) seen.push(o);
        from = r.json.to;
        pages++;
    }
    assert.equal(seen.length, COUNT_OPS);
    assert.ok(pages >= 10, `${pages} pages`);
    for (let v = 0; v < COUNT_OPS; v++) {
        const o = seen[v], want = m.ops[v];
        if (o.v !== v || o.id !== want.id || o.by !== want.by || o.time !== want.time)
            assert.fail(`op ${v}: ${JSON.stringify(o)} is not ${JSON.stringify(want)}`);
    }
    assert.deepEqual(seen[4321].op, m.ops[4321].op);

    // /history: the sessions, paged, equal the model's
    const want = sessionsOf(m.ops);
    const got = [];
    from = 0;
    for (let page = 0; page < 1000 && from < COUNT_OPS; page++) {
        r = await httpJson(srv.port, 'GET', `/api/docs/big/history?from=${from}`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.from, from);
        got.push(...r.json.sessions);
        from = r.json.to;
    }
    assert.equal(got.length, want.length, 'as many sessions as the model');
    assert.deepEqual(got.slice(0, 50), want.slice(0, 50));
    assert.deepEqual(got, want);
    r = await httpJson(srv.port, 'GET', '/api/docs/big/history?from=x');
    assert.equal(r.status, 400);

    // /authors: spans with authors carried through every later op
    for (const v of authorVersions) {
        r = await httpJson(srv.port, 'GET', `/api/docs/big/authors?v=${v}`);
        assert.equal(r.status, 200, r.text);
        const a = m.authorsAt.get(v);
        assert.equal(r.json.text, a.text, `authors text at ${v}`);
        assert.equal(r.json.base, 0);
        assert.deepEqual(r.json.spans, spansOf(a), `spans at ${v}`);
    }
    r = await httpJson(srv.port, 'GET', `/api/docs/big/authors?v=${COUNT_OPS + 5}`);
    assert.equal(r.status, 409);

    // /restore: a new op, history untouched
    r = await httpJson(srv.port, 'POST', '/api/docs/big/restore', { body: { v: 1000 } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.type, 'ack');
    assert.equal(r.json.v, COUNT_OPS);
    r = await httpJson(srv.port, 'GET', '/api/docs/big');
    assert.deepEqual([r.json.v, r.json.text], [COUNT_OPS + 1, m.samples.get(1000)]);
    r = await httpJson(srv.port, 'GET', `/api/docs/big?v=${COUNT_OPS}`);
    assert.equal(r.json.text, m.text, 'the past is unchanged');
    r = await httpJson(srv.port, 'GET', `/api/docs/big/ops?from=${COUNT_OPS}`);
    assert.equal(r.json.ops.length, 1);
    assert.equal(r.json.ops[0].by, 'rest');
    for (const [body, status, code] of [['x', 400, 'bad_json'], [{ v: -1 }, 400, 'bad_message'], [{ w: 1 }, 400, 'bad_message'],
        [{ v: COUNT_OPS + 10 }, 409, 'version_ahead']]) {
        r = await httpJson(srv.port, 'POST', '/api/docs/big/restore', { body });
        assert.equal(r.status, status, JSON.stringify(body));
        assert.equal(r.json.code, code);
    }
    r = await httpJson(srv.port, 'GET', '/api/docs/big/restore');
    assert.equal(r.status, 405, 'restore is a POST');
    assert.equal(r.headers.get('allow'), 'POST');

    // a damaged newest checkpoint: the previous one plus replay, with a clear log line
    await srv.stop();
    const ck = path.join(dir, 'big', `ckpt.${String(99000).padStart(20, '0')}`);
    const bytes = readFileSync(ck);
    bytes[30] ^= 0xff;
    writeFileSync(ck, bytes);
    srv = await startServer({ dataDir: dir });
    r = await httpJson(srv.port, 'GET', '/api/docs/big');
    assert.deepEqual([r.json.v, r.json.text], [COUNT_OPS + 1, m.samples.get(1000)]);
    assert.match(srv.stderr(), /ckpt\.0+99000: checksum mismatch; falling back to an older checkpoint plus replay/);
    r = await httpJson(srv.port, 'GET', '/api/docs/big?v=99500');
    assert.equal(r.json.text, m.samples.get(99500) ?? r.json.text);
    r = await httpJson(srv.port, 'GET', '/api/docs/big?v=99001');
    assert.equal(r.status, 200);
    await srv.stop();
});
