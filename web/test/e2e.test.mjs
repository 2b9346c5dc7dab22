// Browser end-to-end tests: the installed editor, served by the REAL ringpad
// binary on an ephemeral loopback port (a fresh server and data folder per
// test), in headless Chromium (Debian's /usr/bin/chromium through
// playwright-core, a fresh profile). Server truth is read over REST
// (GET /api/docs/{name}). Artefacts go to web/test-output/.
//
// Skipped when Chromium, playwright-core or the built server is missing
// (`./zigw build` first, or run through `./zigw build test`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { available, startRingpad, mintToken } from './ringpad_server.mjs';

const CHROMIUM = process.env.RINGPAD_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
const webDir = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(webDir, 'test-output');
const WAIT_MS = 10000;
const POLL_MS = 50;
const LATENCY_KEYSTROKES = 240;
const SECRET = 'e2e-secret-correct-horse-battery';

let chromium = null;
try { ({ chromium } = await import('playwright-core')); } catch { chromium = null; }
const skip = !existsSync(CHROMIUM) ? `no ${CHROMIUM}`
  : !chromium ? 'playwright-core not installed'
    : !available ? 'no built ringpad (run ./zigw build)' : false;

let browser;
const scratch = [];

before(async () => {
  if (skip) return;
  // launch() runs Chromium with a fresh temporary profile (--user-data-dir) of its own.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  mkdirSync(outDir, { recursive: true });
});

after(async () => {
  if (browser) await browser.close();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** A fresh server (and data folder) for one test; stopped by the test's `t.after`. */
async function serverFor(t, opts = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'ringpad-web-e2e-'));
  scratch.push(dataDir);
  const srv = await startRingpad({ dataDir, ...opts });
  const handle = { srv, dataDir, opts, token: opts.restToken || null };
  t.after(() => handle.srv.stop());
  return handle;
}

/** Stops the server and starts it again on the same port and data folder. */
async function restart(h) {
  await h.srv.stop();
  h.srv = await startRingpad({ dataDir: h.dataDir, ...h.opts, port: h.srv.port });
}

