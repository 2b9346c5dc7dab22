// The SDK's Client in a browser: headless Chromium (Debian's /usr/bin/chromium
// through playwright-core) imports src/index.js as an ES module, unbundled,
// from a loopback static server of this folder, and edits a document on the
// real ringpad with its built-in WebSocket next to a Node client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Client } from '../src/index.js';
import { available, startRingpad } from '../../../web/test/ringpad_server.mjs';

const CHROMIUM = process.env.RINGPAD_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const WAIT_MS = 15000;

let chromium = null;
try { ({ chromium } = await import('playwright-core')); } catch { chromium = null; }
const skip = !existsSync(CHROMIUM) ? `no ${CHROMIUM}`
  : !chromium ? 'playwright-core not installed'
    : !available ? 'ringpad is not built (./zigw build)' : false;

let browser, files, srv, dataDir;

before(async () => {
  if (skip) return;
  // Serves src/ and an empty page: only what a browser app would import.
  files = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (path === '/') { res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>sdk</title>'); return; }
    if (!path.startsWith('/src/') || !path.endsWith('.js')) { res.writeHead(404).end(); return; }
    try {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(join(pkgDir, path)));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => files.listen(0, '127.0.0.1', r));
  dataDir = mkdtempSync(join(tmpdir(), 'ringpad-sdk-browser-'));
  srv = await startRingpad({ dataDir });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
  if (files) await new Promise((r) => files.close(r));
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('a browser page edits with Client next to a Node client; both end with the REST text', { skip, timeout: 60000 }, async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${files.address().port}/`);
  const wsUrl = `ws://127.0.0.1:${srv.port}/ws`;

  const node = new Client(wsUrl, { WebSocket, name: 'node' });
  const nd = await node.open('browser/doc');
  let nodeAcks = 0;
  nd.on('ack', () => { nodeAcks++; });
  nd.insert(0, 'node ');

  const browserText = await page.evaluate(async ({ wsUrl, waitMs }) => {
    const { Client } = await import('/src/index.js');
    const c = new Client(wsUrl, { name: 'page' }); // the browser's own WebSocket
    const d = await c.open('browser/doc');
    window.sdkAcks = 0;
    d.on('ack', () => { window.sdkAcks++; });
    for (const piece of ['😀', ' from ', 'the page']) d.insert(d.length, piece);
    await Promise.race([d.whenSynced(), new Promise((_, rej) => setTimeout(() => rej(new Error('no ack')), waitMs))]);
    window.sdkDoc = d;
    return d.text;
  }, { wsUrl, waitMs: WAIT_MS });
  await nd.whenSynced();

  const server = await (await fetch(`${srv.url}/api/docs/browser/doc`)).json();
  const end = Date.now() + WAIT_MS;
  while ((nd.v !== server.v || await page.evaluate(() => window.sdkDoc.v) !== server.v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
  }
  // The page's three inserts go as two ops (the last two composed while the first awaited its ack).
  assert.equal(server.v, nodeAcks + await page.evaluate(() => window.sdkAcks), 'one version per acknowledged op');
  assert.equal(nodeAcks, 1);
  assert.equal(await page.evaluate(() => window.sdkAcks), 2);
  assert.equal(nd.text, server.text);
  assert.equal(await page.evaluate(() => window.sdkDoc.text), server.text);
  assert.ok(server.text.includes('node ') && server.text.includes('😀 from the page'), server.text);
  assert.ok(browserText.includes('😀 from the page'));
  assert.deepEqual(errors, []);
  node.close();
  await page.close();
});
