// /metrics against a scripted session: every counter the session moves is
// checked for its exact value (the clients count what they sent and received),
// and every counter it must not move stays put.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startServer } from './lib/server.mjs';
import { RpConn } from './lib/rp-client.mjs';
import { scratchDir, until } from './lib/rp-util.mjs';
import { parseMetrics } from './lib/metrics.mjs';
import { buildRequest, connect, readResponse } from './lib/raw.mjs';

const OPS = 25;

/** Scrapes over one keep-alive connection, remembering the bytes each exchange moved. */
async function scraper(port) {
    const conn = await connect(port);
    return {
        conn,
        count: 0,
        async scrape() {
            this.count++;
            const req = buildRequest({ path: '/metrics' });
            const read0 = conn.socket.bytesRead;
            await conn.write(req);
            const res = await readResponse(conn);
            assert.equal(res.status, 200);
            const m = parseMetrics(res.text());
            m.requestBytes = req.length;
            m.read0 = read0;
            m.responseBytes = conn.socket.bytesRead - read0;
            m.value = (name, labels = {}) => {
                const s = m.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
                if (!s) throw new Error(`no sample ${name} ${JSON.stringify(labels)}`);
                return s.value;
            };
            return m;
        },
    };
}

function logBytes(dir) {
    let total = 0;
    const walk = (d) => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) walk(p);
            else if (/\.log$|^log/.test(e.name)) total += statSync(p).size;
        }
    };
    walk(dir);
    return total;
}

async function hello(port, name) {
    const c = await RpConn.open(port);
    c.sent = 0;
    const send = c.send.bind(c);
    c.send = (m) => { c.sent++; send(m); };
    c.send({ type: 'hello', name, color: '#336699' });
    c.session = (await c.type('welcome')).session;
    return c;
}