async function openPage(h, doc, { name, color, token, width = 900, height = 360 } = {}) {
  const ctx = await browser.newContext({ viewport: { width, height } });
  await ctx.addInitScript(([n, c]) => {
    localStorage.setItem('ringpad.name', n);
    localStorage.setItem('ringpad.color', c);
  }, [name, color]);
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(`${h.srv.url}/d/${doc}${token ? `#token=${token}` : ''}`);
  await page.waitForFunction(() => globalThis.ringpad?.client?.v != null && globalThis.ringpad.status.state === 'connected',
    null, { timeout: WAIT_MS });
  return page;
}

async function rest(h, path, init = {}) {
  const headers = { ...(init.headers || {}) };
  if (h.token) headers.Authorization = `Bearer ${h.token}`;
  let res, body;
  try {
    res = await fetch(`${h.srv.url}${path}`, { ...init, headers });
    body = await res.json();
  } catch (e) {
    throw new Error(`${init.method || 'GET'} ${path}: ${e.message} (${e.cause?.message})\n--- ringpad stderr ---\n${h.srv.stderr().slice(-3000)}`);
  }
  return { status: res.status, body };
}

async function serverDoc(h, doc) {
  const r = await rest(h, `/api/docs/${doc}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

const textOf = (page) => page.evaluate(() => globalThis.ringpad.view.state.doc.toString());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every page idle, with the server's text and version. */
async function converged(h, pages, doc) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const local = await Promise.all(pages.map((p) => p.evaluate(() => ({
      text: globalThis.ringpad.view.state.doc.toString(),
      v: globalThis.ringpad.client.v,
      pending: globalThis.ringpad.client.pending,
    }))));
    const server = await serverDoc(h, doc);
    if (local.every((l) => !l.pending && l.text === server.text && l.v === server.v)) return server.text;
    if (Date.now() > deadline) assert.fail(`no convergence: ${JSON.stringify({ local, server })}`);
    await sleep(POLL_MS);
  }
}

async function closeAll(...pages) {
  for (const p of pages) await p.context().close();
}

test('two pages type concurrently (ASCII, emoji, CJK), converge to the server\'s text, and show each other\'s cursors', { skip }, async (t) => {
  const h = await serverFor(t);
  const doc = 'e2e/concurrent';
  const a = await openPage(h, doc, { name: 'Alice', color: '#e91e63' });
  const b = await openPage(h, doc, { name: 'Bob', color: '#0288d1' });
  await a.click('.cm-content');
  await b.click('.cm-content');
  const pieces = ['Alice: hello 😀 中文 👩‍💻 ', 'Bob: 你好 🎉 e\u0301 ok '];
  await Promise.all([a.keyboard.type(pieces[0], { delay: 5 }), b.keyboard.type(pieces[1], { delay: 5 })]);
  const text = await converged(h, [a, b], doc);
  for (const piece of pieces) assert.ok(text.includes(piece), text);
  // A second round in the middle of each other's text.
  await a.keyboard.press('Home');
  await b.keyboard.press('End');
  await Promise.all([a.keyboard.type('[A 日本 🚀]', { delay: 5 }), b.keyboard.type('[B ✓ 한국어]', { delay: 5 })]);
  const text2 = await converged(h, [a, b], doc);
  assert.ok(text2.includes('[A 日本 🚀]') && text2.includes('[B ✓ 한국어]'), text2);
  assert.equal([...text2].length, (await rest(h, '/api/docs')).body.docs.find((d) => d.name === doc).codepoints);

  // Each page draws the other's caret (and selection) with its name; the artefact.
  await a.click('.cm-content');
  await a.keyboard.press('End');
  await b.keyboard.press('Home');
  for (let i = 0; i < 6; i++) await b.keyboard.press('Shift+ArrowRight');
  const peerRanges = (p) => p.evaluate(() => globalThis.ringpad.peers.map((x) => [x.name, x.ranges.map((r) => [r.anchor, r.head])]));
  const endU16 = text2.length;
  await a.waitForFunction(() => JSON.stringify(globalThis.ringpad.peers.map((x) => x.ranges.map((r) => [r.anchor, r.head])))
    === '[[[0,6]]]', null, { timeout: WAIT_MS }).catch(async () => assert.fail(`A sees ${JSON.stringify(await peerRanges(a))}`));
  await b.waitForFunction((end) => JSON.stringify(globalThis.ringpad.peers.map((x) => x.ranges.map((r) => [r.anchor, r.head])))
    === JSON.stringify([[[end, end]]]), endU16, { timeout: WAIT_MS }).catch(async () => assert.fail(`B sees ${JSON.stringify(await peerRanges(b))}`));
  assert.equal(await a.isVisible('.rp-remote-sel'), true);
  assert.equal(await a.textContent('.rp-remote-caret .rp-label'), 'Bob');
  assert.equal(await b.textContent('.rp-remote-caret .rp-label'), 'Alice');
  assert.equal(await a.textContent('#st-people'), '1 other person here');
  await a.screenshot({ path: join(outDir, 'two-collaborators.png') });
  await b.screenshot({ path: join(outDir, 'two-collaborators-b.png') });
  assert.deepEqual([...a.errors, ...b.errors], []);
  await closeAll(a, b);
});

test(`keystroke-to-remote-display latency over ${LATENCY_KEYSTROKES} keystrokes (recorded, not asserted)`, { skip }, async (t) => {
  const h = await serverFor(t);
  const doc = 'e2e/latency';
  const a = await openPage(h, doc, { name: 'Typist', color: '#43a047' });
  const b = await openPage(h, doc, { name: 'Watcher', color: '#f57c00' });
  // Both pages read the same machine clock: timeOrigin + now() in ms.
  await a.evaluate(() => {
    globalThis.keyAt = [];
    addEventListener('keydown', () => globalThis.keyAt.push(performance.timeOrigin + performance.now()), true);
  });
  await b.evaluate(() => {
    globalThis.shownAt = [];
    const v = globalThis.ringpad.view;
    new MutationObserver(() => {
      const t = performance.timeOrigin + performance.now();
      while (globalThis.shownAt.length < v.state.doc.length) globalThis.shownAt.push(t);
    }).observe(v.contentDOM, { subtree: true, childList: true, characterData: true });
  });
  await a.click('.cm-content');
  // A brisk typist: a key every 30 ms, whatever the network does.
  const keys = 'the quick brown fox jumps over the lazy dog '.repeat(6).slice(0, LATENCY_KEYSTROKES);
  await a.keyboard.type(keys, { delay: 30 });
  await converged(h, [a, b], doc);
  const keyAt = await a.evaluate(() => globalThis.keyAt);
  const shownAt = await b.evaluate(() => globalThis.shownAt);
  assert.equal(keyAt.length, LATENCY_KEYSTROKES);
  assert.equal(shownAt.length, LATENCY_KEYSTROKES);
  const ms = keyAt.map((k, i) => shownAt[i] - k).sort((x, y) => x - y);
  const pct = (p) => ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))];
  // The server's share: submit-to-ack (write + fdatasync included), from /metrics.
  const metrics = await (await fetch(`${h.srv.url}/metrics`)).text();
  const metric = (name) => Number((new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics) || [])[1]);
  const acks = metric('ringpad_ack_latency_seconds_count');
  const ackMeanMs = (metric('ringpad_ack_latency_seconds_sum') / acks) * 1000;
  const line = `keystroke-to-remote-display (real ringpad, loopback, headless Chromium, ${ms.length} keystrokes at 30 ms): `
    + `p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${ms[ms.length - 1].toFixed(1)} ms; `
    + `server submit-to-ack mean ${ackMeanMs.toFixed(2)} ms over ${acks} ops`;
  console.log(line);
  writeFileSync(join(outDir, 'latency.txt'), `${line}\n`);
  assert.ok(ms[0] >= 0, 'the remote page cannot show a key before it is pressed');
  await closeAll(a, b);
});

test('a page that loses the server keeps editing offline and nothing is lost after the server restarts', { skip }, async (t) => {
  const h = await serverFor(t);
  const doc = 'e2e/offline';
  const a = await openPage(h, doc, { name: 'Ann', color: '#43a047' });
  const b = await openPage(h, doc, { name: 'Ben', color: '#f57c00' });
  await a.click('.cm-content');
  await a.keyboard.type('before ');
  await converged(h, [a, b], doc);
  const port = h.srv.port;
  await h.srv.stop();
  await a.waitForFunction(() => globalThis.ringpad.status.state !== 'connected', null, { timeout: WAIT_MS });
  await b.waitForFunction(() => globalThis.ringpad.status.state !== 'connected', null, { timeout: WAIT_MS });
  await a.keyboard.type('offline 😀 edit ');
  await b.click('.cm-content');
  await b.keyboard.press('Control+Home');
  await b.keyboard.type('B-offline 中 ');
  assert.match(await a.textContent('#st-saved'), /kept/);
  await restart(h);
  assert.equal(h.srv.port, port);
  // The pages come back by themselves (backoff), and send what they kept.
  const text = await converged(h, [a, b], doc);
  assert.equal(text, 'B-offline 中 before offline 😀 edit ');
  assert.deepEqual([...a.errors, ...b.errors], []);
  await closeAll(a, b);
});

test('undo in one page removes only its own text, redo brings it back', { skip }, async (t) => {
  const h = await serverFor(t);
  const doc = 'e2e/undo';
  const a = await openPage(h, doc, { name: 'Ann', color: '#43a047' });
  const b = await openPage(h, doc, { name: 'Ben', color: '#f57c00' });
  await a.click('.cm-content');
  await a.keyboard.type('mine 😀 ');
  await converged(h, [a, b], doc);
  await b.click('.cm-content');
  await b.keyboard.press('Control+End');
  await b.keyboard.type('theirs 中文');
  await converged(h, [a, b], doc);
  await a.keyboard.press('Control+z');
  assert.equal(await converged(h, [a, b], doc), 'theirs 中文');
  await a.keyboard.press('Control+y');
  assert.equal(await converged(h, [a, b], doc), 'mine 😀 theirs 中文');
  await closeAll(a, b);
});

test('with auth on, a read-only token cannot edit and a write token can', { skip }, async (t) => {
  const writeToken = mintToken(SECRET, 'writer', ['e2e/*:write'], { name: 'Writer' });
  const readToken = mintToken(SECRET, 'reader', ['e2e/*:read'], { name: 'Reader' });
  const h = await serverFor(t, { authSecret: SECRET, restToken: writeToken });
  const doc = 'e2e/readonly';
  const w = await openPage(h, doc, { name: 'W', color: '#3f51b5', token: writeToken });
  await w.click('.cm-content');
  await w.keyboard.type('fixed text');
  await converged(h, [w], doc);
  const r = await openPage(h, doc, { name: 'R', color: '#6d4c41', token: readToken });
  assert.equal(await r.isVisible('#readonly-badge'), true);
  assert.equal(await r.evaluate(() => sessionStorage.getItem('ringpad.token') !== null && !location.hash.includes('token')), true);
  await r.click('.cm-content');
  await r.keyboard.type('nope');
  await r.keyboard.press('Control+z');
  await sleep(300);
  assert.equal(await textOf(r), 'fixed text');
  assert.equal(await converged(h, [w, r], doc), 'fixed text');
  // The reader still sees the writer's edits live.
  await w.keyboard.type('!');
  assert.equal(await converged(h, [w, r], doc), 'fixed text!');
  assert.deepEqual([...w.errors, ...r.errors], []);
  await closeAll(w, r);
});

test('with auth on, a page without a token asks for one and connects with it', { skip }, async (t) => {
  const token = mintToken(SECRET, 'late', ['e2e/*:write']);
  const h = await serverFor(t, { authSecret: SECRET, restToken: token });
  const ctx = await browser.newContext({ viewport: { width: 900, height: 360 } });
  await ctx.addInitScript(() => { localStorage.setItem('ringpad.name', 'Late'); localStorage.setItem('ringpad.color', '#00897b'); });
  const page = await ctx.newPage();
  await page.goto(`${h.srv.url}/d/e2e/asked`);
  await page.waitForSelector('#token-dialog[open]', { timeout: WAIT_MS });
  assert.match(await page.textContent('#token-reason'), /token/i);
  await page.fill('#token-input', token);
  await page.click('#token-dialog button');
  await page.waitForFunction(() => globalThis.ringpad.status.state === 'connected' && globalThis.ringpad.client.v != null,
    null, { timeout: WAIT_MS });
  await page.click('.cm-content');
  await page.keyboard.type('hi');
  assert.equal(await converged(h, [page], 'e2e/asked'), 'hi');
  await ctx.close();
});

test('the home page lists documents (version, size), pages through them and creates one at /d/<name>', { skip }, async (t) => {
  const h = await serverFor(t);
  const ctx = await browser.newContext({ viewport: { width: 900, height: 700 } });
  await ctx.addInitScript(() => { localStorage.setItem('ringpad.name', 'New'); localStorage.setItem('ringpad.color', '#5e35b1'); });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  // A new server: no documents (and no data folder) yet.
  await page.goto(`${h.srv.url}/`);
  await page.waitForFunction(() => document.getElementById('docs-status').textContent !== 'Loading…', null, { timeout: WAIT_MS });
  assert.equal(await page.textContent('#docs-status'), 'No documents yet: create one above.');
  const DOCS = 103; // more than one page of GET /api/docs (100 by default)
  for (let i = 0; i < DOCS; i++) {
    const name = `list/doc-${String(i).padStart(3, '0')}`;
    const r = await rest(h, `/api/docs/${name}/ops`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ v: 0, id: `seed:${i}`, op: [`text ${i} 😀`] }),
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  await page.reload();
  await page.waitForSelector('#docs tbody tr', { timeout: WAIT_MS });
  const first = await page.$$eval('#docs tbody tr', (rows) => rows.slice(0, 1).map((r) => [...r.cells].map((c) => c.textContent)));
  assert.deepEqual(first, [['list/doc-000', '1', '8']]);
  assert.equal(await page.$$eval('#docs tbody tr', (rows) => rows.length), 100);
  await page.click('#more');
  await page.waitForFunction((n) => document.querySelectorAll('#docs tbody tr').length === n, DOCS, { timeout: WAIT_MS });
  assert.equal(await page.isVisible('#more'), false);
  assert.equal(await page.getAttribute('#docs tbody tr a', 'href'), '/d/list/doc-000');
  await page.fill('#doc-name', 'fresh notes');
  await page.click('#open-form button');
  assert.match(await page.textContent('#name-error'), /Try "fresh-notes"/);
  await page.fill('#doc-name', 'fresh/notes');
  await page.click('#open-form button');
  await page.waitForURL(`${h.srv.url}/d/fresh/notes`, { timeout: WAIT_MS });
  await page.waitForFunction(() => globalThis.ringpad?.status.state === 'connected', null, { timeout: WAIT_MS });
  await page.click('.cm-content');
  await page.keyboard.type('new doc');
  assert.equal(await converged(h, [page], 'fresh/notes'), 'new doc');
  assert.deepEqual(page.errors, []);
  await ctx.close();
});

test('a 5 MB document stays responsive and a 1 MB paste reaches the other page', { skip, timeout: 60000 }, async (t) => {
  // A snapshot (or GET /api/docs/{name}) of a document over 4 MiB is one frame
  // bigger than the default --max-send-queue-bytes: the server then drops the
  // connection (1008 "slow consumer"; REST: closed without a response), so
  // this test raises the limit. Reported as a server issue.
  const h = await serverFor(t, { extraArgs: ['--max-send-queue-bytes', '16m'] });
  const doc = 'e2e/big';
  const a = await openPage(h, doc, { name: 'Ann', color: '#43a047' });
  const big = 'The quick brown fox 😀 jumps over the lazy dog 中文.\n'.repeat((5 * 1024 * 1024) / 56);
  // The client sends a large edit in pieces under max_op_bytes.
  await a.evaluate((text) => globalThis.ringpad.view.dispatch({ changes: { from: 0, insert: text }, userEvent: 'input.paste' }), big);
  await a.waitForFunction(() => !globalThis.ringpad.client.pending, null, { timeout: 30000 });
  const b = await openPage(h, doc, { name: 'Ben', color: '#f57c00' });
  await a.click('.cm-content');
  await a.keyboard.press('Control+End');
  const perKeyMs = await a.evaluate(() => {
    const v = globalThis.ringpad.view;
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) {
      const at = v.state.selection.main.head;
      v.dispatch({ changes: { from: at, insert: i % 10 ? 'x' : '😀' }, selection: { anchor: at + (i % 10 ? 1 : 2) }, userEvent: 'input.type' });
    }
    return (performance.now() - t0) / 200;
  });
  console.log(`5 MB document: ${perKeyMs.toFixed(2)} ms per keystroke (editor + OT client)`);
  const paste = 'pasted line with 👩‍💻 and é\n'.repeat(1024 * 1024 / 32);
  await a.evaluate((text) => globalThis.ringpad.view.dispatch({ changes: { from: 0, insert: text }, userEvent: 'input.paste' }), paste);
  const deadline = Date.now() + 30000;
  for (;;) {
    const [ta, tb] = await Promise.all([a, b].map((p) => p.evaluate(() => [globalThis.ringpad.view.state.doc.length, globalThis.ringpad.client.pending, globalThis.ringpad.client.v])));
    if (!ta[1] && ta[0] === tb[0] && ta[2] === tb[2]) break;
    if (Date.now() > deadline) assert.fail(`paste did not converge: ${JSON.stringify({ ta, tb })}`);
    await sleep(200);
  }
  const server = await serverDoc(h, doc);
  assert.ok(server.text.startsWith(paste));
  assert.equal(await textOf(b), server.text);
  assert.equal(await textOf(a), server.text);
  await closeAll(a, b);
});

test('a document deleted on the server (REST DELETE) turns the page read-only, keeps its text and says so', { skip }, async (t) => {
  const h = await serverFor(t);
  const doc = 'e2e/deleted';
  const a = await openPage(h, doc, { name: 'Ann', color: '#43a047' });
  await a.click('.cm-content');
  await a.keyboard.type('soon gone');
  await converged(h, [a], doc);
  const r = await rest(h, `/api/docs/${doc}`, { method: 'DELETE' });
  assert.deepEqual([r.status, r.body], [200, { deleted: true }]);
  await a.waitForSelector('.notice.error', { timeout: WAIT_MS });
  assert.match(await a.textContent('.notice.error'), /deleted on the server/);
  await a.keyboard.type(' more');
  assert.equal(await textOf(a), 'soon gone');
  // reading a deleted (missing) document does not create it again: 404 not_found (PROTOCOL.md §15)
  assert.equal((await rest(h, `/api/docs/${doc}`)).status, 404);
  assert.deepEqual(a.errors, []);
  await closeAll(a);
});

test('with auth on, a token without a grant for the document is told so in words and may paste another', { skip }, async (t) => {
  const other = mintToken(SECRET, 'fred', ['notes/*:write']);
  const good = mintToken(SECRET, 'fred', ['e2e/*:write']);
  const h = await serverFor(t, { authSecret: SECRET, restToken: good });
  const ctx = await browser.newContext({ viewport: { width: 900, height: 360 } });
  await ctx.addInitScript(() => { localStorage.setItem('ringpad.name', 'Fred'); localStorage.setItem('ringpad.color', '#00897b'); });
  const page = await ctx.newPage();
  await page.goto(`${h.srv.url}/d/e2e/locked#token=${other}`);
  await page.waitForSelector('.notice.error', { timeout: WAIT_MS });
  assert.match(await page.textContent('.notice.error'), /no access to “e2e\/locked”/);
  await page.click('.notice.error button:text("Use another token")');
  await page.fill('#token-input', good);
  await page.click('#token-dialog button');
  await page.waitForFunction(() => globalThis.ringpad?.client?.v != null, null, { timeout: WAIT_MS });
  await page.click('.cm-content');
  await page.keyboard.type('in');
  assert.equal(await converged(h, [page], 'e2e/locked'), 'in');
  await ctx.close();
});

test('offline past the server\'s history (version_too_old): the page re-opens and keeps its unsent edits', { skip }, async (t) => {
  const h = await serverFor(t, { extraArgs: ['--history-depth', '64'] });
  const doc = 'e2e/too-old';
  // Page A's WebSocket goes through a switch: cut it, and refuse new ones, at will.
  const ctx = await browser.newContext({ viewport: { width: 900, height: 360 } });
  await ctx.addInitScript(() => { localStorage.setItem('ringpad.name', 'Away'); localStorage.setItem('ringpad.color', '#d81b60'); });
  let blocked = false;
  let sawTooOld = false;
  const routes = [];
  await ctx.routeWebSocket(/\/ws$/, (ws) => {
    if (blocked) { ws.close({ code: 1011, reason: 'test: network down' }); return; }
    routes.push(ws);
    const server = ws.connectToServer();
    server.onMessage((m) => {
      if (typeof m === 'string' && m.includes('"version_too_old"')) sawTooOld = true;
      ws.send(m);
    });
  });
  const a = await ctx.newPage();
  a.errors = [];
  a.on('pageerror', (e) => a.errors.push(e.message));
  await a.goto(`${h.srv.url}/d/${doc}`);
  await a.waitForFunction(() => globalThis.ringpad?.client?.v != null && globalThis.ringpad.status.state === 'connected', null, { timeout: WAIT_MS });
  await a.click('.cm-content');
  await a.keyboard.type('base');
  await converged(h, [a], doc);
  blocked = true;
  for (const ws of routes.splice(0)) await ws.close({ code: 1006 });
  await a.waitForFunction(() => globalThis.ringpad.status.state !== 'connected', null, { timeout: WAIT_MS });
  await a.keyboard.type(' and mine 😀');
  // Meanwhile far more ops than the server keeps land before A's text.
  const OPS = 200;
  let v = (await serverDoc(h, doc)).v;
  let len = [...(await serverDoc(h, doc)).text].length;
  for (let i = 0; i < OPS; i++, v++, len++) {
    const r = await rest(h, `/api/docs/${doc}/ops`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ v, id: `rest:${i}`, op: ['x', len] }),
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  blocked = false;
  const text = await converged(h, [a], doc);
  assert.equal(text, `${'x'.repeat(OPS)}base and mine 😀`);
  assert.equal(sawTooOld, true, 'the server answered the re-open with version_too_old');
  assert.equal(await a.$$eval('.notice', (n) => n.length), 0, 'nothing was lost: nothing to tell');
  assert.deepEqual(a.errors, []);
  await ctx.close();
});

test('a connection cut with an op in flight: a lost ack comes back in the catch-up, a lost op is resent with its id; applied once', { skip }, async (t) => {
  const h = await serverFor(t);
  const doc = 'e2e/in-flight';
  const ctx = await browser.newContext({ viewport: { width: 900, height: 360 } });
  await ctx.addInitScript(() => { localStorage.setItem('ringpad.name', 'Flaky'); localStorage.setItem('ringpad.color', '#6d4c41'); });
  let cut = null; // 'ack': drop the next ack and cut; 'op': drop the next op and cut
  const seen = { acks: 0, ops: 0 };
  await ctx.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((m) => {
      if (cut === 'ack' && m.includes('"type":"ack"')) { cut = null; seen.acks++; ws.close({ code: 1006 }); server.close(); return; }
      ws.send(m);
    });
    ws.onMessage((m) => {
      if (cut === 'op' && m.includes('"type":"op"')) { cut = null; seen.ops++; ws.close({ code: 1006 }); server.close(); return; }
      server.send(m);
    });
  });
  const a = await ctx.newPage();
  a.errors = [];
  a.on('pageerror', (e) => a.errors.push(e.message));
  await a.goto(`${h.srv.url}/d/${doc}`);
  await a.waitForFunction(() => globalThis.ringpad?.client?.v != null && globalThis.ringpad.status.state === 'connected', null, { timeout: WAIT_MS });
  const b = await openPage(h, doc, { name: 'Steady', color: '#3f51b5' });
  await a.click('.cm-content');
  cut = 'ack';
  await a.keyboard.type('1');
  assert.equal(await converged(h, [a, b], doc), '1');
  cut = 'op';
  await a.keyboard.type('2');
  assert.equal(await converged(h, [a, b], doc), '12');
  assert.deepEqual(seen, { acks: 1, ops: 1 });
  const ops = await rest(h, `/api/docs/${doc}/ops?from=0`);
  assert.deepEqual(ops.body.ops.map((o) => o.op), [['1'], [1, '2']]);
  assert.equal(await a.$$eval('.notice', (n) => n.length), 0);
  assert.deepEqual([...a.errors, ...b.errors], []);
  await closeAll(a, b);
});

