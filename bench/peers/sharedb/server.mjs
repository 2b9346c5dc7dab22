// ShareDB (in-memory backend, ot-text-unicode) behind a thin ringpad.v1 adapter.
//
// Each ringpad connection gets its own ShareDB Agent, exactly as a ShareDB
// client over `ws` would (backend.listen on an object stream; this adapter is
// that stream, translating messages instead of JSON-parsing them a second
// time). Ops are submitted as ShareDB wire `op` messages with the client's base
// version, so ShareDB does its full per-op work: fetch the snapshot, fetch and
// transform against every op since the base, apply, commit to the in-memory DB,
// publish on pubsub, and fan out through every subscriber's Agent.
//
// Version mapping: ShareDB counts the document's create op as version 0->1,
// ringpad documents exist implicitly at version 0, so ringpad v = ShareDB v - 1.
//
// Ordering: ringpad promises every op before yours arrives before your ack.
// ShareDB does not (its ack can overtake the pubsub stream), so each
// connection submits under its own `src` (not the Agent's), which makes ShareDB
// send the submitter its own committed op through the subscription too; the
// adapter acks when that op comes through the stream in version order. This
// also gives the adapter the transformed op, from which it tracks the document
// length that ringpad ops must span (ot-text-unicode trims trailing retains).

import { createRequire } from 'node:module';
import { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  LIMITS, ProtoError, cpLength, decodeClientMessage, errorMessage, runMain, startServer, welcomeMessage,
} from '../common/proto.mjs';

const require = createRequire(import.meta.url);
const ShareDB = require('sharedb');
const textUnicode = require('ot-text-unicode').type;

ShareDB.types.register(textUnicode);

const SERVER_NAME = `sharedb/${require('sharedb/package.json').version}+ringpad.v1`;
const COLLECTION = 'docs';
// Ops of one document held while an earlier version is still on its way.
const MAX_REORDER_OPS = 100000;
// Op ids kept per session so other subscribers can name ops in broadcasts.
const MAX_IDS_PER_SESSION = 8192;
// How long a closed session's op ids stay resolvable for slower subscribers.
const CLOSED_SESSION_IDS_MS = 10000;

/** ringpad op (retain n, delete -n, insert "s") -> ot-text-unicode op. */
export function toTextUnicode(op) {
  const out = new Array(op.length);
  for (let i = 0; i < op.length; i++) {
    const c = op[i];
    out[i] = typeof c === 'number' && c < 0 ? { d: -c } : c;
  }
  return textUnicode.normalize(out);
}

/**
 * ot-text-unicode op on a document of baseLen code points -> ringpad op
 * (spanning the whole document). Returns {op, len} with the length after.
 */
export function toRingpad(op, baseLen) {
  const out = [];
  let consumed = 0;
  let len = baseLen;
  for (const c of op) {
    if (typeof c === 'number') {
      out.push(c);
      consumed += c;
    } else if (typeof c === 'string') {
      out.push(c);
      len += cpLength(c);
    } else {
      const n = typeof c.d === 'number' ? c.d : cpLength(c.d);
      out.push(-n);
      consumed += n;
      len -= n;
    }
  }
  if (consumed < baseLen) out.push(baseLen - consumed);
  return { op: out, len };
}

function mapShareError(err) {
  switch (err.code) {
    case 'ERR_OP_VERSION_NEWER_THAN_CURRENT_SNAPSHOT': return 'version_ahead';
    case 'ERR_SUBMIT_TRANSFORM_OPS_NOT_FOUND': return 'version_too_old';
    case 'ERR_OT_OP_BADLY_FORMED':
    case 'ERR_OT_OP_NOT_APPLIED':
    case 'ERR_MESSAGE_BADLY_FORMED': return 'bad_op';
    default: return 'internal';
  }
}

