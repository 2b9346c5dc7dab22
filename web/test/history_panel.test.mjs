// The history panel's pure parts (src/editor/history-panel.js): what a step
// changed, authorship spans cut on code points, an author's colour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorColor, changedRange, spanPieces } from '../src/editor/history-panel.js';

test('changedRange is the middle that differs, in the newer text', () => {
  assert.deepEqual(changedRange('alpha ', 'alpha beta'), [6, 10]);
  assert.deepEqual(changedRange('alpha beta', 'alpha '), [6, 6], 'a deletion marks nothing');
  assert.deepEqual(changedRange('abc', 'aXc'), [1, 2]);
  assert.deepEqual(changedRange('same', 'same'), [4, 4]);
  assert.deepEqual(changedRange('', 'new'), [0, 3]);
  assert.deepEqual(changedRange('aaa', 'aaaa'), [3, 4], 'prefix and suffix never overlap');
});

test('spanPieces cuts by code points, so an emoji stays whole', () => {
  const text = 'a😀b日本';
  assert.deepEqual(spanPieces(text, [{ by: 'x', from: 0, to: 2 }, { by: null, from: 2, to: 3 }, { by: 'y', from: 3, to: 5 }]),
    [{ by: 'x', text: 'a😀' }, { by: null, text: 'b' }, { by: 'y', text: '日本' }]);
  assert.deepEqual(spanPieces('', []), []);
});

test('authorColor is stable per name and differs between names', () => {
  assert.equal(authorColor('alice'), authorColor('alice'));
  assert.notEqual(authorColor('alice'), authorColor('bob'));
  assert.match(authorColor('alice'), /^hsl\(\d+ 70% 80%\)$/);
});
