"""The state machine (ringpad.state.DocState) against an in-process fake server
for one document (versions, transform against history, duplicates, catch-up,
history limit): acks, buffer, resend by id, version_too_old, random convergence
with disconnects at every point."""

from __future__ import annotations

import copy
import random
import unittest
from typing import Any, Callable, Dict, List, Optional

from ringpad import ot
from ringpad.state import DocState, Message

DOC = "d"


class FakeServer:
    def __init__(self, history_depth: int = 1000) -> None:
        self.text = ""
        self.v = 0
        self.history: List[Dict[str, Any]] = []
        self.history_depth = history_depth
        self.conns: List["Conn"] = []

    def oldest(self) -> int:
        return self.history[0]["v"] if self.history else self.v

    def receive(self, conn: "Conn", msg: Message) -> None:
        if msg["type"] == "open":
            conn.open = True
            if "v" not in msg:
                conn.out.append({"type": "snapshot", "doc": DOC, "v": self.v, "text": self.text, "peers": []})
            elif msg["v"] < self.oldest():
                conn.out.append({"type": "error", "code": "version_too_old", "message": "old", "ref": DOC})
            else:
                for h in self.history:
                    if h["v"] >= msg["v"]:
                        conn.out.append({"type": "op", "doc": DOC, **h})
                conn.out.append({"type": "synced", "doc": DOC, "v": self.v})
            return
        assert msg["type"] == "op"
        dup = next((h for h in self.history if h["id"] == msg["id"]), None)
        if dup:
            conn.out.append({"type": "ack", "doc": DOC, "id": msg["id"], "v": dup["v"]})
            return
        if msg["v"] < self.oldest():
            conn.out.append({"type": "error", "code": "version_too_old", "message": "old", "ref": msg["id"]})
            return
        op = msg["op"]
        for h in self.history:
            if h["v"] >= msg["v"]:
                op = ot.transform(op, h["op"])[0]
        self.text = ot.apply(self.text, op)
        entry = {"v": self.v, "op": op, "id": msg["id"], "by": conn.name}
        self.history.append(entry)
        if len(self.history) > self.history_depth:
            self.history.pop(0)
        self.v += 1
        conn.out.append({"type": "ack", "doc": DOC, "id": msg["id"], "v": entry["v"]})
        for c in self.conns:
            if c is not conn and c.open:
                c.out.append({"type": "op", "doc": DOC, **copy.deepcopy(entry)})


class Conn:
    def __init__(self, name: str) -> None:
        self.name = name
        self.out: List[Message] = []
        self.open = False


class Editor:
    """One editor: a text, a DocState and the two queues of its connection."""

    def __init__(self, server: FakeServer, name: str) -> None:
        self.server = server
        self.name = name
        self.text = ""
        self.notices: List[str] = []
        self.acks: List[str] = []
        self.conn: Optional[Conn] = None
        self.up: List[Message] = []
        self.sm = DocState(DOC, name, self._send, self)

    # host
    def snapshot(self, text: str, v: int, peers: List[Message]) -> None:
        self.text = text

    def remote_op(self, op: ot.Op, meta: Message) -> None:
        self.text = ot.apply(self.text, op)

    def local_text(self) -> str:
        return self.text

    def changed(self) -> None:
        pass

    def notice(self, kind: str, message: str) -> None:
        self.notices.append(kind)

    def acked(self, op_id: str, v: int) -> None:
        self.acks.append(op_id)

    def retry_later(self, fn: Callable[[], None]) -> None:
        fn()

    def _send(self, msg: Message) -> None:
        if self.conn:
            self.up.append(copy.deepcopy(msg))

    def connect(self) -> None:
        self.conn = Conn(self.name)
        self.server.conns.append(self.conn)
        self.up = []
        m = self.sm.connected()
        if m:
            self.up.append(m)

    def disconnect(self, deliver_sent: int = 0) -> None:
        assert self.conn
        for _ in range(min(deliver_sent, len(self.up))):
            self.server.receive(self.conn, self.up.pop(0))
        self.server.conns.remove(self.conn)
        self.conn = None
        self.up = []
        self.sm.disconnected()

    def edit(self, op: ot.Op) -> None:
        before = self.text
        self.text = ot.apply(before, op)
        self.sm.local_op(op, before)

    def step(self, direction: str) -> bool:
        if not self.conn:
            return False
        if direction == "up" and self.up:
            self.server.receive(self.conn, self.up.pop(0))
            return True
        if direction == "down" and self.conn.out:
            self.sm.receive(self.conn.out.pop(0))
            return True
        return False

    def flush(self) -> None:
        while self.step("up") or self.step("down"):
            pass


def random_op(text: str, rnd: random.Random) -> ot.Op:
    n = len(text)
    pos = rnd.randrange(n + 1)
    b = ot.OpBuilder().retain(pos)
    if n > pos and rnd.random() < 0.4:
        k = 1 + rnd.randrange(min(3, n - pos))
        return b.delete(k).retain(n - pos - k).done()
    return b.insert(rnd.choice(["a", "é", "😀", "xy", "\n"])).retain(n - pos).done()


