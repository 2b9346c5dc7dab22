#!/usr/bin/env node
// Edits a ringpad document from a script: opens it, appends a line, prints the
// text once the server acknowledged the edit, and watches for a few seconds.
//
//   node examples/edit.mjs [ws://127.0.0.1:8080/ws] [document] [text]
//
// Open http://127.0.0.1:8080/d/<document> in a browser to see the edit arrive
// (and type there to see your edits printed here). RINGPAD_TOKEN is sent as the
// token when the server has auth on.
import { Client } from 'ringpad-client';

const [url = 'ws://127.0.0.1:8080/ws', docName = 'hello', line = `Hello from a script at ${new Date().toISOString()}`] =
  process.argv.slice(2);
const WATCH_MS = 5000;

// Node 22+ and browsers have a WebSocket; Node 20 and 21 take the one of "ws".
const WebSocket = globalThis.WebSocket ?? (await import('ws')).default;

const client = new Client(url, { WebSocket, name: 'edit.mjs', token: process.env.RINGPAD_TOKEN });
client.on('status', (s) => console.error(`connection: ${s.state}${s.reason ? ` (${s.reason})` : ''}`));
client.on('error', (e) => console.error(`server error: ${e.message}`));

const doc = await client.open(docName);
console.error(`opened "${docName}" at version ${doc.v}, ${doc.length} code points`);
doc.on('change', (c) => console.error(`edit by ${c.by}: ${JSON.stringify(c.op)} -> v${c.v + 1}`));
doc.on('presence', (p) => console.error(`${p.name ?? p.session} is at ${JSON.stringify(p.sel)}`));

// Append the line: insert at the end (positions count code points).
doc.insert(doc.length, (doc.length && !doc.text.endsWith('\n') ? '\n' : '') + line + '\n');
doc.setSelection([[doc.length, doc.length]]);
await doc.whenSynced();
console.error(`acknowledged: the document is at version ${doc.v}`);
console.log(doc.text);

await new Promise((r) => setTimeout(r, Number(process.env.WATCH_MS ?? WATCH_MS)));
client.close();
