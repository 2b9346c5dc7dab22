"""The OT algebra of ringpad.v1 (docs/PROTOCOL.md §6, §8), the same as ot/ in C
and clients/js/src/op.js.

An op is the wire form itself: a list whose positive ints retain, negative
ints delete and strs insert, spanning the whole document. Every count is in
Unicode code points, which is what a Python ``str`` indexes, so ``len(text)``
is the document length. Every function returns canonical ops (adjacent
components merged, an insert before a delete at one position, a trailing
retain kept).
"""

from __future__ import annotations

from typing import List, Literal, Sequence, Tuple, Union

Component = Union[int, str]
Op = List[Component]
Side = Literal["before", "after"]

MAX_COUNT = 2**63 - 1  # beyond 64 bits a count does not even parse (the server's JSON layer)


class OtError(ValueError):
    """An invalid op; ``code`` is one of the names of tests/vectors/README.md."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class OpBuilder:
    """Builds a canonical op one component at a time."""

    def __init__(self) -> None:
        self.ops: Op = []

    def retain(self, n: int) -> "OpBuilder":
        if n <= 0:
            return self
        o = self.ops
        if o and isinstance(o[-1], int) and o[-1] > 0:
            o[-1] += n
        else:
            o.append(n)
        return self

    def insert(self, s: str) -> "OpBuilder":
        if not s:
            return self
        o = self.ops
        last = o[-1] if o else None
        if isinstance(last, str):
            o[-1] = last + s
        elif isinstance(last, int) and last < 0:
            # Canonical order: the insert goes before a delete at the same place.
            if len(o) >= 2 and isinstance(o[-2], str):
                o[-2] = o[-2] + s
            else:
                o.insert(len(o) - 1, s)
        else:
            o.append(s)
        return self

    def delete(self, n: int) -> "OpBuilder":
        if n <= 0:
            return self
        o = self.ops
        if o and isinstance(o[-1], int) and o[-1] < 0:
            o[-1] -= n
        else:
            o.append(-n)
        return self

    def done(self) -> Op:
        return self.ops


def normalize(op: object) -> Op:
    """Validates an op as ``json.loads`` gives it and returns its canonical form."""
    if not isinstance(op, list):
        raise OtError("not_array", "an op is an array")
    b = OpBuilder()
    for i, c in enumerate(op):
        if isinstance(c, str):
            if c == "":
                raise OtError("empty_insert", f"op[{i}]: empty insert")
            if "\x00" in c:
                raise OtError("bad_utf8", f"op[{i}]: NUL in an insert")
            if any(0xD800 <= ord(ch) <= 0xDFFF for ch in c):
                raise OtError("lone_surrogate", f"op[{i}]: lone surrogate")
            b.insert(c)
        elif isinstance(c, bool) or not isinstance(c, int):
            if isinstance(c, float):
                raise OtError("count_range", f"op[{i}]: not an integer count")
            raise OtError("bad_component", f"op[{i}]: neither a count nor a string")
        elif c == 0:
            raise OtError("zero_count", f"op[{i}]: count of zero")
        elif abs(c) > MAX_COUNT:
            raise OtError("count_range", f"op[{i}]: count beyond 64 bits")
        elif c > 0:
            b.retain(c)
        else:
            b.delete(-c)
    return b.done()


def base_length(op: Sequence[Component]) -> int:
    """Retains + deletes: the length of the text the op applies to."""
    return sum(abs(c) for c in op if isinstance(c, int))


def target_length(op: Sequence[Component]) -> int:
    """Retains + inserts: the length of the text after the op."""
    return sum(len(c) if isinstance(c, str) else c for c in op if isinstance(c, str) or c > 0)


def is_noop(op: Sequence[Component]) -> bool:
    return all(isinstance(c, int) and c > 0 for c in op)


def apply(text: str, op: Sequence[Component]) -> str:
    """The text after ``op``; OtError('base_length') when op does not span text."""
    if base_length(op) != len(text):
        raise OtError("base_length", f"op spans {base_length(op)} code points, the text has {len(text)}")
    parts: List[str] = []
    at = 0
    for c in op:
        if isinstance(c, str):
            parts.append(c)
        elif c > 0:
            parts.append(text[at : at + c])
            at += c
        else:
            at -= c
    return "".join(parts)


class _Reader:
    """Consumes an op piecewise."""

    def __init__(self, op: Sequence[Component]) -> None:
        self.op = op
        self.i = 0
        self.used = 0

    def kind(self) -> str:
        if self.i >= len(self.op):
            return ""
        c = self.op[self.i]
        return "ins" if isinstance(c, str) else "ret" if c > 0 else "del"

    def remaining(self) -> int:
        c = self.op[self.i]
        return (len(c) if isinstance(c, str) else abs(c)) - self.used

    def take(self, n: int) -> str:
        c = self.op[self.i]
        text = c[self.used : self.used + n] if isinstance(c, str) else ""
        self.used += n
        if self.used == (len(c) if isinstance(c, str) else abs(c)):
            self.i += 1
            self.used = 0
        return text

    def take_all(self) -> Component:
        c = self.op[self.i]
        r: Component = c[self.used :] if isinstance(c, str) else abs(c) - self.used
        self.i += 1
        self.used = 0
        return r


def compose(a: Sequence[Component], b: Sequence[Component]) -> Op:
    """``a`` then ``b`` as one op (b's base is a's target)."""
    if target_length(a) != base_length(b):
        raise OtError("compose_mismatch", "b does not follow a")
    out = OpBuilder()
    ia, ib = _Reader(a), _Reader(b)
    while True:
        ka, kb = ia.kind(), ib.kind()
        if not ka and not kb:
            break
        if ka == "del":
            n = ia.take_all()
            assert isinstance(n, int)
            out.delete(n)
            continue
        if kb == "ins":
            s = ib.take_all()
            assert isinstance(s, str)
            out.insert(s)
            continue
        n = min(ia.remaining(), ib.remaining())
        if ka == "ret" and kb == "ret":
            out.retain(n)
            ia.take(n)
            ib.take(n)
        elif ka == "ins" and kb == "del":
            ia.take(n)
            ib.take(n)
        elif ka == "ins" and kb == "ret":
            out.insert(ia.take(n))
            ib.take(n)
        else:  # retain, delete
            out.delete(n)
            ia.take(n)
            ib.take(n)
    return out.done()


def transform(a: Sequence[Component], b: Sequence[Component]) -> Tuple[Op, Op]:
    """``(a', b')`` for concurrent a and b with apply(apply(d, a), b') == apply(apply(d, b), a').

    Tie-break: a's insert comes first. On a client: transform(pending, incoming).
    """
    if base_length(a) != base_length(b):
        raise OtError("transform_mismatch", "ops on different texts")
    ap, bp = OpBuilder(), OpBuilder()
    ia, ib = _Reader(a), _Reader(b)
    while True:
        ka, kb = ia.kind(), ib.kind()
        if not ka and not kb:
            break
        if ka == "ins":
            s = ia.take_all()
            assert isinstance(s, str)
            ap.insert(s)
            bp.retain(len(s))
            continue
        if kb == "ins":
            s = ib.take_all()
            assert isinstance(s, str)
            ap.retain(len(s))
            bp.insert(s)
            continue
        n = min(ia.remaining(), ib.remaining())
        if ka == "ret" and kb == "ret":
            ap.retain(n)
            bp.retain(n)
        elif ka == "del" and kb == "ret":
            ap.delete(n)
        elif ka == "ret" and kb == "del":
            bp.delete(n)
        ia.take(n)
        ib.take(n)
    return ap.done(), bp.done()


def invert(op: Sequence[Component], before: str) -> Op:
    """The op that undoes ``op`` applied to ``before``."""
    if base_length(op) != len(before):
        raise OtError("base_length", "op does not span the text")
    out = OpBuilder()
    at = 0
    for c in op:
        if isinstance(c, str):
            out.delete(len(c))
        elif c > 0:
            out.retain(c)
            at += c
        else:
            out.insert(before[at : at - c])
            at -= c
    return out.done()


def transform_position(pos: int, op: Sequence[Component], side: Side = "before") -> int:
    """A position after ``op``. side 'before': an insert exactly at pos goes after it
    (other people's cursors); 'after': it pushes the position past it. A position
    inside a deleted range moves to its start; past the end it clamps."""
    pos = min(pos, base_length(op))
    at = 0
    moved = pos
    for c in op:
        if at > pos:
            break
        if isinstance(c, str):
            if at < pos or side == "after":
                moved += len(c)
        elif c > 0:
            at += c
            if at > pos:
                return moved
        else:
            moved -= min(-c, pos - at)
            at += -c
    return moved


def diff(a: str, b: str) -> Op:
    """An op turning ``a`` into ``b``: one replacement between the common prefix and suffix."""
    p = 0
    m = min(len(a), len(b))
    while p < m and a[p] == b[p]:
        p += 1
    s = 0
    while s < m - p and a[len(a) - 1 - s] == b[len(b) - 1 - s]:
        s += 1
    return OpBuilder().retain(p).insert(b[p : len(b) - s]).delete(len(a) - s - p).retain(s).done()


def split_op(op: Sequence[Component], max_insert_bytes: int) -> Tuple[Op, Union[Op, None]]:
    """Splits an op whose inserts hold more than ``max_insert_bytes`` of UTF-8 into
    (first, rest) with compose(first, rest) == op and first within the budget
    (the server refuses ops over max_op_bytes). Returns (op, None) when it fits."""
    if sum(len(c.encode()) for c in op if isinstance(c, str)) <= max_insert_bytes:
        return list(op), None
    first = OpBuilder()
    budget = max_insert_bytes
    out_len = 0
    consumed = 0
    tail = ""
    i = 0
    while i < len(op):
        c = op[i]
        if isinstance(c, int):
            if c > 0:
                first.retain(c)
                out_len += c
                consumed += c
            else:
                first.delete(-c)
                consumed -= c
            i += 1
            continue
        nbytes = len(c.encode())
        if nbytes <= budget:
            first.insert(c)
            budget -= nbytes
            out_len += len(c)
            i += 1
            continue
        cut = 0
        used = 0
        while cut < len(c):
            w = len(c[cut].encode())
            if used + w > budget:
                break
            used += w
            cut += 1
        first.insert(c[:cut])
        out_len += cut
        tail = c[cut:]
        i += 1
        break
    first.retain(base_length(op) - consumed)
    rest = OpBuilder().retain(out_len).insert(tail)
    for c in op[i:]:
        if isinstance(c, str):
            rest.insert(c)
        elif c > 0:
            rest.retain(c)
        else:
            rest.delete(-c)
    return first.done(), rest.done()


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def parse_op(
    data: Union[str, bytes],
    *,
    max_op_bytes: int = 1 << 20,
    max_op_components: int = 65536,
    max_doc_codepoints: int = 1 << 24,
) -> Op:
    """Parses an op's JSON text (or UTF-8 bytes) strictly, as the server does, into
    its canonical form; OtError with the vector names of tests/vectors/README.md."""
    import json

    if isinstance(data, bytes):
        if len(data) > max_op_bytes:
            raise OtError("too_large", f"op text of {len(data)} bytes, at most {max_op_bytes}")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise OtError("bad_utf8", str(e)) from None
    elif len(data.encode("utf-8", "surrogatepass")) > max_op_bytes:
        raise OtError("too_large", f"op text over {max_op_bytes} bytes")
    try:
        value = json.loads(data, parse_constant=_no_constant)
    except ValueError as e:
        raise OtError("json_syntax", str(e)) from None
    if isinstance(value, list) and len(value) > max_op_components:
        raise OtError("too_many_components", f"{len(value)} components, at most {max_op_components}")
    op = normalize(value)
    inserted = sum(len(c.encode()) for c in op if isinstance(c, str))
    if inserted > max_op_bytes:
        raise OtError("too_large", f"{inserted} bytes inserted, at most {max_op_bytes}")
    if base_length(op) > max_doc_codepoints or target_length(op) > max_doc_codepoints:
        raise OtError("too_large", f"the op spans more than the largest document ({max_doc_codepoints} code points)")
    return op


def dumps(op: Sequence[Component]) -> str:
    """An op as compact JSON text, byte for byte as JSON.stringify and the server write it."""
    import json

    return json.dumps(list(op), ensure_ascii=False, separators=(",", ":"))
