// Random property checks of the JS OT algebra with a seeded PRNG: TP1, compose, invert.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ot from '../src/op.js';
import { prng, randomText, randomOp } from './gen.mjs';

const ROUNDS = 1500;

test('TP1: apply(apply(d,a),b\') == apply(apply(d,b),a\'), canonical results', () => {
  const rnd = prng(0xc0ffee);
  for (let i = 0; i < ROUNDS; i++) {
    const d = randomText(rnd, 10), len = ot.cpLength(d);
    const a = randomOp(rnd, len), b = randomOp(rnd, len);
    const [ap, bp] = ot.transform(a, b);
    const left = ot.apply(ot.apply(d, a), bp), right = ot.apply(ot.apply(d, b), ap);
    assert.equal(left, right, JSON.stringify({ d, a, b }));
    assert.deepEqual(ot.normalize(ap), ap);
    assert.deepEqual(ot.normalize(bp), bp);
  }
});

test('tie-break: a\'s insert goes first at one position', () => {
  const rnd = prng(7);
  for (let i = 0; i < 200; i++) {
    const d = randomText(rnd, 6), len = ot.cpLength(d), pos = rnd.int(len + 1);
    const x = 'X' + randomText(rnd, 2), y = 'Y' + randomText(rnd, 2);
    const a = new ot.OpBuilder().retain(pos).insert(x).retain(len - pos).done();
    const b = new ot.OpBuilder().retain(pos).insert(y).retain(len - pos).done();
    const [ap, bp] = ot.transform(a, b);
    const chars = [...d];
    const expected = chars.slice(0, pos).join('') + x + y + chars.slice(pos).join('');
    assert.equal(ot.apply(ot.apply(d, a), bp), expected);
    assert.equal(ot.apply(ot.apply(d, b), ap), expected);
  }
});

test('compose: apply(d, compose(a,b)) == apply(apply(d,a),b)', () => {
  const rnd = prng(42);
  for (let i = 0; i < ROUNDS; i++) {
    const d = randomText(rnd, 10);
    const a = randomOp(rnd, ot.cpLength(d));
    const d1 = ot.apply(d, a);
    const b = randomOp(rnd, ot.cpLength(d1));
    const c = ot.compose(a, b);
    assert.equal(ot.apply(d, c), ot.apply(d1, b), JSON.stringify({ d, a, b }));
    assert.deepEqual(ot.normalize(c), c);
  }
});

test('invert: apply(apply(d,op), invert(op,d)) == d', () => {
  const rnd = prng(99);
  for (let i = 0; i < ROUNDS; i++) {
    const d = randomText(rnd, 10), op = randomOp(rnd, ot.cpLength(d));
    const inv = ot.invert(op, d);
    assert.equal(ot.apply(ot.apply(d, op), inv), d);
    assert.equal(ot.baseLength(inv), ot.targetLength(op));
  }
});

test('transformPosition agrees with transform of a one-character marker', () => {
  const rnd = prng(5);
  for (let i = 0; i < 500; i++) {
    const d = randomText(rnd, 8), len = ot.cpLength(d), op = randomOp(rnd, len), pos = rnd.int(len + 1);
    // A marker insert ordered after op's inserts at pos behaves as side 'before'... of the op's
    // inserts, i.e. it ends up after them: that is side 'after'.
    const marker = new ot.OpBuilder().retain(pos).insert('\u0000').retain(len - pos).done();
    const [, opAfterMarker] = ot.transform(marker, op); // marker first: op's inserts at pos go after it
    const text = ot.apply(ot.apply(d, marker), opAfterMarker);
    assert.equal(ot.transformPosition(pos, op, 'before'), [...text].indexOf('\u0000'));
  }
});

test('errors: mismatched lengths and invalid components are refused', () => {
  assert.throws(() => ot.compose([1], [2]), (e) => e.code === 'compose_mismatch');
  assert.throws(() => ot.transform([1], [2]), (e) => e.code === 'transform_mismatch');
  assert.throws(() => ot.invert([2], 'abc'), (e) => e.code === 'base_length');
  assert.throws(() => ot.normalize([1.5]), (e) => e.code === 'count_range');
  assert.throws(() => ot.normalize(['\ud800']), (e) => e.code === 'lone_surrogate');
  assert.throws(() => ot.normalize([true]), (e) => e.code === 'bad_component');
});

test('splitOp: compose(first, rest) == op, first within the byte budget', () => {
  const rnd = prng(4242);
  for (let i = 0; i < 800; i++) {
    const d = randomText(rnd, 10), op = randomOp(rnd, ot.cpLength(d));
    const budget = 4 + rnd.int(12);
    const [first, rest] = ot.splitOp(op, budget);
    let bytes = 0;
    for (const c of first) if (typeof c === 'string') bytes += ot.utf8Length(c);
    assert.ok(bytes <= budget, `${bytes} > ${budget}`);
    const whole = rest ? ot.compose(first, rest) : first;
    assert.equal(ot.apply(d, whole), ot.apply(d, op), JSON.stringify({ d, op, first, rest }));
    if (rest) assert.ok(!ot.isNoop(first));
  }
  assert.deepEqual(ot.splitOp([3, 'ab'], 10), [[3, 'ab'], null]);
  assert.deepEqual(ot.splitOp([1, '😀😀', -1], 4), [[1, '😀', 1], [2, '😀', -1]]);
  assert.equal(ot.utf8Length('aé中😀'), 1 + 2 + 3 + 4);
});
