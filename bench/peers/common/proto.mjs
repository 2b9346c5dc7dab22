// The ringpad.v1 side shared by every peer adapter: the WebSocket endpoint,
// decoding and checking of client messages, op helpers in code points, and the
// command line. A peer adds only its own document engine, so the comparison
// measures the engines and not differences in how the protocol is spoken.

import http from 'node:http';
import { WebSocketServer } from 'ws';

export const SUBPROTOCOL = 'ringpad.v1';

// Same defaults as ringpad (docs/PROTOCOL.md §13), announced in `welcome`.
export const LIMITS = Object.freeze({
  max_message_bytes: 1114112,
  max_op_bytes: 1048576,
  max_op_components: 65536,
  max_doc_codepoints: 16777216,
  max_doc_name_bytes: 256,
  max_open_docs: 64,
  history_depth: 1000,
  presence_per_second: 20,
});

const MAX_VERSION = Number.MAX_SAFE_INTEGER;
const MAX_ID_BYTES = 128;
const CLIENT_TYPES = new Set(['hello', 'open', 'op', 'presence', 'close', 'ping']);
const DOC_NAME_RE = /^[A-Za-z0-9._\-/]{1,256}$/;

export class ProtoError extends Error {
  constructor(code, message, ref) {
    super(message);
    this.code = code;
    this.ref = ref;
  }
}

export function errorMessage(code, message, ref) {
  const m = { type: 'error', code, message };
  if (ref !== undefined) m.ref = ref;
  return m;
}

export function isDocName(s) {
  if (typeof s !== 'string' || !DOC_NAME_RE.test(s)) return false;
  if (s.startsWith('/') || s.endsWith('/') || s.includes('//')) return false;
  for (const seg of s.split('/')) if (seg === '.' || seg === '..') return false;
  return true;
}

function isVersion(v) {
  return Number.isInteger(v) && v >= 0 && v <= MAX_VERSION;
}

function isOpId(s) {
  if (typeof s !== 'string' || s.length < 1 || s.length > MAX_ID_BYTES) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** Number of Unicode code points in a JS string (surrogate pairs count once). */
export function cpLength(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { n--; i++; }
    }
  }
  return n;
}

/**
 * Checks a ringpad op array (§6) and returns its base length in code points;
 * throws ProtoError bad_message / bad_op / op_too_large.
 */
export function checkOp(op, ref) {
  if (!Array.isArray(op)) throw new ProtoError('bad_message', 'field "op" must be an array', ref);
  if (op.length > LIMITS.max_op_components) {
    throw new ProtoError('op_too_large', `op has more than ${LIMITS.max_op_components} components`, ref);
  }
  let baseLen = 0;
  let insertedUnits = 0;
  for (let i = 0; i < op.length; i++) {
    const c = op[i];
    if (typeof c === 'string') {
      if (c.length === 0) throw new ProtoError('bad_op', `op[${i}]: empty insert`, ref);
      if (c.includes('\u0000')) throw new ProtoError('bad_op', `op[${i}]: NUL in insert`, ref);
      insertedUnits += c.length;
    } else if (Number.isInteger(c)) {
      if (c === 0) throw new ProtoError('bad_op', `op[${i}]: retain or delete count of zero`, ref);
      if (Math.abs(c) > LIMITS.max_doc_codepoints) {
        throw new ProtoError('op_too_large', `op[${i}]: count beyond max_doc_codepoints`, ref);
      }
      baseLen += Math.abs(c);
    } else {
      throw new ProtoError('bad_op', `op[${i}]: not an integer or a string`, ref);
    }
  }
  // UTF-16 units overestimate UTF-8 bytes only for BMP text above U+07FF by 1/3;
  // the exact check happens in Buffer.byteLength when the cheap bound fails.
  if (insertedUnits * 3 > LIMITS.max_op_bytes) {
    let bytes = 0;
    for (const c of op) if (typeof c === 'string') bytes += Buffer.byteLength(c, 'utf8');
    if (bytes > LIMITS.max_op_bytes) {
      throw new ProtoError('op_too_large', `op inserts more than ${LIMITS.max_op_bytes} bytes`, ref);
    }
  }
  return baseLen;
}

/** Applies a (valid) ringpad op to a JS string, counting in code points. */
export function applyOp(text, op) {
  let out = '';
  let pos = 0; // UTF-16 index into text
  for (const c of op) {
    if (typeof c === 'string') {
      out += c;
    } else {
      const n = Math.abs(c);
      const end = advanceCp(text, pos, n);
      if (end < 0) throw new ProtoError('bad_op', 'op is longer than the document');
      if (c > 0) out += text.slice(pos, end);
      pos = end;
    }
  }
  if (pos !== text.length) throw new ProtoError('bad_op', 'op is shorter than the document');
  return out;
}

function advanceCp(s, pos, n) {
  for (let k = 0; k < n; k++) {
    if (pos >= s.length) return -1;
    const c = s.charCodeAt(pos);
    pos += (c >= 0xd800 && c <= 0xdbff && pos + 1 < s.length) ? 2 : 1;
  }
  return pos;
}