test('with auth on, the home page asks for a token and then lists what it grants', { skip }, async (t) => {
  const writer = mintToken(SECRET, 'w', ['*:write']);
  const reader = mintToken(SECRET, 'r', ['shared/*:read']);
  const h = await serverFor(t, { authSecret: SECRET, restToken: writer });
  for (const [i, name] of ['private/a', 'shared/b'].entries()) {
    const r = await rest(h, `/api/docs/${name}/ops`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ v: 0, id: `seed:${i}`, op: ['hi'] }),
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  const ctx = await browser.newContext({ viewport: { width: 900, height: 500 } });
  await ctx.addInitScript(() => { localStorage.setItem('ringpad.name', 'Lister'); localStorage.setItem('ringpad.color', '#0288d1'); });
  const page = await ctx.newPage();
  await page.goto(`${h.srv.url}/`);
  await page.waitForSelector('#token-form:not([hidden])', { timeout: WAIT_MS });
  assert.match(await page.textContent('#docs-status'), /needs an access token/);
  await page.fill('#list-token', reader);
  await page.click('#token-form button');
  await page.waitForSelector('#docs tbody tr', { timeout: WAIT_MS });
  assert.deepEqual(await page.$$eval('#docs tbody tr td:first-child', (c) => c.map((x) => x.textContent)), ['shared/b']);
  assert.equal(await page.isVisible('#token-form'), false);
  // The editor it links to uses the same token (sessionStorage): read-only.
  await page.click('#docs tbody tr a');
  await page.waitForFunction(() => globalThis.ringpad?.client?.v != null, null, { timeout: WAIT_MS });
  assert.equal(await page.isVisible('#readonly-badge'), true);
  await ctx.close();
});
