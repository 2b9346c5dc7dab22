"""The Python OT algebra against the shared vectors (tests/vectors/*.json, see its README)."""

from __future__ import annotations

import json
import unittest
from pathlib import Path
from typing import Any, List

from ringpad import ot

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "vectors"


def cases(name: str) -> List[Any]:
    data: Any = json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))
    return list(data["cases"])


class Vectors(unittest.TestCase):
    def check_op(self, got: ot.Op, want: Any, what: str) -> None:
        self.assertEqual(got, want, what)
        self.assertEqual(ot.dumps(got), json.dumps(want, ensure_ascii=False, separators=(",", ":")), what)

    def test_apply(self) -> None:
        for c in cases("apply"):
            op = ot.normalize(c["op"])
            if "error" in c:
                with self.assertRaises(ot.OtError, msg=c["name"]) as e:
                    ot.apply(c["doc"], op)
                self.assertEqual(e.exception.code, c["error"], c["name"])
            else:
                self.assertEqual(ot.apply(c["doc"], op), c["result"], c["name"])

    def test_transform(self) -> None:
        for c in cases("transform"):
            a, b = ot.normalize(c["a"]), ot.normalize(c["b"])
            ap, bp = ot.transform(a, b)
            self.check_op(ap, c["a_prime"], c["name"])
            self.check_op(bp, c["b_prime"], c["name"])
            self.assertEqual(ot.apply(ot.apply(c["doc"], a), bp), c["result"], c["name"])
            self.assertEqual(ot.apply(ot.apply(c["doc"], b), ap), c["result"], c["name"])

    def test_compose(self) -> None:
        for c in cases("compose"):
            a, b = ot.normalize(c["a"]), ot.normalize(c["b"])
            composed = ot.compose(a, b)
            self.check_op(composed, c["composed"], c["name"])
            self.assertEqual(ot.apply(c["doc"], composed), c["result"], c["name"])

    def test_invert(self) -> None:
        for c in cases("invert"):
            op = ot.normalize(c["op"])
            inv = ot.invert(op, c["doc"])
            self.check_op(inv, c["inverse"], c["name"])
            self.assertEqual(ot.apply(ot.apply(c["doc"], op), inv), c["doc"], c["name"])

    def test_positions(self) -> None:
        for c in cases("positions"):
            op = ot.normalize(c["op"])
            for p in c["positions"]:
                self.assertEqual(ot.transform_position(p["pos"], op, p["side"]), p["expected"], f'{c["name"]} {p}')

    def test_parse_errors(self) -> None:
        for c in cases("parse_errors"):
            data = bytes.fromhex(c["json_hex"]) if "json_hex" in c else c["json"]
            with self.assertRaises(ot.OtError, msg=c["name"]) as e:
                ot.parse_op(data, **c.get("limits", {}))
            self.assertEqual(e.exception.code, c["error"], c["name"])

    def test_canonical(self) -> None:
        for c in cases("canonical"):
            self.assertEqual(ot.dumps(ot.parse_op(c["json"])), c["canonical"], c["name"])

    def test_diff_and_split(self) -> None:
        for a, b in [("", "x"), ("héllo 😀!", "hello 😀?"), ("abc", ""), ("same", "same"), ("aaa", "aaaa")]:
            self.assertEqual(ot.apply(a, ot.diff(a, b)), b)
        op = ot.normalize([2, "😀" * 10, -1, 3, "ab"])
        first, rest = ot.split_op(op, 9)
        assert rest is not None
        self.assertLessEqual(sum(len(x.encode()) for x in first if isinstance(x, str)), 9)
        self.assertEqual(ot.compose(first, rest), op)
        self.assertEqual(ot.split_op(op, 100), (op, None))


if __name__ == "__main__":
    unittest.main()
