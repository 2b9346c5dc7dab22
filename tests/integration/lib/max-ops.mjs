// Maximal ops for the memory tests: one connection replaces a document's whole
// text `ops` times with `textBytes` of one letter ([text, -len]), each op sent
// after the previous one's ack; onOp runs after every ack (to sample RSS).
import assert from 'node:assert/strict';
import { RpConn } from './rp-client.mjs';

/** Resolves with the document's version after the last op. */
export async function replaceLoop(port, doc, { ops, textBytes }, onOp) {
    const c = await RpConn.open(port);
    try {
        c.send({ type: 'hello', name: doc });
        c.send({ type: 'open', doc });
        const snap = await c.type('snapshot', 5000);
        let v = snap.v;
        let len = [...snap.text].length;
        for (let i = 0; i < ops; i++) {
            const text = String.fromCharCode(97 + (i % 26)).repeat(textBytes);
            const id = `${doc}:${i}`;
            c.send({ type: 'op', doc, v, id, op: len ? [text, -len] : [text] });
            const m = await c.next((x) => (x.type === 'ack' && x.id === id) || x.type === 'error', 10000, `ack of ${id}`);
            assert.equal(m.type, 'ack', `op ${id}: ${JSON.stringify(m).slice(0, 300)}`);
            assert.equal(m.v, v);
            v += 1;
            len = textBytes;
            // the client holds no megabytes either: what it received is dropped
            c.msgs.length = 0;
            c.seen = 0;
            onOp();
        }
        return v;
    } finally {
        c.close();
    }
}

/**
 * `docs` documents mem-0, mem-1, ... each take replaceLoop's ops at once;
 * `sample` runs after every ack and once more at the end. Then mem-0 reads
 * back over REST whole and current (the documents are still loaded).
 */
export async function replaceDocs(port, docs, { ops, textBytes }, sample) {
    const versions = await Promise.all(Array.from({ length: docs }, (_, k) => replaceLoop(port, `mem-${k}`, { ops, textBytes }, sample)));
    sample();
    assert.deepEqual(versions, Array(docs).fill(ops));
    const r = await fetch(`http://127.0.0.1:${port}/api/docs/mem-0`);
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.v, ops);
    assert.equal(body.text.length, textBytes);
}

/** The server's peak RSS: sample() reads it now (not once it exited), peakKb() the highest so far. */
export function rssPeak(srv) {
    let peakKb = srv.rssKb();
    return {
        sample: () => { try { peakKb = Math.max(peakKb, srv.rssKb()); } catch { /* exited */ } },
        peakKb: () => peakKb,
    };
}
