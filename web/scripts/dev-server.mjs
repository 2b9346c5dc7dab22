// A development server for the editor alone: serves a built web root, maps
// /d/<name> to editor.html, answers GET /api/docs, and speaks ringpad.v1 on
// /ws with an in-memory model of the server (test/fake_server.mjs: versions,
// transform against history, duplicates, catch-up) plus presence and leave.
// It is not the ringpad server; it lets the editor be tried and tested in a
// browser before and independently of it. Loopback only.
//
// Usage: node web/scripts/dev-server.mjs <web-root> [port]   (port 0: ephemeral; prints "listening <port>")
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync, existsSync, statSync } from 'node:fs';
import { join, normalize, extname } from 'node:path';
import { FakeServer } from '../test/fake_server.mjs';

const MAX_FRAME_BYTES = 4 << 20;
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

export function startDevServer({ root, port = 0, host = '127.0.0.1', historyDepth = 1000, docs = new Map() }) {
  // docs: name -> {server: FakeServer, members: Map(conn -> peer)}; pass the map of a
  // stopped instance to a new one to "restart" with the same documents.
  const sockets = new Set();
  let sessions = 0;
  const docOf = (name) => {
    if (!docs.has(name)) docs.set(name, { server: new FakeServer({ historyDepth }), members: new Map() });
    else if (!docs.get(name).members) docs.get(name).members = new Map();
    return docs.get(name);
  };

  const http = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/api/docs') {
      const list = [...docs].map(([name, d]) => ({ name, v: d.server.v, size_codepoints: [...d.server.text].length }));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ docs: list }));
      return;
    }
    let rel = url.pathname === '/' ? '/index.html' : url.pathname.startsWith('/d/') ? '/editor.html' : url.pathname;
    rel = normalize(decodeURIComponent(rel)).replace(/^(\.\.[/\\])+/, '');
    const file = join(root, rel);
    if (!file.startsWith(root) || !existsSync(file) || statSync(file).isDirectory()) { res.writeHead(404); res.end('not found'); return; }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store' });
    res.end(readFileSync(file));
  });

  http.on('upgrade', (req, socket) => {
    if (new URL(req.url, 'http://x').pathname !== '/ws') { socket.destroy(); return; }
    const key = req.headers['sec-websocket-key'];
    const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    const protos = String(req.headers['sec-websocket-protocol'] || '').split(',').map((s) => s.trim());
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n` + (protos.includes('ringpad.v1') ? 'Sec-WebSocket-Protocol: ringpad.v1\r\n' : '') + '\r\n');
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const session = `s${++sessions}`;
    const peer = { session, name: null, color: null, sel: [], v: 0 };
    const conns = new Map(); // doc name -> fake-server conn
    const send = (msg) => { if (!socket.destroyed) socket.write(frame(0x1, Buffer.from(JSON.stringify(msg)))); };
    const broadcast = (name, msg) => {
      for (const [c, p] of docOf(name).members) if (p !== peer) c.out.push(msg);
    };
    let buf = Buffer.alloc(0);
    let parts = [];
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const f = parseFrame(buf);
        if (!f) break;
        if (f === 'too-large') { socket.destroy(); return; }
        buf = buf.subarray(f.size);
        if (f.opcode === 0x8) { socket.end(frame(0x8, Buffer.alloc(0))); return; }
        if (f.opcode === 0x9) { socket.write(frame(0xa, f.payload)); continue; }
        if (f.opcode === 0x1 || f.opcode === 0x0) parts.push(f.payload);
        if (!f.fin || (f.opcode !== 0x1 && f.opcode !== 0x0)) continue;
        const text = Buffer.concat(parts).toString('utf8');
        parts = [];
        let msg;
        try { msg = JSON.parse(text); } catch { send({ type: 'error', code: 'bad_json', message: 'not JSON' }); continue; }
        handle(msg);
      }
    });
    const leaveAll = () => {
      for (const [name, c] of conns) {
        const d = docOf(name);
        d.server.drop(c);
        d.members.delete(c);
        broadcast(name, { type: 'leave', doc: name, session });
      }
      conns.clear();
    };
    socket.on('close', leaveAll);
    socket.on('error', () => socket.destroy());

    function handle(msg) {
      switch (msg.type) {
        case 'hello':
          peer.name = typeof msg.name === 'string' ? msg.name : null;
          peer.color = typeof msg.color === 'string' ? msg.color : null;
          send({ type: 'welcome', session, server: 'ringpad-web-dev', limits: { presence_per_second: 20, history_depth: historyDepth } });
          return;
        case 'ping': send({ type: 'pong' }); return;
        case 'open': {
          const d = docOf(msg.doc);
          let c = conns.get(msg.doc);
          if (!c) {
            c = d.server.connect(session, { push: send });
            conns.set(msg.doc, c);
          }
          if (msg.v === undefined) {
            const peers = [...d.members].filter(([, p]) => p !== peer).map(([, p]) => ({ session: p.session, name: p.name, color: p.color, sel: p.sel }));
            c.open = true;
            d.members.set(c, peer);
            send({ type: 'snapshot', doc: msg.doc, v: d.server.v, text: d.server.text, peers });
            return;
          }
          d.members.set(c, peer);
          d.server.receive(c, msg);
          return;
        }
        case 'op': {
          const c = conns.get(msg.doc);
          if (!c) { send({ type: 'error', code: 'not_open', message: 'document is not open', ref: msg.id }); return; }
          docOf(msg.doc).server.receive(c, msg);
          return;
        }
        case 'presence': {
          if (!conns.has(msg.doc)) return;
          const d = docOf(msg.doc);
          peer.sel = msg.sel;
          if (msg.v !== d.server.v) return; // a real server transforms; the dev server drops stale ones
          broadcast(msg.doc, { type: 'presence', doc: msg.doc, session, name: peer.name, color: peer.color, v: msg.v, sel: msg.sel });
          return;
        }
        case 'close': {
          const c = conns.get(msg.doc);
          if (!c) return;
          const d = docOf(msg.doc);
          d.server.drop(c); d.members.delete(c); conns.delete(msg.doc);
          broadcast(msg.doc, { type: 'leave', doc: msg.doc, session });
          return;
        }
        default: send({ type: 'error', code: 'unknown_type', message: 'unknown type' });
      }
    }
  });

  return new Promise((resolve) => {
    http.listen(port, host, () => resolve({
      port: http.address().port,
      docs,
      // Stops like a crashed server: every socket cut, no close handshake.
      close: () => new Promise((r) => {
        for (const so of sockets) so.destroy();
        for (const d of docs.values()) { d.members = new Map(); d.server.conns = new Set(); }
        http.closeAllConnections?.();
        http.close(() => r());
      }),
      http,
    }));
  });
}

function frame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n])
    : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 255])
      : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
  return Buffer.concat([head, payload]);
}

function parseFrame(buf) {
  if (buf.length < 2) return null;
  const fin = (buf[0] & 0x80) !== 0, opcode = buf[0] & 0x0f, masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f, off = 2;
  if (len === 126) { if (buf.length < 4) return null; len = buf.readUInt16BE(2); off = 4; }
  else if (len === 127) { if (buf.length < 10) return null; len = Number(buf.readBigUInt64BE(2)); off = 10; }
  if (len > MAX_FRAME_BYTES) return 'too-large';
  const maskOff = off;
  if (masked) off += 4;
  if (buf.length < off + len) return null;
  const payload = Buffer.from(buf.subarray(off, off + len));
  if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskOff + (i & 3)];
  return { fin, opcode, payload, size: off + len };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = process.argv[2];
  if (!root) { console.error('usage: node web/scripts/dev-server.mjs <web-root> [port]'); process.exit(2); }
  const s = await startDevServer({ root: normalize(root), port: Number(process.argv[3] || 8080) });
  console.log(`listening ${s.port}`);
}
