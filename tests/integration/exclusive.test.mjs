// One server per data dir and per port: a second ringpad on either is
// refused with a message naming the holder (pid, or port), and exits 1; a
// data dir the server cannot write is refused at startup, naming path and errno.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { BIN, WEB_ROOT, flagsToArgs, startServer } from './lib/server.mjs';
import { RpConn } from './lib/rp-client.mjs';
import { scratchDir } from './lib/rp-util.mjs';

const EXIT_WAIT_MS = 5000;

/** Runs ringpad expecting it to exit before listening: { code, stderr }. */
function runToExit(flags) {
    const args = flagsToArgs({ host: '127.0.0.1', port: 0, threads: 1, webRoot: WEB_ROOT, ...flags });
    const child = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c) => { stderr += c; });
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`ringpad ${args.join(' ')} did not exit within ${EXIT_WAIT_MS} ms:\n${stderr}`));
        }, EXIT_WAIT_MS);
        child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stderr }); });
    });
}

test('a second server on the same data dir is refused, naming the first one\'s pid', { timeout: 20000 }, async (t) => {
    const dir = scratchDir(t);
    const first = await startServer({ dataDir: dir });
    t.after(() => first.stop());
    const c = await RpConn.open(first.port);
    c.send({ type: 'open', doc: 'mine' });
    await c.type('snapshot');
    c.send({ type: 'op', doc: 'mine', v: 0, id: 'a:1', op: ['kept'] });
    await c.type('ack');
    c.close();

    const second = await runToExit({ dataDir: dir });
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`--data-dir ${dir} is in use by another ringpad \\(pid ${first.pid} holds`));
    assert.equal(readFileSync(path.join(dir, '%lock%'), 'utf8'), `${first.pid}\n`);
    // the first one is untouched and keeps serving
    const r = await fetch(`http://127.0.0.1:${first.port}/api/docs/mine`);
    assert.deepEqual(await r.json(), { v: 1, doc: 'mine', text: 'kept' });
    // once it stops, the lock is free again
    await first.stop();
    const third = await startServer({ dataDir: dir });
    t.after(() => third.stop());
    const r3 = await fetch(`http://127.0.0.1:${third.port}/api/docs/mine`);
    assert.equal((await r3.json()).text, 'kept');
});

test('a second server on a port another process serves is refused, naming the port', { timeout: 20000 }, async (t) => {
    const first = await startServer({ dataDir: scratchDir(t), threads: 2 });
    t.after(() => first.stop());
    const second = await runToExit({ dataDir: scratchDir(t), port: first.port });
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`port ${first.port} is already in use by another process`));
    // every request still reaches the first server
    for (let i = 0; i < 8; i++) assert.equal((await fetch(`http://127.0.0.1:${first.port}/healthz`)).status, 200);
});

test('a read-only data dir is refused at startup with its path and errno', { timeout: 20000 }, async (t) => {
    const base = mkdtempSync(path.join(tmpdir(), 'ringpad-ro-'));
    const dir = path.join(base, 'ro');
    mkdirSync(dir);
    // one hook, in order: unmount, then remove the folder
    t.after(() => {
        try { execFileSync('umount', [dir], { stdio: 'ignore' }); } catch { /* not mounted */ }
        rmSync(base, { recursive: true, force: true });
    });
    try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
    } catch {
        t.skip('cannot mount a tmpfs here (not root?)');
        return;
    }
    // a data dir a server used before (its lock file is there), now read-only
    const before = await startServer({ dataDir: dir });
    await before.stop();
    execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'ignore' });
    const res = await runToExit({ dataDir: dir });
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, new RegExp(`--data-dir ${dir} is not writable \\(creating a file: Read-only file system\\); refusing to start`));
    // never used before: not even a lock file can be made
    execFileSync('umount', [dir], { stdio: 'ignore' });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=16k', 'tmpfs', dir], { stdio: 'ignore' });
    const fresh = await runToExit({ dataDir: dir });
    assert.equal(fresh.code, 1, fresh.stderr);
    assert.match(fresh.stderr, new RegExp(`--data-dir ${dir}: cannot open its lock file: Read-only file system`));
});
