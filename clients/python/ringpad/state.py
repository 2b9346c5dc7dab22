"""The client state machine of docs/PROTOCOL.md §9-§10 for one open document,
without I/O: Synchronized / AwaitingConfirm(outstanding) /
AwaitingWithBuffer(outstanding, buffer), catch-up and resend under the same id
after a reconnect, and recovery by a fresh snapshot when the history no longer
reaches us or an op was refused. The same machine as clients/js/src/client.js.

The host (ringpad.client.Doc) gives it ``send`` and a ``Host`` and feeds it
the server messages of its document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Protocol

from . import ot

HISTORY_RING_OPS = 128  # server ops kept to transform late presence
DEFAULT_MAX_OP_BYTES = 1 << 20  # PROTOCOL.md §13; welcome.limits overrides

Message = Dict[str, Any]


class Host(Protocol):
    def snapshot(self, text: str, v: int, peers: List[Message]) -> None: ...
    def remote_op(self, op: ot.Op, meta: Message) -> None: ...
    def local_text(self) -> str: ...
    def changed(self) -> None: ...
    def notice(self, kind: str, message: str) -> None: ...
    def acked(self, op_id: str, v: int) -> None: ...
    def retry_later(self, fn: Callable[[], None]) -> None: ...


@dataclass
class Outstanding:
    id: str
    op: ot.Op
    sent: bool


class DocState:
    def __init__(self, doc: str, client_id: str, send: Callable[[Message], object], host: Host) -> None:
        self.doc = doc
        self.client_id = client_id
        self.send_raw = send
        self.host = host
        self.seq = 0
        self.v: Optional[int] = None  # server_v; None until the first snapshot
        self.outstanding: Optional[Outstanding] = None
        self.buffer: Optional[ot.Op] = None
        self.live = False  # connected and past the catch-up: ops may be sent
        self.recovering: Optional[Message] = None  # why a fresh snapshot is on its way
        # The text at server_v while ops are pending: the text when they began
        # plus every server op applied since, composed (for merging a snapshot).
        self.base_text: Optional[str] = None
        self.base_op: Optional[ot.Op] = None
        self.history: List[tuple[int, ot.Op]] = []
        self.read_only = False
        self.deleted = False
        self.resyncing = False  # a gap was seen: an open {v: server_v} is on its way
        self.max_op_bytes = DEFAULT_MAX_OP_BYTES

    def set_limits(self, limits: Message) -> None:
        n = limits.get("max_op_bytes")
        if isinstance(n, int) and n > 0:
            self.max_op_bytes = n

    @property
    def state(self) -> str:
        if not self.outstanding:
            return "synchronized"
        return "awaiting-with-buffer" if self.buffer else "awaiting-confirm"

    @property
    def pending(self) -> bool:
        return self.outstanding is not None

    def can_send_presence(self) -> bool:
        return self.live and not self.outstanding

    def _make_outstanding(self, op: ot.Op) -> None:
        # Half the budget leaves room for JSON escapes ("\n" doubles).
        first, rest = ot.split_op(op, max(4, self.max_op_bytes // 2))
        self.seq += 1
        self.outstanding = Outstanding(f"{self.client_id}:{self.seq}", first, False)
        if rest is not None:
            self.buffer = ot.compose(rest, self.buffer) if self.buffer else rest
        self._send_outstanding()

    def _send_outstanding(self) -> None:
        o = self.outstanding
        if not o or not self.live:
            return
        o.sent = True
        self.send_raw({"type": "op", "doc": self.doc, "v": self.v, "id": o.id, "op": o.op})

    def _remember(self, v: int, op: ot.Op) -> None:
        self.history.append((v, op))
        if len(self.history) > HISTORY_RING_OPS:
            self.history.pop(0)
        if self.base_text is not None:
            self.base_op = ot.compose(self.base_op, op) if self.base_op else op

    def connected(self) -> Optional[Message]:
        """The connection is up (after welcome): the message that (re)subscribes, or None (deleted)."""
        self.live = False
        self.resyncing = False
        if self.deleted:
            return None
        if self.v is None or self.recovering:
            return {"type": "open", "doc": self.doc}
        return {"type": "open", "doc": self.doc, "v": self.v}

    def disconnected(self) -> None:
        self.live = False

    def local_op(self, op: ot.Op, base_text: str) -> None:
        """A local edit, already applied to the host's text (``base_text`` is the text before it)."""
        if ot.is_noop(op):
            return
        if self.read_only:
            raise PermissionError(f'document "{self.doc}" is read-only for this token')  # hosts check first
        if self.deleted:
            return
        if not self.outstanding:
            self.base_text, self.base_op = base_text, None
            self._make_outstanding(op)
        else:
            self.buffer = ot.compose(self.buffer, op) if self.buffer else op
        self.host.changed()

    def _ack(self, v: int) -> None:
        assert self.outstanding is not None
        self.host.acked(self.outstanding.id, v)
        self.v = v + 1
        self._remember(v, self.outstanding.op)
        if self.buffer:
            b, self.buffer = self.buffer, None
            self._make_outstanding(b)
        else:
            self.outstanding = None
            self.base_text, self.base_op = None, None
        self.host.changed()

    def receive(self, msg: Message) -> None:
        t = msg.get("type")
        if t == "snapshot":
            self._snapshot(msg)
        elif t == "synced":
            self.resyncing = False
            self.v = msg["v"]
            self.live = True
            # §10.4: an op still outstanding was not in the catch-up: resend, same id.
            if self.outstanding:
                self._send_outstanding()
            self.host.changed()
        elif t == "op":
            self._server_op(msg)
        elif t == "ack":
            if self.outstanding and msg.get("id") == self.outstanding.id:
                self._ack(msg["v"])
        elif t == "error":
            self._error(msg)

    def _server_op(self, msg: Message) -> None:
        if self.v is None:
            return
        if msg["v"] < self.v:  # already applied: a catch-up overlapping live ops
            return
        if msg["v"] > self.v:  # a gap: the stream is broken; catch up again from server_v, once
            if not self.resyncing:
                m = self.connected()
                self.resyncing = True
                if m:
                    self.send_raw(m)
            return
        if self.outstanding and msg.get("id") == self.outstanding.id:
            self._ack(msg["v"])
            return
        s: ot.Op = msg["op"]
        if self.outstanding:
            self.outstanding.op, s = ot.transform(self.outstanding.op, s)
            if self.buffer:
                self.buffer, s = ot.transform(self.buffer, s)
        self._remember(msg["v"], msg["op"])
        self.v = msg["v"] + 1
        self.host.remote_op(s, {"by": msg.get("by"), "id": msg.get("id"), "v": msg["v"], "resync": False})
        self.host.changed()

    def _error(self, msg: Message) -> None:
        o = self.outstanding
        ref = msg.get("ref")
        code = msg.get("code", "")
        if o and ref == o.id:
            if code == "storage_unavailable":
                self.host.notice("retry", f"the server could not store the edit ({msg.get('message')}); retrying")

                def again() -> None:
                    if self.outstanding is o:
                        self._send_outstanding()

                self.host.retry_later(again)
                return
            if code == "forbidden":
                self.read_only = True
            self._reopen({"drop": True, "code": code, "message": msg.get("message", "")})
            return
        if code == "not_open" and ref == self.doc and self.v is not None:
            self.live = False
            self.deleted = True
            unsaved = self.outstanding is not None
            self.outstanding, self.buffer = None, None
            self.base_text, self.base_op = None, None
            self.host.notice("deleted", "the document was deleted on the server"
                             + (", and the last edits were not saved" if unsaved else ""))
            self.host.changed()
            return
        if code == "version_too_old" and ref in (self.doc, None):
            self._reopen({"drop": False, "code": code, "message": msg.get("message", "")})
            return
        if ref in (self.doc, None):
            self.host.notice("fatal", f"{code}: {msg.get('message')}")

    def _reopen(self, why: Message) -> None:
        self.live = False
        self.recovering = why
        self.send_raw({"type": "open", "doc": self.doc})

    def _snapshot(self, msg: Message) -> None:
        self.resyncing = False
        why, self.recovering = self.recovering, None
        if self.v is None and not why:
            self.v = msg["v"]
            self.live = True
            self.host.snapshot(msg["text"], msg["v"], msg.get("peers") or [])
            if self.outstanding:
                self._send_outstanding()
            self.host.changed()
            return
        self._merge_snapshot(msg, why or {"drop": False})

    def _merge_snapshot(self, msg: Message, why: Message) -> None:
        """A fresh snapshot replaces a history we can no longer follow: the pending
        edits are rebased onto it; an op that was sent and not acked may or may
        not be in the snapshot, so it is dropped and the host is told."""
        local = self.host.local_text()
        o, b = self.outstanding, self.buffer
        keep: Optional[ot.Op] = None
        keep_base = ""
        lost: Optional[str] = None
        if o and self.base_text is not None:
            at_server_v = ot.apply(self.base_text, self.base_op) if self.base_op else self.base_text
            if why.get("drop") or o.sent:
                keep_base = ot.apply(at_server_v, o.op)
                keep = b
                lost = (f"the edit was refused ({why.get('code')}: {why.get('message')})" if why.get("drop")
                        else "the last edit before the connection dropped could not be confirmed")
            else:
                keep_base = at_server_v
                keep = ot.compose(o.op, b) if b else o.op
        elif o:
            lost = "unsent edits could not be merged"
        if self.read_only:
            keep = None
        self.outstanding, self.buffer = None, None
        self.base_text, self.base_op = None, None
        self.history = []
        self.v = msg["v"]
        self.live = True
        resend: Optional[ot.Op] = None
        if keep:
            server_change = ot.diff(keep_base, msg["text"])
            keep2, server2 = ot.transform(keep, server_change)
            to_local = ot.compose(ot.diff(local, ot.apply(keep_base, keep)), server2)
            resend = None if ot.is_noop(keep2) else keep2
        else:
            to_local = ot.diff(local, msg["text"])
        if not ot.is_noop(to_local):
            self.host.remote_op(to_local, {"by": None, "id": None, "v": msg["v"], "resync": True})
        if lost or self.read_only:
            self.host.notice("readonly" if self.read_only else "lost",
                             "read-only: edits were not saved" if self.read_only else f"re-synchronized: {lost}")
        if resend:
            self.base_text, self.base_op = msg["text"], None
            self._make_outstanding(resend)
        self.host.changed()

    def map_remote_sel(self, sel: List[List[int]], v: int) -> Optional[List[List[int]]]:
        """A collaborator's selection at version v mapped to the local text, or None."""
        if self.v is None or v > self.v:
            return None
        ops: List[ot.Op] = []
        if v < self.v:
            first = next((i for i, (hv, _) in enumerate(self.history) if hv == v), -1)
            if first < 0 or len(self.history) - first != self.v - v:
                return None
            ops = [op for _, op in self.history[first:]]
        if self.outstanding:
            ops.append(self.outstanding.op)
        if self.buffer:
            ops.append(self.buffer)
        out = []
        for anchor, head in sel:
            for op in ops:
                anchor = ot.transform_position(anchor, op, "before")
                head = ot.transform_position(head, op, "before")
            out.append([anchor, head])
        return out
