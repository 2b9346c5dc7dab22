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

const statusBar = (page) => page.evaluate(() => ({
  conn: document.getElementById('st-conn').textContent,
  saved: document.getElementById('st-saved').textContent,
  people: document.getElementById('st-people').textContent,
  live: document.querySelector('[role=status][aria-live=polite]#st-live').textContent,
}));
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
  // The status bar says so too, and keeps saying so (never "connected · all changes saved").
  await sleep(500);
  assert.deepEqual(await statusBar(a), { conn: 'document deleted', saved: 'not saved', people: '', live: 'Document deleted on the server: changes are no longer saved.' });
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
  assert.equal(await page.textContent('#st-conn'), 'no access to this document');
  await page.click('.notice.error button:text("Use another token")');
  await page.fill('#token-input', good);
  await page.click('#token-dialog button');
  await page.waitForFunction(() => globalThis.ringpad?.client?.v != null, null, { timeout: WAIT_MS });
  assert.equal(await page.textContent('#st-conn'), 'connected');
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

// ---- the editor for a new user: names, offline across reloads, tabs, status, looks ----

/**
 * A context whose WebSockets go through a switch: `down()` cuts every socket and
 * refuses new ones (the network is gone, the page itself still loads), `up()`
 * lets them through and tells the pages the network is back. `dropNextAck`
 * swallows the next ack and then goes down (the op reached the server, its
 * answer did not reach the page).
 */
async function switchedContext({ viewport = { width: 900, height: 360 }, colorScheme = 'light' } = {}) {
  const ctx = await browser.newContext({ viewport, colorScheme });
  const sw = { blocked: false, live: [], dropNextAck: false, acksDropped: 0 };
  sw.down = async () => {
    sw.blocked = true;
    for (const [ws, server] of sw.live.splice(0)) { await ws.close({ code: 1006 }); await server.close(); }
  };
  sw.up = async () => {
    sw.blocked = false;
    for (const p of ctx.pages()) await p.evaluate(() => dispatchEvent(new Event('online')));
  };
  await ctx.routeWebSocket(/\/ws$/, (ws) => {
    if (sw.blocked) { ws.close({ code: 1011, reason: 'test: network down' }); return; }
    const server = ws.connectToServer();
    sw.live.push([ws, server]);
    server.onMessage((m) => {
      if (sw.dropNextAck && typeof m === 'string' && m.includes('"type":"ack"')) {
        sw.dropNextAck = false;
        sw.acksDropped++;
        sw.down();
        return;
      }
      ws.send(m);
    });
    ws.onMessage((m) => server.send(m));
  });
  return { ctx, sw };
}

async function newPage(ctx, url) {
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  if (url) await page.goto(url);
  return page;
}

/** Closes a tab as a user does (pagehide runs) and waits until it is gone. */
async function closeTab(page) {
  const closed = new Promise((resolve) => page.once('close', resolve));
  await page.close({ runBeforeUnload: true });
  await closed;
}

const ready = (page) => page.waitForFunction(() => globalThis.ringpad?.client?.v != null && globalThis.ringpad.status.state === 'connected',
  null, { timeout: WAIT_MS });
const peerNames = (page) => page.evaluate(() => globalThis.ringpad.peers.map((p) => p.name));
/** Waits until the collaborator's name label is shown (opacity ~1) or faded (~0). */
const labelShown = (page, shown) => page.waitForFunction((want) => {
  const o = Number(getComputedStyle(document.querySelector('.rp-remote-caret .rp-label')).opacity);
  return want ? o > 0.9 : o < 0.05;
}, shown, { timeout: WAIT_MS });
const count = (haystack, needle) => haystack.split(needle).length - 1;

/** What the page's origin keeps of unsent edits: IndexedDB records and localStorage journals. */
const kept = (page) => page.evaluate(async () => {
  const db = await new Promise((resolve, reject) => { const q = indexedDB.open('ringpad', 1); q.onsuccess = () => resolve(q.result); q.onerror = () => reject(q.error); });
  const records = await new Promise((resolve) => { const q = db.transaction('pending').objectStore('pending').getAll(); q.onsuccess = () => resolve(q.result); });
  db.close();
  return { records: records.map((r) => [r.doc, r.slot]), journals: Object.keys(localStorage).filter((k) => k.startsWith('ringpad.unsent:')) };
});

