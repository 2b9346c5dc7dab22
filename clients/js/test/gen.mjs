// Seeded generators for property tests (mulberry32: small, deterministic).
import { OpBuilder, cpLength } from '../src/op.js';

export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (n) => Math.floor(next() * n); // 0 .. n-1
  next.pick = (arr) => arr[next.int(arr.length)];
  return next;
}

// ASCII, Latin, CJK, combining marks, astral emoji, a ZWJ sequence, line breaks.
const ALPHABET = ['a', 'b', 'z', ' ', 'é', '中', '文', '\u0301', '😀', '🎉', '👩‍💻', '\n', '\r\n', '𝄞'];

export function randomText(rnd, maxPieces = 8) {
  let s = '';
  const n = rnd.int(maxPieces + 1);
  for (let i = 0; i < n; i++) s += rnd.pick(ALPHABET);
  return s;
}

/** A random op on a text of `len` code points. */
export function randomOp(rnd, len) {
  const b = new OpBuilder();
  let left = len;
  while (left > 0) {
    const r = rnd();
    const n = 1 + rnd.int(Math.min(left, 5));
    if (r < 0.2) b.insert(randomText(rnd, 3) || 'x');
    else if (r < 0.45) { b.delete(n); left -= n; } else { b.retain(n); left -= n; }
  }
  if (rnd() < 0.3) b.insert(randomText(rnd, 3) || 'y');
  return b.done();
}

export { cpLength };
