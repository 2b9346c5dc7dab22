// A plain `ws` relay speaking ringpad.v1: per document a version counter and a
// subscriber set; each op is acked with the next version and broadcast as is
// to the other subscribers. No transform: this is the architecture many
// collaborative prototypes start with, and the floor for what "just moving
// frames in Node" costs. It keeps the text only so a late joiner gets a
// snapshot; an op whose base length no longer matches (a concurrent edit the
// relay cannot transform) is still acked and relayed, and counted as diverged.

import { fileURLToPath } from 'node:url';
import {
  ProtoError, applyOp, decodeClientMessage, errorMessage, runMain, startServer, welcomeMessage,
} from '../common/proto.mjs';

const SERVER_NAME = 'ws-relay/ringpad.v1';

export async function createRelay({ host = '127.0.0.1', port = 0 } = {}) {
  const docs = new Map(); // name -> {v, text, subs: Map<session, ws>}
  const stats = { ops: 0, diverged: 0 };
  let nextSession = 1;

  function getDoc(name) {
    let d = docs.get(name);
    if (!d) {
      d = { v: 0, text: '', subs: new Map() };
      docs.set(name, d);
    }
    return d;
  }

  function onConnection(ws) {
    const session = `s${nextSession++}`;
    const open = new Map(); // name -> doc
    const send = (m) => ws.send(JSON.stringify(m));

    function leave(name, d) {
      d.subs.delete(session);
      const frame = JSON.stringify({ type: 'leave', doc: name, session });
      for (const peer of d.subs.values()) peer.send(frame);
    }

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
        send(errorMessage(e.code, e.message, e.ref));
        return;
      }
      switch (m.type) {
        case 'hello':
          send(welcomeMessage(session, SERVER_NAME));
          return;
        case 'ping':
          send({ type: 'pong' });
          return;
        case 'open': {
          if (!open.has(m.doc) && open.size >= 64) {
            send(errorMessage('too_many_docs', 'too many open documents', m.doc));
            return;
          }
          const d = getDoc(m.doc);
          if (m.v !== undefined) {
            // The relay keeps no history: it can only resume from the present.
            if (m.v > d.v) send(errorMessage('version_ahead', 'version is newer than the document', m.doc));
            else if (m.v < d.v) send(errorMessage('version_too_old', 'the relay keeps no history', m.doc));
            else {
              open.set(m.doc, d);
              d.subs.set(session, ws);
              send({ type: 'synced', doc: m.doc, v: d.v });
            }
            return;
          }
          open.set(m.doc, d);
          d.subs.set(session, ws);
          send({ type: 'snapshot', doc: m.doc, v: d.v, text: d.text, peers: [] });
          return;
        }
        case 'op': {
          const d = open.get(m.doc);
          if (!d) {
            send(errorMessage('not_open', 'document is not open', m.id));
            return;
          }
          if (m.v > d.v) {
            send(errorMessage('version_ahead', 'version is newer than the document', m.id));
            return;
          }
          const w = d.v++;
          stats.ops++;
          if (m.v === w) {
            try {
              d.text = applyOp(d.text, m.op);
            } catch (e) {
              if (!(e instanceof ProtoError)) throw e;
              d.v--;
              stats.ops--;
              send(errorMessage('bad_op', e.message, m.id));
              return;
            }
          } else {
            stats.diverged++;
          }
          send({ type: 'ack', doc: m.doc, id: m.id, v: w });
          const frame = JSON.stringify({ type: 'op', doc: m.doc, v: w, id: m.id, op: m.op, by: session });
          for (const [s, peer] of d.subs) if (s !== session) peer.send(frame);
          return;
        }
        case 'presence': {
          const d = open.get(m.doc);
          if (!d) {
            send(errorMessage('not_open', 'document is not open', m.doc));
            return;
          }
          const frame = JSON.stringify({
            type: 'presence', doc: m.doc, session, name: null, color: null, v: m.v, sel: m.sel,
          });
          for (const [s, peer] of d.subs) if (s !== session) peer.send(frame);
          return;
        }
        case 'close': {
          const d = open.get(m.doc);
          if (!d) {
            send(errorMessage('not_open', 'document is not open', m.doc));
            return;
          }
          open.delete(m.doc);
          leave(m.doc, d);
          return;
        }
        default:
          return;
      }
    });
    ws.on('close', () => {
      for (const [name, d] of open) leave(name, d);
      open.clear();
    });
    ws.on('error', () => ws.terminate());
  }

  const srv = await startServer({ host, port, onConnection });
  return { port: srv.port, stats, close: srv.close };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runMain('ws-relay', createRelay).catch((e) => {
    process.stderr.write(`ws-relay: ${e.stack || e}\n`);
    process.exit(1);
  });
}