test('a first visit types at once as "Guest NNNN", keeps that name across reloads and renames from the header with the keyboard', { skip }, async (t) => {
  const h = await serverFor(t);
  const doc = 'e2e/guest';
  const ctx = await browser.newContext({ viewport: { width: 900, height: 360 } });
  const page = await newPage(ctx, `${h.srv.url}/d/${doc}`);
  await ready(page);
  assert.equal(await page.evaluate(() => document.getElementById('identity-dialog').open), false, 'nobody is asked who they are');
  const guest = await page.textContent('#me-name');
  assert.match(guest, /^Guest \d{4}$/);
  await page.click('.cm-content');
  await page.keyboard.type('typed at once');
  assert.equal(await converged(h, [page], doc), 'typed at once');
  const other = await openPage(h, doc, { name: 'Watcher', color: '#f57c00' });
  await page.keyboard.press('End');
  await other.waitForFunction((n) => globalThis.ringpad.peers.some((p) => p.name === n), guest, { timeout: WAIT_MS });
  await page.reload();
  await ready(page);
  assert.equal(await page.textContent('#me-name'), guest, 'the same browser keeps its name');
  // Rename with the keyboard only: Tab to the name button, Enter, type, Enter.
  await page.focus('#copy-link');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'me');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#identity-dialog[open]', { timeout: WAIT_MS });
  await page.fill('#id-name', 'Zoë');
  await page.keyboard.press('Enter');
  // (the dialog's close event, which saves the name, comes a moment after it closes)
  await page.waitForFunction(() => document.getElementById('me-name').textContent === 'Zoë', null, { timeout: WAIT_MS });
  assert.equal(await page.evaluate(() => localStorage.getItem('ringpad.name')), 'Zoë');
  await ready(page);
  await page.click('.cm-content');
  await page.keyboard.press('End');
  await other.waitForFunction(() => globalThis.ringpad.peers.some((p) => p.name === 'Zoë'), null, { timeout: WAIT_MS });
  assert.ok(!(await peerNames(other)).includes(guest), 'the old name is gone');
  // Escape leaves the name as it was.
  await page.focus('#me');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#identity-dialog[open]', { timeout: WAIT_MS });
  await page.fill('#id-name', 'Not me');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.getElementById('identity-dialog').open, null, { timeout: WAIT_MS });
  await sleep(200);
  assert.equal(await page.textContent('#me-name'), 'Zoë');
  assert.equal(await page.evaluate(() => localStorage.getItem('ringpad.name')), 'Zoë');
  assert.deepEqual([...page.errors, ...other.errors], []);
  await ctx.close();
  await closeAll(other);
});

test('with a token that carries a name, the page shows the name everybody else sees', { skip }, async (t) => {
  const named = mintToken(SECRET, 'alice', ['e2e/*:write'], { name: 'Alice Token' });
  const plain = mintToken(SECRET, 'bob', ['e2e/*:write']);
  const h = await serverFor(t, { authSecret: SECRET, restToken: plain });
  const doc = 'e2e/token-name';
  const a = await openPage(h, doc, { name: 'Typed Name', color: '#e91e63', token: named });
  const b = await openPage(h, doc, { name: 'Bob', color: '#0288d1', token: plain });
  assert.equal(await a.textContent('#me-name'), 'Alice Token');
  assert.equal(await b.textContent('#me-name'), 'Bob');
  await a.click('.cm-content');
  await b.waitForFunction(() => globalThis.ringpad.peers.length === 1, null, { timeout: WAIT_MS });
  assert.deepEqual(await peerNames(b), ['Alice Token']);
  await a.click('#me');
  assert.equal(await a.isDisabled('#id-name'), true);
  assert.equal(await a.isVisible('#id-name-note'), true);
  await closeAll(a, b);
});

