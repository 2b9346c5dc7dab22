// Storage faults on a real full disk: a tiny tmpfs (needs root for mount;
// skipped otherwise). A failed write never acks; the op gets
// storage_unavailable, the document refuses ops, /healthz reports degraded;
// once space is back the retried write succeeds, the op is acked, and the
// document takes ops again.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startServer } from './lib/server.mjs';
import { RpConn } from './lib/rp-client.mjs';
import { until } from './lib/rp-util.mjs';

function tryMount(dir) {
    try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
        return true;
    } catch {
        return false;
    }
}

/** A 64 KiB tmpfs for this test, or null (skipped) when it cannot be
 * mounted. Servers started with fs.start() are stopped before the unmount. */
function tmpfsFor(t) {
    const base = mkdtempSync(path.join(tmpdir(), 'ringpad-tmpfs-'));
    const mnt = path.join(base, 'mnt');
    mkdirSync(mnt);
    const servers = [];
    // one hook, in order: servers, mount, folder
    t.after(async () => {
        for (const srv of servers) await srv.stop();
        try { execFileSync('umount', [mnt], { stdio: 'ignore' }); } catch { /* not mounted */ }
        rmSync(base, { recursive: true, force: true });
    });
    if (!tryMount(mnt)) {
        t.skip('cannot mount a tmpfs here (not root?)');
        return null;
    }
    return { mnt, start: async (flags) => { const srv = await startServer(flags); servers.push(srv); return srv; } };
}

async function health(port) {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`);
    return { status: r.status, text: await r.text() };
}

test('disk full: storage_unavailable, no ack, degraded health, recovery when space returns', { timeout: 30000 }, async (t) => {
    const fs = tmpfsFor(t);
    if (!fs) return;
    const { mnt } = fs;
    const dataDir = path.join(mnt, 'data');
    const srv = await fs.start({ dataDir });
    const c = await RpConn.open(srv.port);
    c.send({ type: 'open', doc: 'full' });
    await c.type('snapshot');
    // fill the file system, leaving a little room
    const filler = path.join(mnt, 'filler');
    try { writeFileSync(filler, Buffer.alloc(64 * 1024, 1)); } catch { /* ENOSPC: as full as it gets */ }
    rmSync(filler);
    writeFileSync(filler, Buffer.alloc(40 * 1024, 1));
    const chunk = 'x'.repeat(3000);
    let v = 0;
    let failedId = null;
    let len = 0;
    for (let i = 0; i < 20 && failedId === null; i++) {
        const id = `f:${i}`;
        c.send({ type: 'op', doc: 'full', v, id, op: len > 0 ? [len, chunk] : [chunk] });
        const m = await c.next((x) => (x.type === 'ack' || x.type === 'error') && (x.id === id || x.ref === id), 5000);
        if (m.type === 'ack') { v++; len += 3000; continue; }
        assert.equal(m.code, 'storage_unavailable');
        failedId = id;
    }
    assert.ok(failedId !== null, 'the disk filled up');
    const h = await health(srv.port);
    assert.equal(h.status, 503);
    assert.match(h.text, /degraded/);
    c.send({ type: 'op', doc: 'full', v: v + 1, id: 'g:1', op: [len + 3000, 'y'] });
    assert.equal((await c.error('storage_unavailable')).ref, 'g:1');
    // space returns: the retried write succeeds and the failed op is acked (it was applied)
    rmSync(filler);
    const ack = await c.next((x) => x.type === 'ack' && x.id === failedId, 5000, 'ack after recovery');
    assert.equal(ack.v, v);
    await until(async () => (await health(srv.port)).status === 200, 5000, 'healthy again');
    c.send({ type: 'op', doc: 'full', v: v + 1, id: 'g:2', op: [len + 3000, 'z'] });
    assert.equal((await c.type('ack', 5000, (m) => m.id === 'g:2')).v, v + 1);
    c.close();
});

test('a data dir that turns read-only at run time: loads fail naming the path, /healthz degraded until it is writable again', { timeout: 30000 }, async (t) => {
    const fs = tmpfsFor(t);
    if (!fs) return;
    const { mnt } = fs;
    const srv = await fs.start({ dataDir: mnt });
    assert.equal((await health(srv.port)).status, 200);
    execFileSync('mount', ['-o', 'remount,ro', mnt], { stdio: 'ignore' });
    const c = await RpConn.open(srv.port);
    c.send({ type: 'open', doc: 'later' });
    const e = await c.error('storage_unavailable');
    assert.equal(e.ref, 'later');
    const logged = new RegExp(`document later: cannot load from data dir ${mnt}: .*later: cannot open or create its directory: Read-only file system`);
    await until(() => logged.test(srv.stderr()), 5000, 'the load failure logged with the path');
    const h = await health(srv.port);
    assert.equal(h.status, 503);
    assert.match(h.text, /degraded/);
    execFileSync('mount', ['-o', 'remount,rw', mnt], { stdio: 'ignore' });
    c.send({ type: 'open', doc: 'later' });
    assert.equal((await c.type('snapshot')).v, 0);
    await until(async () => (await health(srv.port)).status === 200, 5000, 'healthy again');
    c.close();
});