export async function createShareDBPeer({ host = '127.0.0.1', port = 0, redis = '' } = {}) {
  // MemoryDB, and MemoryPubSub or (--redis) sharedb-redis-pubsub: every
  // committed op is published through Redis and comes back to this process's
  // subscribers from there, as it would to other ShareDB processes. (Several
  // processes would need a shared database too, which the in-memory one is not.)
  const pubsub = redis ? require('sharedb-redis-pubsub')({ url: redis }) : undefined;
  const backend = new ShareDB(pubsub ? { pubsub } : {});
  const serverConn = backend.connect();
  const created = new Map(); // doc name -> Promise (the ShareDB doc exists)
  const sessions = new Map(); // src -> Session (and closed ones for a while)
  let nextSession = 1;

  // ringpad documents exist implicitly; ShareDB's must be created first.
  function ensureDoc(name) {
    let p = created.get(name);
    if (!p) {
      p = new Promise((resolve, reject) => {
        const doc = serverConn.get(COLLECTION, name);
        doc.fetch((err) => {
          if (err) return reject(err);
          if (doc.type) {
            doc.destroy();
            return resolve();
          }
          doc.create('', textUnicode.uri, (e) => {
            doc.destroy();
            if (e && e.code !== 'ERR_DOC_ALREADY_CREATED') reject(e);
            else resolve();
          });
        });
      });
      created.set(name, p);
      p.catch(() => created.delete(name));
    }
    return p;
  }

  class Session {
    constructor(ws) {
      this.ws = ws;
      this.src = `s${nextSession++}`;
      this.seq = 1;
      this.ids = new Map(); // seq -> ringpad op id (bounded)
      this.docs = new Map(); // name -> DocState
      this.closed = false;
      sessions.set(this.src, this);
      this.stream = new Duplex({
        objectMode: true,
        read() {},
        write: (msg, _enc, cb) => {
          this.fromShareDB(msg);
          cb();
        },
      });
      this.agent = backend.listen(this.stream);
      this.toShareDB({ a: 'hs', protocol: 1, protocolMinor: 2 });
    }

    send(m) {
      if (!this.closed) this.ws.send(JSON.stringify(m));
    }

    toShareDB(msg) {
      this.stream.push(msg);
    }

    idOf(src, seq) {
      const s = sessions.get(src);
      return (s && s.ids.get(seq)) || `${src}:${seq}`;
    }

    onMessage(m) {
      switch (m.type) {
        case 'hello':
          this.send(welcomeMessage(this.src, SERVER_NAME));
          return;
        case 'ping':
          this.send({ type: 'pong' });
          return;
        case 'open':
          this.open(m);
          return;
        case 'op':
          this.submit(m);
          return;
        case 'presence':
          // Not relayed through ShareDB presence yet (see README): accepted and dropped.
          if (!this.docs.has(m.doc)) this.send(errorMessage('not_open', 'document is not open', m.doc));
          return;
        case 'close': {
          if (!this.docs.has(m.doc)) {
            this.send(errorMessage('not_open', 'document is not open', m.doc));
            return;
          }
          this.docs.delete(m.doc);
          this.toShareDB({ a: 'u', c: COLLECTION, d: m.doc });
          return;
        }
        default:
      }
    }

    open(m) {
      if (!this.docs.has(m.doc) && this.docs.size >= LIMITS.max_open_docs) {
        this.send(errorMessage('too_many_docs', 'too many open documents', m.doc));
        return;
      }
      // A re-open starts over: the old state and subscription go.
      const ds = {
        name: m.doc, state: 'opening', nextV: 0, len: 0, held: new Map(), resumeFrom: m.v,
      };
      this.docs.set(m.doc, ds);
      ensureDoc(m.doc).then(() => {
        if (this.docs.get(m.doc) !== ds || this.closed) return;
        if (m.v === undefined) {
          this.toShareDB({ a: 's', c: COLLECTION, d: m.doc });
        } else {
          // Catch-up needs the document length at m.v: first the current
          // version, then (if older) ShareDB rebuilds that snapshot from its op log.
          this.toShareDB({ a: 'f', c: COLLECTION, d: m.doc });
        }
      }, (err) => {
        this.docs.delete(m.doc);
        this.send(errorMessage('internal', String(err.message || err), m.doc));
      });
    }

    submit(m) {
      const ds = this.docs.get(m.doc);
      if (!ds) {
        this.send(errorMessage('not_open', 'document is not open', m.id));
        return;
      }
      let op;
      try {
        op = toTextUnicode(m.op);
      } catch (e) {
        this.send(errorMessage('bad_op', e.message, m.id));
        return;
      }
      const seq = this.seq++;
      this.ids.set(seq, m.id);
      if (this.ids.size > MAX_IDS_PER_SESSION) this.ids.delete(this.ids.keys().next().value);
      this.toShareDB({ a: 'op', c: COLLECTION, d: m.doc, v: m.v + 1, src: this.src, seq, op });
    }

    fromShareDB(msg) {
      switch (msg.a) {
        case 'op':
          if (msg.error) {
            const id = this.ids.get(msg.seq);
            this.send(errorMessage(mapShareError(msg.error), msg.error.message, id));
          } else if ('op' in msg || msg.create) {
            this.onShareOp(msg);
          }
          // else: ShareDB's own ack; the op itself comes through the stream (see top).
          return;
        case 's':
        case 'f':
        case 'nf':
          this.onSubscribed(msg);
          return;
        default:
      }
    }

    onSubscribed(msg) {
      const ds = this.docs.get(msg.d);
      if (!ds) return;
      if (msg.error) {
        this.docs.delete(msg.d);
        this.send(errorMessage(mapShareError(msg.error), msg.error.message, msg.d));
        return;
      }
      if (msg.a === 'f' && ds.state === 'opening') {
        const want = ds.resumeFrom + 1;
        if (want > msg.data.v) {
          this.docs.delete(msg.d);
          this.send(errorMessage('version_ahead', 'version is newer than the document', msg.d));
        } else if (want === msg.data.v) {
          this.onSubscribed({ a: 'nf', d: msg.d, v: msg.data.v, data: msg.data.data });
        } else {
          this.toShareDB({ a: 'nf', c: COLLECTION, d: msg.d, v: want });
        }
        return;
      }
      if (msg.a === 'nf' && ds.state === 'opening') {
        // The snapshot at the resume version (the reply is the snapshot itself):
        // its length anchors the catch-up ops; now subscribe from there.
        if (msg.v !== ds.resumeFrom + 1) {
          this.docs.delete(msg.d);
          const code = msg.v < ds.resumeFrom + 1 ? 'version_ahead' : 'version_too_old';
          this.send(errorMessage(code, 'cannot resume from that version', msg.d));
          return;
        }
        ds.len = cpLength(msg.data);
        ds.nextV = msg.v;
        ds.state = 'catchup';
        this.toShareDB({ a: 's', c: COLLECTION, d: msg.d, v: msg.v });
        return;
      }
      if (msg.a !== 's') return;
      if (ds.state === 'catchup') {
        // ShareDB sent every op since the version before this reply.
        ds.subscribedReply = true;
        this.flush(ds);
        return;
      }
      if (ds.state !== 'opening' || !msg.data) return;
      const snap = msg.data;
      ds.state = 'open';
      ds.nextV = snap.v;
      ds.len = cpLength(snap.data);
      this.send({ type: 'snapshot', doc: ds.name, v: snap.v - 1, text: snap.data, peers: [] });
      this.flush(ds);
    }

    onShareOp(msg) {
      const ds = this.docs.get(msg.d);
      // Not open, the create op, or a duplicate (subscribe and submit replies
      // may repeat ops the stream already delivered).
      if (!ds || msg.create || msg.v < ds.nextV) return;
      if (ds.held.size >= MAX_REORDER_OPS) {
        this.ws.close(1011, 'reorder buffer overflow');
        return;
      }
      ds.held.set(msg.v, msg);
      if (ds.state !== 'opening') this.flush(ds);
    }

    flush(ds) {
      for (;;) {
        const msg = ds.held.get(ds.nextV);
        if (!msg) break;
        ds.held.delete(ds.nextV);
        ds.nextV++;
        const { op, len } = toRingpad(msg.op, ds.len);
        const v = msg.v - 1;
        ds.len = len;
        if (msg.src === this.src) {
          this.send({ type: 'ack', doc: ds.name, id: this.ids.get(msg.seq), v });
        } else {
          this.send({ type: 'op', doc: ds.name, v, id: this.idOf(msg.src, msg.seq), op, by: msg.src });
        }
      }
      // Drop what the catch-up stream delivered twice (older than what we have).
      if (ds.held.size) for (const k of ds.held.keys()) if (k < ds.nextV) ds.held.delete(k);
      if (ds.state === 'catchup' && ds.subscribedReply) {
        ds.state = 'open';
        this.send({ type: 'synced', doc: ds.name, v: ds.nextV - 1 });
      }
    }

    onClose() {
      this.closed = true;
      this.docs.clear();
      this.stream.push(null);
      this.stream.destroy();
      setTimeout(() => sessions.delete(this.src), CLOSED_SESSION_IDS_MS).unref();
    }
  }

  function onConnection(ws) {
    const s = new Session(ws);
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        ws.close(1003, 'binary frames are not part of ringpad.v1');
        return;
      }
      let m;
      try {
        m = decodeClientMessage(data.toString('utf8'));
      } catch (e) {
        if (!(e instanceof ProtoError)) throw e;
        s.send(errorMessage(e.code, e.message, e.ref));
        return;
      }
      s.onMessage(m);
    });
    ws.on('close', () => s.onClose());
    ws.on('error', () => ws.terminate());
  }

  const srv = await startServer({ host, port, onConnection });
  const close = async () => {
    await srv.close();
    if (pubsub) await new Promise((resolve) => pubsub.close(() => resolve()));
  };
  return { port: srv.port, backend, close };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runMain('sharedb-peer', createShareDBPeer).catch((e) => {
    process.stderr.write(`sharedb-peer: ${e.stack || e}\n`);
    process.exit(1);
  });
}
