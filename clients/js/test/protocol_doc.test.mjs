// docs/PROTOCOL.md against the real server, for what a client writer reads
// first: the transcript's welcome (server string, session id shape, limits)
// and the connection-level defaults of §13, which welcome.limits does not carry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { available, startRingpad, BIN } from '../../../web/test/ringpad_server.mjs';

const skip = available ? false : 'ringpad is not built (./zigw build)';
const protocol = readFileSync(fileURLToPath(new URL('../../../docs/PROTOCOL.md', import.meta.url)), 'utf8');

function section(n) {
  const start = protocol.indexOf(`\n## ${n}. `);
  const end = protocol.indexOf('\n## ', start + 1);
  assert.ok(start >= 0, `PROTOCOL.md has a section ${n}`);
  return protocol.slice(start, end < 0 ? undefined : end);
}

test('the transcript of §14 shows the welcome the server sends', { skip }, async () => {
  const line = section(14).split('\n').find((l) => l.startsWith('A← {"type":"welcome"'));
  assert.ok(line, 'a welcome line in §14');
  const doc = JSON.parse(line.slice('A← '.length));
  const dataDir = mkdtempSync(join(tmpdir(), 'ringpad-sdk-doc-'));
  const srv = await startRingpad({ dataDir });
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, 'ringpad.v1');
    const welcome = await new Promise((resolve, reject) => {
      ws.on('open', () => ws.send(JSON.stringify({ type: 'hello' })));
      ws.on('message', (m) => resolve(JSON.parse(String(m))));
      ws.on('error', reject);
    });
    ws.close();
    assert.equal(welcome.server, doc.server);
    assert.deepEqual(welcome.limits, doc.limits, 'the defaults of §13 as welcome.limits carries them');
    const shape = /^s\d+-\d+-\d+$/;
    assert.match(welcome.session, shape);
    assert.match(doc.session, shape);
  } finally {
    await srv.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('§13 states the connection-level defaults of ringpad --help', { skip }, () => {
  const help = spawnSync(BIN, ['--help'], { encoding: 'utf8' });
  const text = help.stdout + help.stderr;
  const dflt = (flag) => {
    const at = text.indexOf(`--${flag} `);
    assert.ok(at >= 0, `--${flag} in ringpad --help`);
    return /\(default: ([^)]+)\)/.exec(text.slice(at))[1];
  };
  const s13 = section(13);
  assert.equal(dflt('max-messages-per-sec'), '10000');
  assert.match(s13, /10,000 per second \(`--max-messages-per-sec`/);
  assert.equal(dflt('max-send-queue-bytes'), '4m');
  assert.match(s13, /4 MiB \(`--max-send-queue-bytes`\)/);
  assert.equal(dflt('ping-interval-ms'), '30000');
  assert.match(s13, /30 s \(`--ping-interval-ms`\)/);
  assert.equal(dflt('idle-timeout-ms'), '75000');
  assert.match(s13, /75 s \(`--idle-timeout-ms`\)/);
});
