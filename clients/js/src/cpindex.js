// Converting between CodeMirror positions (UTF-16 units) and protocol
// positions (code points) without scanning the document.
//
// The two differ only at astral code points (emoji and the like), which take
// two UTF-16 units and count one. CJK, combining marks and ZWJ are in the BMP:
// one unit, one code point. The editor is configured with "\n" as its only line
// separator, so "\r\n" stays two characters in both counts (see editor.js).
//
// CpIndex keeps the UTF-16 offsets of every surrogate pair in a gap buffer:
// offsets before the gap are stored as they are, offsets after it as their
// distance from the end of the document, so an edit only moves the gap to the
// edit (cost: the pairs between the previous edit and this one) and never
// renumbers the pairs after it. Lookups are binary searches: O(log pairs).

const INITIAL_CAPACITY_PAIRS = 64;

function isHigh(c) { return c >= 0xd800 && c <= 0xdbff; }
function isLow(c) { return c >= 0xdc00 && c <= 0xdfff; }

/** Calls fn(u16Offset) for each surrogate pair in s. */
function forEachPair(s, fn) {
  for (let i = 0; i < s.length - 1; i++) {
    if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) { fn(i); i++; }
  }
}

export class CpIndex {
  /** @param {string | Iterable<string>} text the whole document, or its chunks in order */
  constructor(text = '') {
    this.buf = new Float64Array(INITIAL_CAPACITY_PAIRS);
    this.before = 0; // pairs stored at buf[0 .. before)
    this.after = 0; // pairs stored at buf[cap - after .. cap), as distance from the end
    this.lenU16 = 0;
    const chunks = typeof text === 'string' ? [text] : text;
    // A pair split across two chunks is joined through `carry`.
    let carry = '';
    for (const chunk of chunks) {
      const s = carry + chunk;
      const base = this.lenU16 - carry.length;
      let end = s.length;
      if (end > 0 && isHigh(s.charCodeAt(end - 1))) end--; // may pair with the next chunk
      forEachPair(s.slice(0, end), (i) => this.#push(base + i));
      carry = s.slice(end);
      this.lenU16 += chunk.length;
    }
  }

  get pairs() { return this.before + this.after; }
  /** Document length in UTF-16 units. */
  get length() { return this.lenU16; }
  /** Document length in code points. */
  get lengthCp() { return this.lenU16 - this.pairs; }

  #cap() { return this.buf.length; }
  #grow() {
    const cap = this.#cap(), next = new Float64Array(cap * 2);
    next.set(this.buf.subarray(0, this.before), 0);
    next.set(this.buf.subarray(cap - this.after, cap), cap * 2 - this.after);
    this.buf = next;
  }
  #push(off) {
    if (this.pairs === this.#cap()) this.#grow();
    this.buf[this.before++] = off;
  }
  /** UTF-16 offset of the k-th pair (0-based, in document order). */
  #off(k) {
    return k < this.before ? this.buf[k]
      : this.lenU16 - this.buf[this.#cap() - this.after + (k - this.before)];
  }
  #moveGap(k) {
    const cap = this.#cap();
    while (this.before > k) { // move one pair from before to after
      const off = this.buf[--this.before];
      this.buf[cap - ++this.after] = this.lenU16 - off;
    }
    while (this.before < k) {
      const d = this.buf[cap - this.after--];
      this.buf[this.before++] = this.lenU16 - d;
    }
  }
  /** Number of pairs whose offset is < u16. */
  #pairsBeforeU16(u16) {
    let lo = 0, hi = this.pairs;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#off(mid) < u16) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  /** Code point position of a UTF-16 position (one inside a pair counts as the pair's start). */
  toCp(u16) {
    if (u16 < 0 || u16 > this.lenU16) throw new RangeError(`UTF-16 position ${u16} outside 0..${this.lenU16}`);
    const k = this.#pairsBeforeU16(u16);
    // A position between a pair's halves: the pair starts at u16-1 and is not "before".
    return u16 - k;
  }

  /** UTF-16 position of a code point position. */
  toU16(cp) {
    if (cp < 0 || cp > this.lengthCp) throw new RangeError(`code point position ${cp} outside 0..${this.lengthCp}`);
    // The k-th pair sits at code point (off_k - k); count pairs starting before cp.
    let lo = 0, hi = this.pairs;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#off(mid) - mid < cp) lo = mid + 1; else hi = mid;
    }
    return cp + lo;
  }

  /** Records that UTF-16 range [from, to) was replaced by `inserted`. */
  replace(from, to, inserted) {
    if (!(0 <= from && from <= to && to <= this.lenU16)) throw new RangeError(`bad range ${from}..${to}`);
    const k0 = this.#pairsBeforeU16(from);
    const k1 = this.#pairsBeforeU16(to);
    this.#moveGap(k1);
    this.before = k0; // drops the pairs inside [from, to)
    this.lenU16 += inserted.length - (to - from);
    forEachPair(inserted, (i) => this.#push(from + i));
  }

  /** Replays a CodeMirror ChangeSet (positions of the old document, in order). */
  applyChanges(changes) {
    changes.iterChanges((fromA, toA, fromB, _toB, inserted) => {
      // Earlier changes were already recorded, so this one starts at fromB now.
      this.replace(fromB, fromB + (toA - fromA), inserted.toString());
    });
  }
}