test('edits made offline survive a reload: shown again at once, sent on return, applied exactly once (also an op whose ack was lost)', { skip }, async (t) => {
  const h = await serverFor(t);
  const doc = 'e2e/reload-offline';
  const { ctx, sw } = await switchedContext();
  await ctx.addInitScript(() => { localStorage.setItem('ringpad.name', 'Reloader'); });
  const a = await newPage(ctx, `${h.srv.url}/d/${doc}`);
  await ready(a);
  await a.click('.cm-content');
  await a.keyboard.type('saved ');
  await converged(h, [a], doc);
  // The next op reaches the server but its ack is lost, and the network goes.
  sw.dropNextAck = true;
  await a.keyboard.type('sent-unacked ');
  await a.waitForFunction(() => globalThis.ringpad.status.state !== 'connected', null, { timeout: WAIT_MS });
  assert.equal(sw.acksDropped, 1);
  await a.keyboard.type('offline 😀 edit');
  await a.waitForFunction(() => document.getElementById('st-saved').textContent === 'unsaved changes, kept in this browser', null, { timeout: WAIT_MS });
  assert.equal(await a.textContent('#st-people'), 'others: unknown while disconnected');
  await a.reload();
  // Still offline: the page shows the kept text at once, and can be typed in.
  await a.waitForFunction(() => globalThis.ringpad?.client?.pending === true, null, { timeout: WAIT_MS });
  assert.equal(await textOf(a), 'saved sent-unacked offline 😀 edit');
  assert.match(await a.textContent('.notice'), /not sent yet: they are back/);
  await a.click('.cm-content');
  await a.keyboard.press('Control+End');
  await a.keyboard.type('!');
  await sw.up();
  const text = await converged(h, [a], doc);
  assert.equal(text, 'saved sent-unacked offline 😀 edit!');
  const ops = (await rest(h, `/api/docs/${doc}/ops?from=0`)).body.ops;
  assert.equal(new Set(ops.map((o) => o.id)).size, ops.length, 'every op id once');
  assert.equal(count(ops.map((o) => o.op.filter((c) => typeof c === 'string').join('')).join(''), 'sent-unacked'), 1);
  // Nothing is left kept: a second reload sends nothing again.
  await a.waitForFunction(() => document.getElementById('st-saved').textContent === 'all changes saved', null, { timeout: WAIT_MS });
  assert.deepEqual(await kept(a), { records: [], journals: [] });
  await a.reload();
  await ready(a);
  assert.equal(await a.evaluate(() => globalThis.ringpad.client.pending), false);
  assert.equal((await serverDoc(h, doc)).v, ops.length);
  assert.deepEqual(a.errors, []);
  await ctx.close();
});

test('two tabs of one document keep their own unsent edits: a reload takes back only its own, a closed tab\'s are sent once by the next tab', { skip }, async (t) => {
  const h = await serverFor(t);
  const doc = 'e2e/tabs';
  const { ctx, sw } = await switchedContext();
  const url = `${h.srv.url}/d/${doc}`;
  const a = await newPage(ctx, url);
  const b = await newPage(ctx, url);
  await ready(a);
  await ready(b);
  await a.click('.cm-content');
  await a.keyboard.type('base.');
  await converged(h, [a, b], doc);
  await sw.down();
  await a.waitForFunction(() => globalThis.ringpad.status.state !== 'connected', null, { timeout: WAIT_MS });
  await b.waitForFunction(() => globalThis.ringpad.status.state !== 'connected', null, { timeout: WAIT_MS });
  await a.keyboard.press('Control+End');
  await a.keyboard.type('[tab A]');
  await b.click('.cm-content');
  await b.keyboard.press('Control+Home');
  await b.keyboard.type('[tab B]');
  for (const p of [a, b]) {
    await p.waitForFunction(() => document.getElementById('st-saved').textContent === 'unsaved changes, kept in this browser', null, { timeout: WAIT_MS });
  }
  // A reloads: it gets its own edits back, never B's (B is still open with them).
  await a.reload();
  await a.waitForFunction(() => globalThis.ringpad?.client?.pending === true, null, { timeout: WAIT_MS });
  assert.equal(await textOf(a), 'base.[tab A]');
  // B is closed with its edits unsent; a new tab C takes them over.
  await closeTab(b);
  const c = await newPage(ctx, url);
  await c.waitForFunction(() => globalThis.ringpad?.client?.pending === true, null, { timeout: WAIT_MS });
  assert.equal(await textOf(c), '[tab B]base.');
  // A fourth tab finds nothing left to adopt.
  const d = await newPage(ctx, url);
  await d.waitForFunction(() => globalThis.ringpad?.client !== undefined && globalThis.ringpad.status.state !== 'connecting', null, { timeout: WAIT_MS });
  assert.equal(await d.evaluate(() => globalThis.ringpad.client.pending), false);
  await sw.up();
  const text = await converged(h, [a, c, d], doc);
  assert.equal(count(text, '[tab A]'), 1, text);
  assert.equal(count(text, '[tab B]'), 1, text);
  assert.equal(text.replace('[tab A]', '').replace('[tab B]', ''), 'base.');
  assert.deepEqual([...a.errors, ...b.errors, ...c.errors, ...d.errors], []);
  await ctx.close();
});

