// The OT algebra of ringpad.v1 (docs/PROTOCOL.md §6, §8), the same as ot/ in C.
//
// An op is the wire form itself: an array whose positive integers retain,
// negative integers delete and strings insert, spanning the whole document.
// Every count is in Unicode code points, never UTF-16 units: "😀" counts 1.
// Every function here returns canonical ops (adjacent components merged, an
// insert before a delete at one position, a trailing retain kept).

export class OtError extends Error {
  /** @param {string} code one of the names of tests/vectors/README.md */
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

/** Code points in a JS string (lone surrogates count one each). */
export function cpLength(s) {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { n--; i++; }
    }
  }
  return n;
}

/** UTF-16 offset of code point `cp` in `s`, scanning from UTF-16 offset `from` (a code point boundary). */
function cpAdvance(s, cp, from = 0) {
  let i = from;
  while (cp > 0 && i < s.length) {
    const c = s.charCodeAt(i);
    i += (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length &&
          (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) ? 2 : 1;
    cp--;
  }
  return i;
}

/** Substring by code point positions. */
export function cpSlice(s, startCp, endCp) {
  const a = cpAdvance(s, startCp);
  return s.slice(a, endCp === undefined ? s.length : cpAdvance(s, endCp - startCp, a));
}

/** Builds a canonical op one component at a time (mirrors ot_op_retain/insert/delete). */
export class OpBuilder {
  constructor() { this.ops = []; }
  retain(n) {
    if (n <= 0) return this;
    const o = this.ops, last = o[o.length - 1];
    if (typeof last === 'number' && last > 0) o[o.length - 1] = last + n;
    else o.push(n);
    return this;
  }
  insert(s) {
    if (s === '') return this;
    const o = this.ops, last = o[o.length - 1];
    if (typeof last === 'string') {
      o[o.length - 1] = last + s;
    } else if (typeof last === 'number' && last < 0) {
      // Canonical order: the insert goes before a delete at the same place.
      const prev = o[o.length - 2];
      if (typeof prev === 'string') o[o.length - 2] = prev + s;
      else o.splice(o.length - 1, 0, s);
    } else {
      o.push(s);
    }
    return this;
  }
  delete(n) {
    if (n <= 0) return this;
    const o = this.ops, last = o[o.length - 1];
    if (typeof last === 'number' && last < 0) o[o.length - 1] = last - n;
    else o.push(-n);
    return this;
  }
  done() { return this.ops; }
}

function isCount(x) {
  return typeof x === 'number' && Number.isSafeInteger(x);
}

/** Validates any op array (as JSON.parse gives it) and returns its canonical form. */
export function normalize(op) {
  if (!Array.isArray(op)) throw new OtError('not_array', 'an op is an array');
  const b = new OpBuilder();
  for (let i = 0; i < op.length; i++) {
    const c = op[i];
    if (typeof c === 'string') {
      if (c === '') throw new OtError('empty_insert', `op[${i}]: empty insert`);
      if (c.includes('\u0000')) throw new OtError('bad_utf8', `op[${i}]: NUL in an insert`);
      if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(c))
        throw new OtError('lone_surrogate', `op[${i}]: lone surrogate`);
      b.insert(c);
    } else if (typeof c === 'number') {
      if (c === 0) throw new OtError('zero_count', `op[${i}]: count of zero`);
      if (!isCount(c)) throw new OtError('count_range', `op[${i}]: not an integer count`);
      if (c > 0) b.retain(c); else b.delete(-c);
    } else {
      throw new OtError('bad_component', `op[${i}]: neither a count nor a string`);
    }
  }
  return b.done();
}

/** Retains + deletes: the length of the text the op applies to. */
export function baseLength(op) {
  let n = 0;
  for (const c of op) if (typeof c === 'number') n += Math.abs(c);
  return n;
}

/** Retains + inserts: the length of the text after the op. */
export function targetLength(op) {
  let n = 0;
  for (const c of op) {
    if (typeof c === 'string') n += cpLength(c);
    else if (c > 0) n += c;
  }
  return n;
}