test('every counter matches a scripted session exactly', async (t) => {
    const dir = scratchDir(t);
    const srv = await startServer({ dataDir: dir, threads: 1, pingIntervalMs: 0, fsync: 'always' });
    t.after(() => srv.stop());
    const sc = await scraper(srv.port);
    t.after(() => sc.conn.destroy());
    const m0 = await sc.scrape();

    const a = await hello(srv.port, 'Alice');
    a.send({ type: 'open', doc: 'metrics/doc' });
    await a.type('snapshot');
    const b = await hello(srv.port, 'Bob');
    b.send({ type: 'open', doc: 'metrics/doc' });
    await b.type('snapshot');
    let text = '';
    for (let i = 0; i < OPS; i++) {
        a.send({ type: 'op', doc: 'metrics/doc', v: i, id: `a:${i}`, op: text.length ? [text.length, `${i % 10}`] : ['0'] });
        await a.type('ack', 5000, (m) => m.id === `a:${i}`);
        await b.type('op', 5000, (m) => m.id === `a:${i}`);
        text += `${i % 10}`;
    }
    // one op over REST, on a connection of its own
    const rest = await connect(srv.port);
    const body = JSON.stringify({ v: OPS, id: 'rest:1', op: [OPS, '!'] });
    const restReq = buildRequest({ method: 'POST', path: '/api/docs/metrics/doc/ops', headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' }, body });
    await rest.write(restReq);
    const restRes = await readResponse(rest);
    assert.equal(restRes.status, 200, restRes.text());
    await b.type('op', 5000, (m) => m.id === 'rest:1');
    await a.type('op', 5000, (m) => m.id === 'rest:1');
    assert.equal(await rest.closedWithin(3000), true, 'Connection: close was not honoured');
    const restBytesIn = rest.socket.bytesWritten;
    const restBytesOut = rest.socket.bytesRead;

    // gauges, refreshed by the owner's tick
    let mid;
    await until(async () => {
        mid = await sc.scrape();
        return mid.value('ringpad_document_subscribers') === 2;
    }, 3000, 'document_subscribers 2');
    assert.equal(mid.value('ringpad_documents_loaded'), 1);
    assert.ok(mid.value('ringpad_document_history_bytes') > (OPS + 1) * 2 * 16, `history bytes ${mid.value('ringpad_document_history_bytes')}`);

    const aClosed = a.closed, bClosed = b.closed;
    a.ws.close(1000);
    b.ws.close(1000);
    assert.equal((await aClosed).code, 1000);
    assert.equal((await bClosed).code, 1000);
    let m1;
    await until(async () => {
        m1 = await sc.scrape();
        return m1.value('ringpad_document_subscribers') === 0;
    }, 3000, 'document_subscribers back to 0');

    const d = (name, labels) => m1.value(name, labels) - m0.value(name, labels);
    // m0 counted its own request; every later scrape is one more request, and
    // a scrape's response is counted (and sent) only after it was rendered.
    const scrapeRequests = sc.count - 1;
    assert.equal(d('ringpad_http_requests_total'), 2 + 1 + scrapeRequests, 'two upgrades, one REST call, the scrapes');
    const clients = [a, b];
    const sent = clients.reduce((n, c) => n + c.sent, 0);
    const received = clients.reduce((n, c) => n + c.msgs.length, 0);

    assert.equal(d('ringpad_connections_accepted_total'), 3, 'two WebSockets and the REST connection');
    assert.equal(d('ringpad_connections_closed_total', { reason: 'ws_closed' }), 2);
    assert.equal(d('ringpad_connections_closed_total', { reason: 'http_done' }), 1);
    assert.equal(m1.value('ringpad_connections_open'), 1, 'only the scraper is left');
    assert.equal(d('ringpad_ws_upgrades_total'), 2);
    assert.equal(d('ringpad_http_responses_total', { class: '1xx' }), 2);
    assert.equal(d('ringpad_http_responses_total', { class: '2xx' }), 1 + scrapeRequests, 'REST and every scrape answered before m1');
    for (const c of ['3xx', '4xx', '5xx']) assert.equal(d('ringpad_http_responses_total', { class: c }), 0, c);
    assert.equal(d('ringpad_ws_messages_in_total'), sent);
    assert.equal(d('ringpad_ws_messages_out_total'), received);
    assert.equal(d('ringpad_ws_frames_in_total'), sent + 2, 'messages and two close frames');
    assert.equal(d('ringpad_ws_frames_out_total'), received + 2, 'messages and two close replies');
    assert.equal(d('ringpad_ws_close_frames_total', { direction: 'received', code: '1000' }), 2);
    assert.equal(d('ringpad_ws_close_frames_total', { direction: 'sent', code: '1000' }), 2);
    assert.equal(d('ringpad_ops_applied_total'), OPS + 1);
    assert.equal(d('ringpad_ack_latency_seconds_count'), OPS + 1);
    for (const s of m1.samples.filter((x) => x.name === 'ringpad_errors_total')) {
        assert.equal(d('ringpad_errors_total', s.labels), 0, `errors ${s.labels.kind}`);
    }
    // bytes: everything the clients wrote and read, plus the scrapes in the window
    const wsIn = clients.reduce((n, c) => n + c.ws._socket.bytesWritten, 0);
    const wsOut = clients.reduce((n, c) => n + c.ws._socket.bytesRead, 0);
    const scrapeIn = scrapeRequests * m0.requestBytes;
    assert.equal(d('ringpad_bytes_in_total'), wsIn + restBytesIn + scrapeIn);
    // every scrape response from m0's on was sent inside the window, except m1's own
    const scrapeOut = sc.conn.socket.bytesRead - m0.read0 - m1.responseBytes;
    assert.equal(d('ringpad_bytes_out_total'), wsOut + restBytesOut + scrapeOut);

    // storage: every op made durable by exactly one group commit, every appended byte in the log files
    assert.equal(d('ringpad_store_group_commit_ops_sum'), OPS + 1);
    const commits = d('ringpad_store_group_commit_ops_count');
    assert.ok(commits >= 1 && commits <= OPS + 1, `group commits ${commits}`);
    assert.equal(d('ringpad_store_fsync_seconds_count'), commits, 'one fsync per group commit (--fsync=always)');
    const onDisk = logBytes(dir);
    assert.ok(onDisk > (OPS + 1) * 8, `log files hold ${onDisk} bytes`);
    assert.equal(d('ringpad_store_append_bytes_total'), onDisk, 'appended bytes == log file bytes');
    assert.equal(m1.value('ringpad_documents_loaded'), 1, 'unloaded only after --doc-idle-ms');
});

test('a compaction is counted once it is done', async (t) => {
    const dir = scratchDir(t);
    const srv = await startServer({ dataDir: dir, threads: 1, historyDepth: 1 });
    t.after(() => srv.stop());
    const sc = await scraper(srv.port);
    t.after(() => sc.conn.destroy());
    const m0 = await sc.scrape();
    assert.equal(m0.value('ringpad_store_compactions_total', { result: 'done' }), 0);
    const a = await hello(srv.port, 'Alice');
    a.send({ type: 'open', doc: 'compact' });
    await a.type('snapshot');
    // history depth 1: the log is compacted once it holds 1 + 64 ops past the snapshot
    for (let i = 0; i < 70; i++) {
        a.send({ type: 'op', doc: 'compact', v: i, id: `c:${i}`, op: i ? [i, 'x'] : ['x'] });
        await a.type('ack', 5000, (m) => m.id === `c:${i}`);
    }
    let m1;
    await until(async () => {
        m1 = await sc.scrape();
        return m1.value('ringpad_store_compactions_total', { result: 'done' }) === 1;
    }, 5000, 'one compaction done');
    assert.equal(m1.value('ringpad_store_compactions_total', { result: 'failed' }), 0);
    a.close();
});

test('every metric the Grafana dashboard in dist/ queries is served by /metrics', async (t) => {
    const srv = await startServer({ dataDir: scratchDir(t), threads: 1 });
    t.after(() => srv.stop());
    const sc = await scraper(srv.port);
    t.after(() => sc.conn.destroy());
    const m = await sc.scrape();
    const served = new Set(m.samples.map((s) => s.name));
    const file = new URL('../../dist/grafana-dashboard.json', import.meta.url);
    const dash = JSON.parse(readFileSync(file, 'utf8'));
    const exprs = dash.panels.flatMap((p) => p.targets.map((x) => x.expr));
    assert.ok(exprs.length >= 20, `${exprs.length} queries`);
    const used = new Set(exprs.flatMap((e) => e.match(/ringpad_[a-z0-9_]+/g) ?? []));
    assert.ok(used.size >= 25, `${used.size} metric names`);
    for (const name of used) assert.ok(served.has(name), `the dashboard queries ${name}, which /metrics does not serve`);
});