test('the browser going offline is said at once (collaborators unknown), and coming back reconnects', { skip }, async (t) => {
  const h = await serverFor(t);
  const doc = 'e2e/went-offline';
  const a = await openPage(h, doc, { name: 'Ann', color: '#43a047' });
  const b = await openPage(h, doc, { name: 'Ben', color: '#f57c00' });
  await a.click('.cm-content');
  await a.waitForFunction(() => document.getElementById('st-people').textContent === '1 other person here', null, { timeout: WAIT_MS });
  const t0 = Date.now();
  await a.context().setOffline(true);
  await a.waitForFunction(() => globalThis.ringpad.status.state === 'offline', null, { timeout: WAIT_MS });
  const tookMs = Date.now() - t0;
  assert.ok(tookMs < 3000, `offline noticed after ${tookMs} ms`);
  await a.keyboard.type('while offline');
  await a.waitForFunction(() => document.getElementById('st-saved').textContent === 'unsaved changes, kept in this browser', null, { timeout: WAIT_MS });
  assert.deepEqual(await statusBar(a), {
    conn: 'offline: your browser has no network', saved: 'unsaved changes, kept in this browser',
    people: 'others: unknown while disconnected', live: 'offline: your browser has no network; unsaved changes, kept in this browser',
  });
  await a.context().setOffline(false);
  assert.equal(await converged(h, [a, b], doc), 'while offline');
  await a.waitForFunction(() => document.getElementById('st-live').textContent === 'connected; all changes saved', null, { timeout: WAIT_MS });
  await closeAll(a, b);
});

test('an invalid document name is answered at once, without connecting', { skip }, async (t) => {
  const h = await serverFor(t);
  const ctx = await browser.newContext({ viewport: { width: 900, height: 360 } });
  let sockets = 0;
  ctx.on('page', (p) => p.on('websocket', () => { sockets++; }));
  const page = await newPage(ctx);
  page.on('websocket', () => { sockets++; });
  const t0 = Date.now();
  await page.goto(`${h.srv.url}/d/bad%20name`);
  await page.waitForSelector('.notice.error', { timeout: WAIT_MS });
  assert.ok(Date.now() - t0 < 5000, 'answered at once, not after a connection attempt');
  assert.match(await page.textContent('.notice.error'), /“bad name” is not a valid document name\. Names are 1 to 200 bytes of letters, digits/);
  assert.equal(await page.textContent('#st-conn'), 'not a valid document name');
  assert.equal(await page.textContent('#st-live'), 'not a valid document name');
  await sleep(300);
  assert.equal(sockets, 0);
  await page.click('.notice.error button:text("Home page")');
  await page.waitForURL(`${h.srv.url}/`, { timeout: WAIT_MS });
  assert.deepEqual(page.errors, []);
  await ctx.close();
});

test('dark mode: the page follows prefers-color-scheme; collaborators\' names fade and come back when they move', { skip }, async (t) => {
  const h = await serverFor(t);
  const doc = 'e2e/dark';
  const { ctx } = await switchedContext({ colorScheme: 'dark', viewport: { width: 900, height: 360 } });
  await ctx.addInitScript(() => { localStorage.setItem('ringpad.name', 'Night Owl'); localStorage.setItem('ringpad.color', '#e91e63'); });
  const a = await newPage(ctx, `${h.srv.url}/d/${doc}`);
  await ready(a);
  const b = await openPage(h, doc, { name: 'Daylight', color: '#0288d1' });
  await a.click('.cm-content');
  await a.keyboard.type('first line of text\nsecond line, typed in the dark 🌙\nthird');
  await converged(h, [a, b], doc);
  await b.click('.cm-content');
  await b.keyboard.press('Control+Home');
  await b.keyboard.press('ArrowDown');
  await a.waitForSelector('.rp-remote-caret .rp-label', { timeout: WAIT_MS });
  const bg = await a.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const lum = (c) => { const [r, g, bl] = c.match(/\d+/g).map(Number); return 0.299 * r + 0.587 * g + 0.114 * bl; };
  assert.ok(lum(bg) < 60, `dark background, got ${bg}`);
  assert.ok(lum(await a.evaluate(() => getComputedStyle(document.querySelector('.cm-content')).color)) > 160, 'light text');
  await a.screenshot({ path: join(outDir, 'dark-mode.png') });
  const labelOpacity = () => a.evaluate(() => Number(getComputedStyle(document.querySelector('.rp-remote-caret .rp-label')).opacity));
  assert.ok(await labelOpacity() > 0.9, 'the name shows when it arrives');
  await labelShown(a, false);
  await a.screenshot({ path: join(outDir, 'dark-mode-name-faded.png') });
  const caret = await a.evaluate(() => { const r = document.querySelector('.rp-remote-caret').getBoundingClientRect(); return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; });
  await a.mouse.move(caret.x, caret.y);
  assert.equal(await a.evaluate(({ x, y }) => document.elementFromPoint(x, y).className, caret), 'rp-remote-caret');
  assert.ok(await labelOpacity() > 0.9, 'the name shows while the pointer is over the caret');
  await a.mouse.move(600, 300);
  await labelShown(a, false);
  await b.keyboard.press('ArrowRight');
  await labelShown(a, true);
  assert.deepEqual([...a.errors, ...b.errors], []);
  await ctx.close();
  await closeAll(b);
});