export function isNoop(op) {
  return op.every((c) => typeof c === 'number' && c > 0);
}

/** apply(text, op) on a JS string; throws OtError('base_length') when op does not span text. */
export function apply(text, op) {
  if (baseLength(op) !== cpLength(text)) throw new OtError('base_length', 'op does not span the text');
  const parts = [];
  let at = 0; // UTF-16 offset in text
  for (const c of op) {
    if (typeof c === 'string') parts.push(c);
    else if (c > 0) { const end = cpAdvance(text, c, at); parts.push(text.slice(at, end)); at = end; }
    else at = cpAdvance(text, -c, at);
  }
  return parts.join('');
}

// A reader that consumes an op piecewise, as the C `cursor`.
class Reader {
  constructor(op) { this.op = op; this.i = -1; this.next(); }
  next() {
    this.i++;
    this.used = 0; // code points of the current component already consumed
    this.usedU16 = 0; // the same, in UTF-16 units of an insert's string
    const c = this.op[this.i];
    this.len = c === undefined ? 0 : typeof c === 'string' ? cpLength(c) : Math.abs(c);
  }
  kind() {
    const c = this.op[this.i];
    if (c === undefined) return 0;
    return typeof c === 'string' ? 'ins' : c > 0 ? 'ret' : 'del';
  }
  remaining() { return this.len - this.used; }
  /** Consumes n code points; returns the inserted text for inserts. */
  take(n) {
    const c = this.op[this.i];
    let text = '';
    if (typeof c === 'string') {
      const end = n === this.len - this.used ? c.length : cpAdvance(c, n, this.usedU16);
      text = c.slice(this.usedU16, end);
      this.usedU16 = end;
    }
    this.used += n;
    if (this.used === this.len) this.next();
    return text;
  }
  /** Consumes the rest of the current component: its text (insert) or count. */
  takeAll() {
    const c = this.op[this.i];
    const r = typeof c === 'string' ? c.slice(this.usedU16) : this.len - this.used;
    this.next();
    return r;
  }
}

/** compose(a, b): a then b as one op (b's base is a's target). */
export function compose(a, b) {
  if (targetLength(a) !== baseLength(b)) throw new OtError('compose_mismatch', 'b does not follow a');
  const out = new OpBuilder();
  const ia = new Reader(a), ib = new Reader(b);
  for (;;) {
    const ka = ia.kind(), kb = ib.kind();
    if (!ka && !kb) break;
    if (ka === 'del') { out.delete(ia.takeAll()); continue; }
    if (kb === 'ins') { out.insert(ib.takeAll()); continue; }
    const n = Math.min(ia.remaining(), ib.remaining());
    if (ka === 'ret' && kb === 'ret') { out.retain(n); ia.take(n); ib.take(n); }
    else if (ka === 'ins' && kb === 'del') { ia.take(n); ib.take(n); }
    else if (ka === 'ins' && kb === 'ret') { out.insert(ia.take(n)); ib.take(n); }
    else { out.delete(n); ia.take(n); ib.take(n); } // retain, delete
  }
  return out.done();
}

/**
 * transform(a, b) for concurrent a and b on one text: [a', b'] with
 * apply(apply(d, a), b') == apply(apply(d, b), a'). Tie-break: a's insert first.
 * Call it as transform(op being ordered, op already ordered) — on a client,
 * transform(pending, incoming).
 */
