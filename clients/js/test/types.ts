// Compiled by `tsc -p tsconfig.json` (never run): the public types used as the
// README uses them, so a wrong or missing declaration fails the SDK suite.
import WebSocket from 'ws';
import { Client, Doc, RingpadError, apply, transform, type Op, type Peer } from 'ringpad-client';

async function example(): Promise<string> {
  const client = new Client('ws://127.0.0.1:8080/ws', { WebSocket, name: 'bot', token: () => process.env.RINGPAD_TOKEN });
  client.on('status', (s) => console.log(s.state, s.reason));
  client.on('error', (e: RingpadError) => console.log(e.code));
  const doc: Doc = await client.open('notes/today');
  doc.on('change', (c) => console.log(c.op, c.by, c.v + 1, c.resync));
  doc.on('ack', (a) => console.log(a.id, a.v));
  doc.on('presence', (p: Peer) => console.log(p.session, p.sel[0]?.[1]));
  doc.insert(doc.length, 'hi');
  doc.edit([doc.length, '!']);
  doc.setSelection([[0, 0]]);
  await doc.whenSynced();
  const [a2, b2]: [Op, Op] = transform([1, 'x'], [1, 'y']);
  client.close();
  return apply('a', a2) + apply('a', b2) + (doc.v ?? 0) + doc.state;
}
void example;