test('at 375 px wide your own name stays on screen; copy link and every control work from the keyboard; the status is announced', { skip }, async (t) => {
  const h = await serverFor(t);
  const doc = 'e2e/notes/a-rather-long-document-name-for-a-phone';
  const ctx = await browser.newContext({ viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: h.srv.url });
  await ctx.addInitScript(() => { localStorage.setItem('ringpad.name', 'Pocket Reader'); localStorage.setItem('ringpad.color', '#5e35b1'); });
  const page = await newPage(ctx, `${h.srv.url}/d/${doc}`);
  await ready(page);
  const other = await openPage(h, doc, { name: 'Desk', color: '#00897b' });
  await other.click('.cm-content');
  await other.keyboard.type('Hello from a desk. '.repeat(8));
  await converged(h, [page, other], doc);
  const box = await page.locator('#me-name').boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 375 && box.y >= 0 && box.y + box.height <= 667, `own name at ${JSON.stringify(box)}`);
  assert.equal(await page.textContent('#me-name'), 'Pocket Reader');
  assert.equal(await page.evaluate(() => { const e = document.getElementById('me-name'); return e.scrollWidth <= e.clientWidth; }), true, 'the whole name, not cut');
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 375, 'nothing wider than the screen');
  const linkBox = await page.locator('#copy-link').boundingBox();
  assert.ok(linkBox.x + linkBox.width <= 375);
  await page.screenshot({ path: join(outDir, 'narrow-375.png') });
  // The keyboard reaches every control in order: home, copy link, name.
  await page.focus('.home-link');
  const order = [];
  for (let i = 0; i < 2; i++) { await page.keyboard.press('Tab'); order.push(await page.evaluate(() => document.activeElement.id)); }
  assert.deepEqual(order, ['copy-link', 'me']);
  await page.focus('#copy-link');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('copy-link').textContent === 'Link copied', null, { timeout: WAIT_MS });
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${h.srv.url}/d/${doc}`);
  // The live region says the state in words, without a countdown.
  assert.equal(await page.getAttribute('#st-live', 'role'), 'status');
  assert.equal(await page.textContent('#st-live'), 'connected; all changes saved');
  assert.deepEqual([...page.errors, ...other.errors], []);
  await ctx.close();
  await closeAll(other);
});

test('a page that ended with nothing unsent leaves a tombstone that beats an older kept copy: nothing is sent twice', { skip }, async (t) => {
  const h = await serverFor(t);
  const doc = 'e2e/tombstone';
  const ctx = await browser.newContext({ viewport: { width: 900, height: 360 } });
  const a = await newPage(ctx, `${h.srv.url}/d/${doc}`);
  await ready(a);
  await a.click('.cm-content');
  await a.keyboard.type('once');
  await converged(h, [a], doc);
  const acked = (await rest(h, `/api/docs/${doc}/ops?from=0`)).body.ops[0];
  // As if a page had kept this op, got its ack, and was closed before IndexedDB forgot it:
  // the old record stays, and the page's last act (pagehide) journaled "nothing unsent".
  await a.evaluate(async ({ doc, id }) => {
    const db = await new Promise((resolve) => { const q = indexedDB.open('ringpad', 1); q.onsuccess = () => resolve(q.result); });
    await new Promise((resolve) => {
      const tr = db.transaction('pending', 'readwrite');
      tr.objectStore('pending').put({ doc, slot: 'gone-tab', savedAt: 1, v: 0, baseText: '', outstanding: { id, op: ['once'], sent: true }, buffer: [4, ' again'] });
      tr.oncomplete = resolve;
    });
    db.close();
    localStorage.setItem(`ringpad.unsent:${doc}\ngone-tab`, JSON.stringify({ doc, slot: 'gone-tab', savedAt: 2, empty: true }));
  }, { doc, id: acked.id });
  const b = await newPage(ctx, `${h.srv.url}/d/${doc}`);
  await ready(b);
  assert.equal(await b.evaluate(() => globalThis.ringpad.client.pending), false);
  assert.equal(await converged(h, [a, b], doc), 'once');
  assert.deepEqual(await kept(b), { records: [], journals: [] }, 'the stale copy and its tombstone are gone');
  assert.equal(await b.$$eval('.notice', (n) => n.length), 0);
  await ctx.close();
});

test('kept edits of a document deleted meanwhile: the page takes the server\'s text, keeps the edits on it and offers the old version', { skip }, async (t) => {
  const h = await serverFor(t);
  const doc = 'e2e/deleted-while-away';
  const { ctx, sw } = await switchedContext();
  const a = await newPage(ctx, `${h.srv.url}/d/${doc}`);
  await ready(a);
  await a.click('.cm-content');
  await a.keyboard.type('old text');
  await converged(h, [a], doc);
  await sw.down();
  await a.waitForFunction(() => globalThis.ringpad.status.state !== 'connected', null, { timeout: WAIT_MS });
  await a.keyboard.type('!');
  await a.waitForFunction(() => document.getElementById('st-saved').textContent === 'unsaved changes, kept in this browser', null, { timeout: WAIT_MS });
  await closeTab(a);
  const r = await rest(h, `/api/docs/${doc}`, { method: 'DELETE' });
  assert.deepEqual([r.status, r.body], [200, { deleted: true }]);
  await sw.up();
  const b = await newPage(ctx, `${h.srv.url}/d/${doc}`);
  await ready(b);
  // (the document exists again once the page's fresh open has created it)
  await b.waitForSelector('.notice.error', { timeout: WAIT_MS });
  assert.equal(await converged(h, [b], doc), '!');
  assert.match(await b.textContent('.notice.error'), /no longer has the version this page was at/);
  assert.equal(await b.isVisible('.notice.error button:text("Download my version")'), true);
  assert.deepEqual(b.errors, []);
  await ctx.close();
});

test('two closed tabs\' unsent edits: the next page sends one and says another is waiting; a reload sends that one, each once', { skip }, async (t) => {
  const h = await serverFor(t);
  const doc = 'e2e/two-closed';
  const { ctx, sw } = await switchedContext();
  const url = `${h.srv.url}/d/${doc}`;
  const x = await newPage(ctx, url);
  const y = await newPage(ctx, url);
  await ready(x);
  await ready(y);
  await sw.down();
  for (const [p, words] of [[x, '[X]'], [y, '[Y]']]) {
    await p.waitForFunction(() => globalThis.ringpad.status.state !== 'connected', null, { timeout: WAIT_MS });
    await p.click('.cm-content');
    await p.keyboard.type(words);
    await p.waitForFunction(() => document.getElementById('st-saved').textContent === 'unsaved changes, kept in this browser', null, { timeout: WAIT_MS });
    await closeTab(p);
  }
  await sw.up();
  const z = await newPage(ctx, url);
  await ready(z);
  await z.waitForSelector('.notice button:text("Reload")', { timeout: WAIT_MS });
  assert.match(await z.textContent('.notice:has(button:text("Reload"))'), /Another closed tab left unsent edits/);
  const first = await converged(h, [z], doc);
  assert.ok(first === '[X]' || first === '[Y]', first);
  await z.click('.notice button:text("Reload")');
  await z.waitForFunction(() => globalThis.ringpad?.client?.v != null && !globalThis.ringpad.client.pending
    && globalThis.ringpad.view.state.doc.length === 6, null, { timeout: WAIT_MS });
  const text = await converged(h, [z], doc);
  assert.equal(count(text, '[X]') + count(text, '[Y]'), 2, text);
  assert.ok(text.includes('[X]') && text.includes('[Y]'), text);
  assert.equal(await z.$$eval('.notice button', (b) => b.filter((x) => x.textContent === 'Reload').length), 0, 'nothing more waiting');
  assert.deepEqual(await kept(z), { records: [], journals: [] });
  await ctx.close();
});
