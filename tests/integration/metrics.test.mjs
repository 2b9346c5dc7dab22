// /metrics: well-formed Prometheus text whose counters move with traffic.
// Metric names are the server's choice; they are matched by what they must
// contain (accept, frames + in/out, open connections), so a rename that keeps
// the meaning keeps these tests green, and a counter that does not move fails.
import assert from 'node:assert/strict';
import { serverTest } from './lib/server.mjs';
import { closed, messages, openWs } from './lib/client.mjs';
import { names, scrape, sum } from './lib/metrics.mjs';

const MX = { flags: { enableEcho: true } };
const ACCEPTED = /accept/;
const FRAMES_IN = /frames?_(in|received|rx)|(in|received|rx)_frames?/;
const FRAMES_OUT = /frames?_(out|sent|tx)|(out|sent|tx)_frames?/;
const BYTES_IN = /bytes_(in|received|rx)|(in|received|rx)_bytes/;
const OPEN = /(open|active|current)_connections|connections_(open|active|current)/;

serverTest('/metrics is Prometheus text', {}, async (t, srv) => {
    const m = await scrape(srv.port);
    assert.match(m.res.headers['content-type'] ?? '', /^text\/plain\b/);
    assert.ok(m.samples.length >= 5, `only ${m.samples.length} samples`);
});

serverTest('metric names follow Prometheus conventions (ringpad_ prefix, counters end in _total)', {}, async (t, srv) => {
    const m = await scrape(srv.port);
    for (const s of m.samples) assert.match(s.name, /^ringpad_/, `metric ${s.name} lacks the ringpad_ prefix`);
    for (const [name, type] of m.types) {
        if (type === 'counter') assert.match(name, /_total$/, `counter ${name} should end in _total`);
    }
});

serverTest('accepted connections, frames and bytes counters move with traffic', MX, async (t, srv) => {
    const before = await scrape(srv.port);
    const ws = await openWs(t, srv.port);
    const inbox = messages(ws);
    for (let i = 0; i < 5; i++) ws.send(`count me ${i}`);
    for (let i = 0; i < 5; i++) await inbox.next();
    const after = await scrape(srv.port);
    const delta = (re) => sum(after, re) - sum(before, re);
    assert.ok(names(after, ACCEPTED).length, `no accept metric among ${after.samples.map((s) => s.name).join(' ')}`);
    assert.ok(delta(ACCEPTED) >= 2, `accepted moved by ${delta(ACCEPTED)} (names: ${names(after, ACCEPTED)})`);
    assert.ok(delta(FRAMES_IN) >= 5, `frames in moved by ${delta(FRAMES_IN)} (names: ${names(after, FRAMES_IN)})`);
    assert.ok(delta(FRAMES_OUT) >= 5, `frames out moved by ${delta(FRAMES_OUT)} (names: ${names(after, FRAMES_OUT)})`);
    assert.ok(delta(BYTES_IN) >= 5 * 'count me 0'.length, `bytes in moved by ${delta(BYTES_IN)}`);
});

serverTest('open connections gauge goes up and back down', MX, async (t, srv) => {
    const base = sum(await scrape(srv.port), OPEN);
    const a = await openWs(t, srv.port);
    const b = await openWs(t, srv.port);
    const during = await scrape(srv.port);
    assert.ok(names(during, OPEN).length, 'no open-connections gauge');
    assert.ok(sum(during, OPEN) >= base + 2, `open connections ${sum(during, OPEN)} with 2 more clients (was ${base})`);
    const closes = [closed(a), closed(b)];
    a.close(1000);
    b.close(1000);
    await Promise.all(closes);
    let now = Infinity;
    for (let i = 0; i < 40; i++) {
        now = sum(await scrape(srv.port), OPEN);
        if (now <= base) break;
        await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(now <= base, `open connections stuck at ${now} (base ${base})`);
});

serverTest('closes are counted by close code', MX, async (t, srv) => {
    const ws = await openWs(t, srv.port);
    const done = closed(ws);
    ws.close(4321, 'custom');
    await done;
    let found = 0;
    for (let i = 0; i < 40 && !found; i++) {
        found = sum(await scrape(srv.port), /close/, (labels) => Object.values(labels).includes('4321'));
        if (!found) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(found >= 1, 'no close metric with a 4321 label');
});
