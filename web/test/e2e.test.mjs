// Browser end-to-end tests: the bundled editor in headless Chromium (Debian's
// /usr/bin/chromium through playwright-core), two pages on one document.
//
// The server is scripts/dev-server.mjs (an in-memory model of ringpad.v1) until
// the ringpad server speaks the document protocol; the tests skip cleanly when
// Chromium or playwright-core is missing. Artefacts go to web/test-output/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startDevServer } from '../scripts/dev-server.mjs';
import { FakeServer } from './fake_server.mjs';

const CHROMIUM = process.env.RINGPAD_CHROMIUM || '/usr/bin/chromium';
const webDir = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(webDir, 'test-output');
const WAIT_MS = 10000;

let chromium = null;
try { ({ chromium } = await import('playwright-core')); } catch { chromium = null; }
const skip = !existsSync(CHROMIUM) ? `no ${CHROMIUM}` : !chromium ? 'playwright-core not installed' : false;

let root, server, browser;
const base = () => `http://127.0.0.1:${server.port}`;

before(async () => {
  if (skip) return;
  root = mkdtempSync(join(tmpdir(), 'ringpad-web-'));
  const r = spawnSync(process.execPath, [join(webDir, 'scripts/build.mjs'), root], { stdio: 'inherit' });
  assert.equal(r.status, 0, 'bundle');
  server = await startDevServer({ root });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  mkdirSync(outDir, { recursive: true });
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

async function openPage(doc, { name, color, token, width = 900 } = {}) {
  const ctx = await browser.newContext({ viewport: { width, height: 360 } });
  await ctx.addInitScript(([n, c]) => {
    localStorage.setItem('ringpad.name', n);
    localStorage.setItem('ringpad.color', c);
  }, [name, color]);
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(`${base()}/d/${doc}${token ? `#token=${token}` : ''}`);
  await page.waitForFunction(() => globalThis.ringpad?.client?.v != null && globalThis.ringpad.status.state === 'connected',
    null, { timeout: WAIT_MS });
  return page;
}

const textOf = (page) => page.evaluate(() => globalThis.ringpad.view.state.doc.toString());
const serverText = (doc) => server.docs.get(doc)?.server.text ?? '';

async function converged(pages, doc) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const texts = await Promise.all(pages.map(textOf));
    const idle = await Promise.all(pages.map((p) => p.evaluate(() => !globalThis.ringpad.client.pending)));
    if (idle.every(Boolean) && texts.every((t) => t === serverText(doc))) return texts[0];
    if (Date.now() > deadline) assert.fail(`no convergence: ${JSON.stringify({ texts, server: serverText(doc) })}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('two pages type concurrently (ASCII, emoji, CJK) and converge to the server\'s text', { skip }, async () => {
  const a = await openPage('e2e/concurrent', { name: 'Alice', color: '#e91e63' });
  const b = await openPage('e2e/concurrent', { name: 'Bob', color: '#0288d1' });
  await a.click('.cm-content');
  await b.click('.cm-content');
  await Promise.all([
    a.keyboard.type('Alice: hello 😀 中文 👩‍💻 ', { delay: 5 }),
    b.keyboard.type('Bob: 你好 🎉 e\u0301 ok ', { delay: 5 }),
  ]);
  const text = await converged([a, b], 'e2e/concurrent');
  for (const piece of ['Alice: hello 😀 中文 👩‍💻 ', 'Bob: 你好 🎉 e\u0301 ok ']) assert.ok(text.includes(piece), text);

  // Keystroke-to-remote-display latency, for the record (not asserted): the time
  // from A's edit to B's DOM showing it, both read from the browser's one clock.
  await b.evaluate(() => {
    globalThis.seen = {};
    const dom = globalThis.ringpad.view.contentDOM;
    new MutationObserver(() => {
      const t = Date.now();
      for (const m of dom.textContent.match(/#\d+#/g) || []) if (!(m in globalThis.seen)) globalThis.seen[m] = t;
    }).observe(dom, { subtree: true, childList: true, characterData: true });
  });
  const samples = [];
  for (let i = 0; i < 20; i++) {
    const mark = `#${i}#`;
    const t0 = await a.evaluate((m) => {
      const v = globalThis.ringpad.view, at = v.state.selection.main.head;
      const t = Date.now();
      v.dispatch({ changes: { from: at, insert: m }, selection: { anchor: at + m.length }, userEvent: 'input.type' });
      return t;
    }, mark);
    await b.waitForFunction((m) => m in globalThis.seen, mark, { timeout: WAIT_MS });
    samples.push((await b.evaluate((m) => globalThis.seen[m], mark)) - t0);
  }
  samples.sort((x, y) => x - y);
  console.log(`keystroke-to-remote-display (dev server, loopback): p50 ${samples[10]} ms, max ${samples[19]} ms`);

  // Remote cursors are drawn with names: the artefact.
  await a.waitForSelector('.rp-remote-caret .rp-label');
  await b.waitForSelector('.rp-remote-caret .rp-label');
  await a.screenshot({ path: join(outDir, 'two-collaborators.png') });
  assert.deepEqual([...a.errors, ...b.errors], []);
  await a.context().close();
  await b.context().close();
});

test('a page that loses the server keeps editing offline and nothing is lost after reconnecting', { skip }, async () => {
  const doc = 'e2e/offline';
  const a = await openPage(doc, { name: 'Ann', color: '#43a047' });
  const b = await openPage(doc, { name: 'Ben', color: '#f57c00' });
  await a.click('.cm-content');
  await a.keyboard.type('before ');
  await converged([a, b], doc);
  const { port, docs } = server;
  await server.close(); // the server goes away (as if restarted)
  await a.waitForFunction(() => globalThis.ringpad.status.state !== 'connected', null, { timeout: WAIT_MS });
  await a.keyboard.type('offline 😀 edit ');
  await b.click('.cm-content');
  await b.keyboard.press('Control+Home');
  await b.keyboard.type('B-offline ');
  server = await startDevServer({ root, port, docs });
  const text = await converged([a, b], doc);
  assert.ok(text.includes('before offline 😀 edit '), text);
  assert.ok(text.startsWith('B-offline '), text);
  await a.context().close();
  await b.context().close();
});

test('undo in one page removes only its own text', { skip }, async () => {
  const doc = 'e2e/undo';
  const a = await openPage(doc, { name: 'Ann', color: '#43a047' });
  const b = await openPage(doc, { name: 'Ben', color: '#f57c00' });
  await a.click('.cm-content');
  await a.keyboard.type('mine ');
  await converged([a, b], doc);
  await b.click('.cm-content');
  await b.keyboard.press('Control+End');
  await b.keyboard.type('theirs');
  await converged([a, b], doc);
  await a.keyboard.press('Control+z');
  const text = await converged([a, b], doc);
  assert.equal(text, 'theirs');
  await a.keyboard.press('Control+y'); // redo (Playwright sends Shift+z as "z", which is Mod-z)
  assert.equal(await converged([a, b], doc), 'mine theirs');
  await a.context().close();
  await b.context().close();
});

test('a read-only token cannot edit', { skip }, async () => {
  const doc = 'e2e/readonly';
  const w = await openPage(doc, { name: 'Writer', color: '#3f51b5' });
  await w.click('.cm-content');
  await w.keyboard.type('fixed text');
  await converged([w], doc);
  // The dev server does not verify tokens; the page reads its grants to go read-only.
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const token = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'r', exp: 4102444800, docs: [{ pattern: 'e2e/*', role: 'read' }] })}.sig`;
  const r = await openPage(doc, { name: 'Reader', color: '#6d4c41', token });
  assert.equal(await r.isVisible('#readonly-badge'), true);
  await r.click('.cm-content');
  await r.keyboard.type('nope');
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(await textOf(r), 'fixed text');
  assert.equal(serverText(doc), 'fixed text');
  assert.equal(await r.evaluate(() => sessionStorage.getItem('ringpad.token') !== null && !location.hash.includes('token')), true);
  await w.context().close();
  await r.context().close();
});

test('a 5 MB document stays responsive and a 1 MB paste reaches the other page', { skip }, async () => {
  const doc = 'e2e/big';
  const big = 'The quick brown fox 😀 jumps over the lazy dog 中文.\n'.repeat(5 * 1024 * 1024 / 56);
  server.docs.set(doc, { server: new FakeServer({ text: big }), members: new Map() });
  const a = await openPage(doc, { name: 'Ann', color: '#43a047' });
  const b = await openPage(doc, { name: 'Ben', color: '#f57c00' });
  await a.click('.cm-content');
  await a.keyboard.press('Control+End');
  // Time the editor's own work per keystroke (dispatch through our update listener).
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
  await a.evaluate((text) => {
    const v = globalThis.ringpad.view;
    v.dispatch({ changes: { from: 0, insert: text }, userEvent: 'input.paste' });
  }, paste);
  const deadline = Date.now() + 20000;
  for (;;) {
    const [ta, tb] = await Promise.all([a, b].map((p) => p.evaluate(() => [globalThis.ringpad.view.state.doc.length, globalThis.ringpad.client.pending])));
    if (!ta[1] && ta[0] === tb[0] && serverText(doc).length === ta[0]) break;
    if (Date.now() > deadline) assert.fail(`paste did not converge: ${JSON.stringify({ ta, tb })}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(serverText(doc).startsWith(paste));
  assert.equal(await b.evaluate(() => globalThis.ringpad.view.state.doc.toString()), serverText(doc));
  await a.context().close();
  await b.context().close();
});
