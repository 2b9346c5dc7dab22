// Undo of one's own edits through collaborators' edits (src/undo.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UndoStack } from '../src/undo.js';
import * as ot from '../src/op.js';
import { prng, randomOp } from './gen.mjs';

// A local text with its undo stack; remote ops come as ops on the current text.
function editor(text) {
  const e = { text, undo: new UndoStack(), t: 0 };
  e.local = (op, kind = 'edit') => {
    const inv = ot.invert(op, e.text);
    e.text = ot.apply(e.text, op);
    e.undo.record(inv, { kind, now: (e.t += 1000) });
  };
  e.remote = (op) => { e.text = ot.apply(e.text, op); e.undo.transformRemote(op); };
  e.doUndo = () => { const op = e.undo.popUndo(); if (op) e.local(op, 'undo'); return op; };
  e.doRedo = () => { const op = e.undo.popRedo(); if (op) e.local(op, 'redo'); return op; };
  return e;
}

test('undo removes only our text, a collaborator\'s stays', () => {
  const e = editor('hello');
  e.local([5, ' world']);
  e.remote(['>> ', 11]);
  e.remote([8, 'big', 6]);
  assert.equal(e.text, '>> hellobig world');
  e.doUndo();
  assert.equal(e.text, '>> hellobig');
  e.doRedo();
  assert.equal(e.text, '>> hellobig world');
});

test('undo of a delete restores our deleted text where it now belongs', () => {
  const e = editor('abcdef');
  e.local([2, -2, 2]); // delete "cd"
  e.remote(['XY', 4]); // someone inserts at the start
  e.doUndo();
  assert.equal(e.text, 'XYabcdef');
});

test('keystrokes close together undo as one; a new edit clears redo', () => {
  const u = new UndoStack({ groupMs: 500 });
  let text = '';
  for (const [ch, at] of [['a', 0], ['b', 100], ['c', 200]]) {
    const op = new ot.OpBuilder().retain(ot.cpLength(text)).insert(ch).done();
    u.record(ot.invert(op, text), { now: at });
    text = ot.apply(text, op);
  }
  assert.equal(u.undoStack.length, 1);
  const undo = u.popUndo();
  assert.equal(ot.apply(text, undo), '');
  u.record(['abc'], { kind: 'undo' }); // the inverse of that undo, for redo
  assert.equal(u.canRedo, true);
  u.record([1, -1], { kind: 'edit', now: 5000 });
  assert.equal(u.canRedo, false);
});

test('entries whose text others deleted are dropped', () => {
  const e = editor('abc');
  e.local([3, 'X']);
  e.remote([-4]); // everything deleted by someone else
  assert.equal(e.undo.canUndo, false);
  assert.equal(e.doUndo(), null);
  assert.equal(e.text, '');
});

test('random: undoing everything of ours leaves exactly the others\' effect', () => {
  const rnd = prng(31337);
  for (let round = 0; round < 150; round++) {
    // Our edits only insert "our" marker text; others only insert/delete their own letters.
    const e = editor('base');
    let ours = 0;
    for (let k = 0; k < 8; k++) {
      const len = ot.cpLength(e.text);
      if (rnd() < 0.5) {
        const pos = rnd.int(len + 1);
        e.local(new ot.OpBuilder().retain(pos).insert('#').retain(len - pos).done());
        ours++;
      } else {
        const op = randomOp(rnd, len);
        // Others never touch '#': keep deletes off our markers by filtering.
        const safe = [];
        let at = 0;
        const chars = [...e.text];
        for (const c of op) {
          if (typeof c === 'number' && c < 0) {
            for (let j = 0; j < -c; j++) safe.push(chars[at + j] === '#' ? 1 : -1);
            at += -c;
          } else if (typeof c === 'number') { safe.push(c); at += c; } else safe.push(c.replaceAll('#', '+'));
        }
        e.remote(ot.normalize(safe));
      }
    }
    for (let k = 0; k < 20 && e.undo.canUndo; k++) e.doUndo();
    assert.equal([...e.text].filter((c) => c === '#').length, 0, `round ${round}: ${e.text} (${ours} ours)`);
  }
});
