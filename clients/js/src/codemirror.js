// The edge between CodeMirror (UTF-16 positions, ChangeSets) and the protocol
// (code point ops). Work per edit is O(changes · log pairs + inserted text):
// nothing here walks the document.

import { OpBuilder, cpLength } from './op.js';

/**
 * A CodeMirror ChangeSet on `startDoc` as an op and its inverse, in code points.
 * `index` must describe startDoc (call index.applyChanges(changes) afterwards).
 * @returns {{op: Array, inverse: Array}}
 */
export function changesToOp(changes, startDoc, index) {
  const op = new OpBuilder(), inv = new OpBuilder();
  let lastCp = 0;
  changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
    const fromCp = index.toCp(fromA), toCp = index.toCp(toA);
    op.retain(fromCp - lastCp);
    inv.retain(fromCp - lastCp);
    const text = inserted.length ? inserted.toString() : '';
    op.insert(text);
    op.delete(toCp - fromCp);
    if (toCp > fromCp) inv.insert(startDoc.sliceString(fromA, toA));
    inv.delete(cpLength(text));
    lastCp = toCp;
  });
  const end = index.lengthCp;
  op.retain(end - lastCp);
  inv.retain(end - lastCp);
  return { op: op.done(), inverse: inv.done() };
}

/**
 * An op (code points, on the document `index` describes) as CodeMirror change
 * specs in UTF-16 positions of that document.
 */
export function opToChanges(op, index) {
  const specs = [];
  let cp = 0;
  for (let i = 0; i < op.length; i++) {
    const c = op[i];
    if (typeof c === 'number' && c > 0) { cp += c; continue; }
    // An insert and/or a delete at cp: one replacement.
    let insert = '';
    let del = 0;
    if (typeof c === 'string') {
      insert = c;
      const next = op[i + 1];
      if (typeof next === 'number' && next < 0) { del = -next; i++; }
    } else {
      del = -c;
    }
    const from = index.toU16(cp);
    const to = del ? index.toU16(cp + del) : from;
    specs.push({ from, to, insert });
    cp += del;
  }
  if (cp !== index.lengthCp) throw new Error(`op spans ${cp} code points, the document has ${index.lengthCp}`);
  return specs;
}