/**
 * Decodes and checks one client message. Returns the message object; throws
 * ProtoError with the §5 code.
 */
export function decodeClientMessage(data) {
  let m;
  try {
    m = JSON.parse(data);
  } catch {
    throw new ProtoError('bad_json', 'not JSON');
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new ProtoError('bad_json', 'not a JSON object');
  if (typeof m.type !== 'string') throw new ProtoError('bad_message', 'field "type" must be a string');
  if (!CLIENT_TYPES.has(m.type)) throw new ProtoError('unknown_type', `unknown type "${m.type}"`);
  const ref = m.type === 'op' && isOpId(m.id) ? m.id : undefined;
  if (m.type === 'hello' || m.type === 'ping') return m;
  if (typeof m.doc !== 'string') throw new ProtoError('bad_message', 'field "doc" must be a string', ref);
  if (!isDocName(m.doc)) throw new ProtoError('bad_doc_name', 'invalid document name', ref);
  switch (m.type) {
    case 'open':
      if (m.v !== undefined && !isVersion(m.v)) throw new ProtoError('bad_message', 'field "v" must be an integer in 0..9007199254740991', m.doc);
      break;
    case 'op':
      if (!isVersion(m.v)) throw new ProtoError('bad_message', 'field "v" must be an integer in 0..9007199254740991', ref);
      if (!isOpId(m.id)) throw new ProtoError('bad_message', 'field "id" must be 1..128 printable ASCII bytes');
      checkOp(m.op, ref);
      break;
    case 'presence':
      if (!isVersion(m.v)) throw new ProtoError('bad_message', 'field "v" must be an integer', m.doc);
      if (!Array.isArray(m.sel) || m.sel.length > 32) throw new ProtoError('bad_message', 'field "sel" must be an array of at most 32 ranges', m.doc);
      for (const r of m.sel) {
        if (!Array.isArray(r) || r.length !== 2 || !isVersion(r[0]) || !isVersion(r[1])) {
          throw new ProtoError('bad_message', 'field "sel" must hold [anchor, head] pairs', m.doc);
        }
      }
      break;
    default:
      break;
  }
  return m;
}

export function welcomeMessage(session, server) {
  return { type: 'welcome', session, server, limits: LIMITS };
}

/**
 * Starts an HTTP server with GET /healthz and the ringpad.v1 WebSocket
 * endpoint on /ws. onConnection(ws) gets every accepted socket.
 * Resolves to {port, close()}.
 */
export function startServer({ host, port, onConnection }) {
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: LIMITS.max_message_bytes,
    perMessageDeflate: false,
    clientTracking: true,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  // /echo: the transport alone (ringpad-bench --scenario echo), as ringpad's --enable-echo.
  const echo = new WebSocketServer({ noServer: true, maxPayload: LIMITS.max_message_bytes, perMessageDeflate: false });
  server.on('upgrade', (req, socket, head) => {
    if (req.url === '/echo') {
      echo.handleUpgrade(req, socket, head, (ws) => {
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
        ws.on('error', () => ws.terminate());
      });
      return;
    }
    if (req.url !== '/ws' && !req.url.startsWith('/ws?')) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.binaryType = 'nodebuffer';
      onConnection(ws);
    });
  });
  // Bursts of tens of thousands of connects: keep the accept backlog deep.
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 65535 }, () => {
      const addr = server.address();
      resolve({
        port: addr.port,
        close: () => new Promise((done) => {
          for (const ws of wss.clients) ws.terminate();
          for (const ws of echo.clients) ws.terminate();
          wss.close();
          echo.close();
          server.close(() => done());
          server.closeAllConnections?.();
        }),
      });
    });
  });
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Parses --host/--port; refuses anything but loopback (benchmarks stay local). */
export function parseArgs(argv, name) {
  const opts = { host: '127.0.0.1', port: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') opts.port = Number(argv[++i]);
    else if (a === '--host') opts.host = argv[++i];
    else if (a === '--redis') opts.redis = argv[++i];
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`usage: ${name} [--host 127.0.0.1|::1] [--port N] [--redis redis://127.0.0.1:PORT]\n`);
      process.exit(0);
    } else {
      process.stderr.write(`${name}: unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    process.stderr.write(`${name}: bad --port\n`);
    process.exit(2);
  }
  if (opts.redis && !LOOPBACK.has(new URL(opts.redis).hostname.replace(/^\[|\]$/g, ''))) {
    process.stderr.write(`${name}: only a loopback Redis is allowed (got ${opts.redis})\n`);
    process.exit(2);
  }
  if (!LOOPBACK.has(opts.host)) {
    process.stderr.write(`${name}: only loopback hosts are allowed (got ${opts.host})\n`);
    process.exit(2);
  }
  return opts;
}

/** Runs a peer from the command line: prints "listening <host> <port>" when ready. */
export async function runMain(name, create) {
  const opts = parseArgs(process.argv.slice(2), name);
  const peer = await create(opts);
  process.stdout.write(`${name} listening ${opts.host} ${peer.port}\n`);
  const stop = async () => {
    await peer.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