class StateMachine(unittest.TestCase):
    def test_ack_buffer_and_states(self) -> None:
        srv = FakeServer()
        a = Editor(srv, "a")
        a.connect()
        a.flush()
        self.assertEqual((a.sm.v, a.sm.state), (0, "synchronized"))
        a.edit(["x"])
        a.edit([1, "y"])
        self.assertEqual(a.sm.state, "awaiting-with-buffer")
        self.assertEqual(len(a.up), 1, "one op in flight")
        self.assertEqual(a.up[0], {"type": "op", "doc": DOC, "v": 0, "id": "a:1", "op": ["x"]})
        a.flush()
        self.assertEqual((a.sm.state, a.sm.v, srv.text, a.acks), ("synchronized", 2, "xy", ["a:1", "a:2"]))

    def test_reconnect_finds_its_op_in_the_catch_up_and_does_not_apply_it_twice(self) -> None:
        srv = FakeServer()
        a, b = Editor(srv, "a"), Editor(srv, "b")
        for e in (a, b):
            e.connect()
            e.flush()
        a.edit(["hello"])
        a.disconnect(deliver_sent=1)  # the op arrived, the ack did not
        self.assertEqual((srv.v, a.sm.state), (1, "awaiting-confirm"))
        a.connect()
        self.assertEqual(a.up, [{"type": "open", "doc": DOC, "v": 0}])
        a.flush()
        self.assertEqual((a.sm.state, a.sm.v, srv.v, a.text, a.acks), ("synchronized", 1, 1, "hello", ["a:1"]))

    def test_lost_op_is_resent_with_its_id_after_synced(self) -> None:
        srv = FakeServer()
        a, b = Editor(srv, "a"), Editor(srv, "b")
        for e in (a, b):
            e.connect()
            e.flush()
        a.edit(["A"])
        a.disconnect(deliver_sent=0)
        b.edit(["B"])
        b.flush()
        a.connect()
        a.flush()
        b.flush()
        self.assertEqual(srv.history[-1]["id"], "a:1")
        self.assertEqual((a.text, b.text, srv.text), ("AB", "AB", "AB"))

    def test_version_too_old_resyncs_and_keeps_unsent_edits(self) -> None:
        srv = FakeServer(history_depth=2)
        a, b = Editor(srv, "a"), Editor(srv, "b")
        for e in (a, b):
            e.connect()
            e.flush()
        b.edit(["base"])
        b.flush()
        a.flush()
        a.disconnect()
        a.edit([4, "!"])  # never sent
        for i in range(5):
            b.edit(ot.OpBuilder().insert(str(i)).retain(len(b.text)).done())
            b.flush()
        a.connect()
        a.flush()
        b.flush()
        self.assertEqual(srv.text, "43210base!")
        self.assertEqual((a.text, b.text), (srv.text, srv.text))
        self.assertNotIn("lost", a.notices)

    def test_a_gap_reopens_from_server_v_once_and_applied_ops_are_ignored(self) -> None:
        srv = FakeServer()
        a, b = Editor(srv, "a"), Editor(srv, "b")
        for e in (a, b):
            e.connect()
            e.flush()
        a.sm.receive({"type": "op", "doc": DOC, "v": 5, "id": "z:1", "op": ["q"], "by": "z"})
        a.sm.receive({"type": "op", "doc": DOC, "v": 6, "id": "z:2", "op": [1, "r"], "by": "z"})
        self.assertEqual(a.up, [{"type": "open", "doc": DOC, "v": 0}], "one re-open, from a's own server_v")
        b.edit(["X"])
        b.flush()
        a.flush()
        self.assertEqual((a.text, a.sm.v), ("X", 1))
        a.sm.receive({"type": "op", "doc": DOC, **srv.history[0]})  # a repeat of v0
        self.assertEqual((a.text, a.sm.v), ("X", 1))

    def test_random_convergence_with_disconnects(self) -> None:
        for seed in range(20):
            rnd = random.Random(seed)
            srv = FakeServer()
            eds = [Editor(srv, f"e{i}") for i in range(3)]
            for e in eds:
                e.connect()
            for _ in range(200):
                e = rnd.choice(eds)
                r = rnd.random()
                if e.sm.v is not None and r < 0.3:
                    e.edit(random_op(e.text, rnd))
                elif r < 0.35 and e.conn:
                    e.disconnect(deliver_sent=rnd.randrange(3))
                elif r < 0.45 and not e.conn:
                    e.connect()
                else:
                    e.step(rnd.choice(["up", "down"]))
            for e in eds:
                if not e.conn:
                    e.connect()
            for _ in range(10):
                for e in eds:
                    e.flush()
            for e in eds:
                self.assertEqual(e.text, srv.text, f"seed {seed}")
                self.assertEqual((e.sm.v, e.sm.state), (srv.v, "synchronized"), f"seed {seed}")
            applied = [h["id"] for h in srv.history]
            self.assertEqual(len(applied), len(set(applied)), f"seed {seed}: an id applied twice")


if __name__ == "__main__":
    unittest.main()
