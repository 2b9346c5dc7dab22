// UTF-16 <-> code point conversion at the CodeMirror edge (src/cpindex.js, src/codemirror.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EditorState } from '@codemirror/state';
import { CpIndex } from '../src/cpindex.js';
import { changesToOp, opToChanges } from '../src/codemirror.js';
import * as ot from '../src/op.js';
import { prng, randomText, randomOp } from './gen.mjs';

// Brute force: UTF-16 offset of every code point boundary.
function boundaries(s) {
  const out = [0];
  let u = 0;
  for (const ch of s) { u += ch.length; out.push(u); }
  return out;
}

function checkIndex(index, s) {
  const b = boundaries(s);
  assert.equal(index.length, s.length);
  assert.equal(index.lengthCp, b.length - 1);
  for (let cp = 0; cp < b.length; cp++) {
    assert.equal(index.toU16(cp), b[cp], `toU16(${cp}) in ${JSON.stringify(s)}`);
    assert.equal(index.toCp(b[cp]), cp, `toCp(${b[cp]}) in ${JSON.stringify(s)}`);
  }
}

const state = (doc) => EditorState.create({ doc, extensions: EditorState.lineSeparator.of('\n') });

test('emoji, ZWJ sequences, CJK, combining marks and \\r\\n convert both ways', () => {
  const samples = [
    '', 'plain ascii', '😀', 'a😀b', '👩‍💻 ok', '中文字 and 國', 'e\u0301 cafe\u0301', 'a\r\nb\r\n',
    '🇫🇷🇩🇪', '𝄞 music', '😀😀😀', 'x\n😀\r\n中\u0301👩‍💻',
  ];
  for (const s of samples) checkIndex(new CpIndex(s), s);
  const idx = new CpIndex('a😀b');
  assert.equal(idx.toCp(2), 1, 'a position inside a pair maps to the pair start');
  assert.equal(idx.lengthCp, 3);
  assert.throws(() => idx.toU16(4), RangeError);
  assert.throws(() => idx.toCp(5), RangeError);
  assert.throws(() => idx.replace(2, 1, ''), RangeError);
});

test('\\r\\n is two code points and two units: CodeMirror keeps it with "\\n" as the separator', () => {
  const st = state('a\r\nb');
  assert.equal(st.doc.length, 4);
  assert.equal(st.doc.lines, 2);
  assert.equal(st.doc.toString(), 'a\r\nb');
  const idx = new CpIndex(st.doc.toString());
  const tr = st.update({ changes: { from: 4, insert: '\r\n😀' } });
  const { op } = changesToOp(tr.changes, st.doc, idx);
  assert.deepEqual(op, [4, '\r\n😀']);
  idx.applyChanges(tr.changes);
  checkIndex(idx, tr.state.doc.toString());
});

test('built from chunks: a pair split across chunks is found', () => {
  const s = 'ab😀cd👩‍💻';
  for (let cut = 0; cut <= s.length; cut++) checkIndex(new CpIndex([s.slice(0, cut), s.slice(cut)]), s);
  const st = state('line 😀\n'.repeat(1000));
  checkIndex(new CpIndex(st.doc.iter()), st.doc.toString().slice(0));
});

test('random CodeMirror edits: the op matches the text change, the inverse undoes it, the index follows', () => {
  const rnd = prng(2024);
  let st = state('start 😀 中文');
  const idx = new CpIndex(st.doc.toString());
  for (let i = 0; i < 400; i++) {
    const before = st.doc.toString();
    const b = boundaries(before);
    // 1..3 non-overlapping changes at code point boundaries.
    const points = Array.from({ length: 2 * (1 + rnd.int(3)) }, () => b[rnd.int(b.length)]).sort((x, y) => x - y);
    const changes = [];
    for (let k = 0; k < points.length; k += 2) changes.push({ from: points[k], to: points[k + 1], insert: randomText(rnd, 3) });
    const tr = st.update({ changes });
    const { op, inverse } = changesToOp(tr.changes, st.doc, idx);
    idx.applyChanges(tr.changes);
    st = tr.state;
    const after = st.doc.toString();
    assert.equal(ot.apply(before, op), after);
    assert.equal(ot.apply(after, inverse), before);
    assert.deepEqual(ot.normalize(op), op);
    if (i % 20 === 0) checkIndex(idx, after);
  }
  checkIndex(idx, st.doc.toString());
});

test('random remote ops: opToChanges lands every insert and delete on the right code point', () => {
  const rnd = prng(77);
  let st = state('👩‍💻 e\u0301 中 \r\n 😀');
  const idx = new CpIndex(st.doc.toString());
  for (let i = 0; i < 400; i++) {
    const before = st.doc.toString();
    const op = randomOp(rnd, idx.lengthCp);
    const tr = st.update({ changes: opToChanges(op, idx) });
    idx.applyChanges(tr.changes);
    st = tr.state;
    assert.equal(st.doc.toString(), ot.apply(before, op));
  }
  checkIndex(idx, st.doc.toString());
  assert.throws(() => opToChanges([idx.lengthCp + 1], idx));
});

test('a 1 MB paste and a 5 MB document: one op, index stays exact', () => {
  const big = ('lorem ipsum 😀 中文\n').repeat(5 * 1024 * 1024 / 20);
  let st = state(big);
  const idx = new CpIndex(st.doc.iter());
  assert.equal(idx.lengthCp, [...big].length);
  const paste = 'pasted 👩‍💻 text\n'.repeat(1024 * 1024 / 18);
  const at = st.doc.length >> 1;
  const tr = st.update({ changes: { from: at, insert: paste } });
  const { op } = changesToOp(tr.changes, st.doc, idx);
  assert.equal(op.length, 3);
  assert.equal(op[1], paste);
  idx.applyChanges(tr.changes);
  st = tr.state;
  // Spot checks around the paste and at the ends.
  const s = st.doc.toString();
  for (const u of [0, at, at + paste.length, s.length]) {
    const cp = [...s.slice(0, u)].length;
    assert.equal(idx.toCp(u), cp);
    assert.equal(idx.toU16(cp), u);
  }
  // Typing after the paste: each keystroke is a small op.
  for (let k = 0; k < 50; k++) {
    const pos = at + paste.length + k;
    const t2 = st.update({ changes: { from: pos, insert: k % 2 ? '😀' : 'x' } });
    const r = changesToOp(t2.changes, st.doc, idx);
    assert.equal(r.op.length, 3);
    idx.applyChanges(t2.changes);
    st = t2.state;
    if (k % 2) k++; // keep positions on boundaries after an emoji (2 units)
  }
});