export function transform(a, b) {
  if (baseLength(a) !== baseLength(b)) throw new OtError('transform_mismatch', 'ops on different texts');
  const ap = new OpBuilder(), bp = new OpBuilder();
  const ia = new Reader(a), ib = new Reader(b);
  for (;;) {
    const ka = ia.kind(), kb = ib.kind();
    if (!ka && !kb) break;
    if (ka === 'ins') { const s = ia.takeAll(); ap.insert(s); bp.retain(cpLength(s)); continue; }
    if (kb === 'ins') { const s = ib.takeAll(); ap.retain(cpLength(s)); bp.insert(s); continue; }
    const n = Math.min(ia.remaining(), ib.remaining());
    if (ka === 'ret' && kb === 'ret') { ap.retain(n); bp.retain(n); }
    else if (ka === 'del' && kb === 'ret') ap.delete(n);
    else if (ka === 'ret' && kb === 'del') bp.delete(n);
    ia.take(n); ib.take(n);
  }
  return [ap.done(), bp.done()];
}

/** The op that undoes `op` applied to `before` (a JS string). */
export function invert(op, before) {
  if (baseLength(op) !== cpLength(before)) throw new OtError('base_length', 'op does not span the text');
  const out = new OpBuilder();
  let at = 0;
  for (const c of op) {
    if (typeof c === 'string') out.delete(cpLength(c));
    else if (c > 0) { out.retain(c); at = cpAdvance(before, c, at); }
    else { const end = cpAdvance(before, -c, at); out.insert(before.slice(at, end)); at = end; }
  }
  return out.done();
}

/**
 * A position after op. side 'before': an insert exactly at pos goes after it
 * (other people's cursors); 'after': it pushes the position past it.
 * A position inside a deleted range moves to its start; past the end it clamps.
 */
export function transformPosition(pos, op, side = 'before') {
  const base = baseLength(op);
  if (pos > base) pos = base;
  let at = 0, moved = pos;
  for (const c of op) {
    if (at > pos) break;
    if (typeof c === 'string') {
      if (at < pos || side === 'after') moved += cpLength(c);
    } else if (c > 0) {
      at += c;
      if (at > pos) return moved;
    } else {
      moved -= Math.min(-c, pos - at);
      at += -c;
    }
  }
  return moved;
}

/** UTF-8 bytes of a JS string (no allocation). */
export function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { n += 4; i++; }
    else n += 3;
  }
  return n;
}

/**
 * Splits an op whose inserts hold more than `maxInsertBytes` of UTF-8 into
 * [first, rest] with compose(first, rest) == op and first within the budget
 * (the server refuses ops over max_op_bytes: a large paste goes in pieces).
 * Returns [op, null] when it fits.
 */
export function splitOp(op, maxInsertBytes) {
  let bytes = 0;
  for (const c of op) if (typeof c === 'string') bytes += utf8Length(c);
  if (bytes <= maxInsertBytes) return [op, null];
  const first = new OpBuilder();
  let budget = maxInsertBytes;
  let i = 0;
  let outLen = 0; // first's target length so far
  let consumed = 0; // base length consumed by first
  let tail = ''; // the part of the cut insert left for rest
  for (; i < op.length; i++) {
    const c = op[i];
    if (typeof c === 'number') {
      if (c > 0) { first.retain(c); outLen += c; consumed += c; } else { first.delete(-c); consumed += -c; }
      continue;
    }
    const b = utf8Length(c);
    if (b <= budget) { first.insert(c); budget -= b; outLen += cpLength(c); continue; }
    // Cut this insert at a code point boundary within the budget.
    let u = 0, used = 0;
    while (u < c.length) {
      const code = c.codePointAt(u);
      const w = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
      if (used + w > budget) break;
      used += w;
      u += code > 0xffff ? 2 : 1;
    }
    // u > 0 whenever the budget is >= 4 bytes and nothing was inserted before.
    const head = c.slice(0, u);
    first.insert(head);
    outLen += cpLength(head);
    tail = c.slice(u);
    i++;
    break;
  }
  const baseLen = baseLength(op);
  first.retain(baseLen - consumed);
  const rest = new OpBuilder().retain(outLen).insert(tail);
  for (; i < op.length; i++) {
    const c = op[i];
    if (typeof c === 'string') rest.insert(c);
    else if (c > 0) rest.retain(c);
    else rest.delete(-c);
  }
  return [first.done(), rest.done()];
}
