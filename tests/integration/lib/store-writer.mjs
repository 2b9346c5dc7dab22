// Writes a document's files in the store's on-disk format (src/store/store.h)
// without a server, so a test can start one on a long history in a second:
// log segments of records, checkpoints beside them. Independent of the C
// code on purpose: it pins the format down from the outside.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const CRC_TABLE = (() => {
    const t = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
        let c = i;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
        t[i] = c >>> 0;
    }
    return t;
})();

/** CRC-32C (Castagnoli) of the byte chunks, in order. */
export function crc32c(...chunks) {
    let c = 0xffffffff;
    for (const buf of chunks) for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
}

const pad20 = (v) => String(v).padStart(20, '0');

function segmentHeader(start) {
    const b = Buffer.alloc(24);
    b.write('RPLOG001', 0, 'latin1');
    b.writeBigUInt64LE(BigInt(start), 8);
    b.writeUInt32LE(crc32c(b.subarray(0, 16)), 16);
    return b;
}

/** One framed op record: {v (base), time, id, by, op (array)}. */
export function record({ v, time, id, by, op }) {
    const idb = Buffer.from(id), byb = Buffer.from(by), opb = Buffer.from(JSON.stringify(op));
    const payload = Buffer.alloc(25 + idb.length + byb.length + opb.length);
    let o = 0;
    payload[o++] = 1;
    payload.writeBigUInt64LE(BigInt(v), o); o += 8;
    payload.writeBigInt64LE(BigInt(time), o); o += 8;
    payload.writeUInt16LE(idb.length, o); o += 2;
    idb.copy(payload, o); o += idb.length;
    payload.writeUInt16LE(byb.length, o); o += 2;
    byb.copy(payload, o); o += byb.length;
    payload.writeUInt32LE(opb.length, o); o += 4;
    opb.copy(payload, o);
    const head = Buffer.alloc(12);
    head.write('RPR1', 0, 'latin1');
    head.writeUInt32LE(payload.length, 4);
    head.writeUInt32LE(crc32c(head.subarray(4, 8), payload), 8);
    return Buffer.concat([head, payload]);
}

/** A checkpoint image: the text at version v. */
export function checkpoint(v, text) {
    const t = Buffer.from(text);
    const b = Buffer.alloc(28 + t.length);
    b.write('RPSNAP01', 0, 'latin1');
    b.writeBigUInt64LE(BigInt(v), 8);
    b.writeBigUInt64LE(BigInt(t.length), 16);
    t.copy(b, 24);
    b.writeUInt32LE(crc32c(b.subarray(0, 24 + t.length)), 24 + t.length);
    return b;
}

/**
 * Writes document `name` (a plain name: no '/') under dataDir from `ops`
 * (records in version order from 0), a new segment and a checkpoint every
 * `every` ops; texts[k] is the text at version k * every.
 */
export function writeDoc(dataDir, name, ops, every, texts) {
    const dir = path.join(dataDir, name);
    mkdirSync(dir, { recursive: true });
    for (let start = 0; start < ops.length; start += every) {
        const parts = [segmentHeader(start)];
        for (let v = start; v < Math.min(start + every, ops.length); v++) parts.push(record(ops[v]));
        writeFileSync(path.join(dir, `log.${pad20(start)}`), Buffer.concat(parts));
        if (start > 0) writeFileSync(path.join(dir, `ckpt.${pad20(start)}`), checkpoint(start, texts[start / every]));
    }
}
