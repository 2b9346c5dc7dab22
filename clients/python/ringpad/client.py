"""One reconnecting WebSocket to a ringpad server for any number of documents
(asyncio, the ``websockets`` package): hello/welcome, capped exponential
backoff with jitter, re-open of every document from its version and resend of
what was not acknowledged under the same op id, presence, and events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import time
from typing import Any, Callable, Dict, List, Optional, Union

import websockets
from websockets.asyncio.client import ClientConnection, connect

from . import ot
from .names import valid_doc_name
from .state import DocState, Message

SUBPROTOCOL = "ringpad.v1"
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
PING_INTERVAL_S = 20.0  # WebSocket pings; the server drops a link silent for --idle-timeout-ms (75 s)
STORAGE_RETRY_S = 2.0
DEFAULT_PRESENCE_PER_SECOND = 20

Listener = Callable[[Any], None]


def backoff_delay_s(attempt: int, rnd: Callable[[], float] = random.random,
                    base_s: float = BACKOFF_BASE_S, cap_s: float = BACKOFF_CAP_S) -> float:
    """Delay before reconnect attempt ``attempt`` (0-based): "equal jitter", half of
    min(cap, base*2^attempt) fixed and half random, so clients spread out after an outage."""
    ceiling = min(cap_s, base_s * 2 ** min(attempt, 30))
    return float(ceiling / 2 + rnd() * ceiling / 2)


class RingpadError(Exception):
    """A protocol error (docs/PROTOCOL.md §5): ``code`` is its stable code; ``status``
    the HTTP status for REST calls (§15)."""

    def __init__(self, code: str, message: str, ref: Optional[str] = None, status: Optional[int] = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.ref = ref
        self.status = status


class _Emitter:
    def __init__(self) -> None:
        self._listeners: Dict[str, List[Listener]] = {}

    def on(self, event: str, fn: Listener) -> Callable[[], None]:
        """Calls ``fn(arg)`` on each ``event``; returns a function that removes it."""
        self._listeners.setdefault(event, []).append(fn)
        return lambda: self._listeners[event].remove(fn)

    def emit(self, event: str, arg: Any) -> None:
        for fn in list(self._listeners.get(event, [])):
            fn(arg)


class Doc(_Emitter):
    """One open document: its text (``str``: positions are code points, as in the
    protocol), the collaborators' selections and the state machine. Events:
    'change' (someone else's edit or a resync: {op, by, id, v, resync}), 'ack'
    ({id, v}), 'presence' ({session, name, color, sel}), 'leave' ({session}),
    'status' ({state, v}), 'notice' ({kind, message})."""

    def __init__(self, owner: "Client", name: str, client_id: str) -> None:
        super().__init__()
        self.owner = owner
        self.name = name
        self.text = ""
        self.peers: Dict[str, Message] = {}
        self.ready = False
        self.closed = False
        self.selection: Optional[List[List[int]]] = None
        self._presence_dirty = False
        self._presence_handle: Optional[asyncio.TimerHandle] = None
        self._last_presence_at = -1e9
        self._waiters: List[asyncio.Future[None]] = []
        self._opened: Optional[asyncio.Future[Doc]] = None
        self._last_state: Optional[str] = None
        self.state_machine = DocState(name, client_id, owner._send, self)

    # --- reading ---------------------------------------------------------------
    @property
    def v(self) -> Optional[int]:
        """The version the text is based on (server_v of §9)."""
        return self.state_machine.v

    @property
    def state(self) -> str:
        """'synchronized' | 'awaiting-confirm' | 'awaiting-with-buffer'"""
        return self.state_machine.state

    # --- editing ---------------------------------------------------------------
    def edit(self, op: List[Union[int, str]]) -> None:
        """Applies a local edit in the wire format of §6 (on the current text): sent
        at once, or composed into the buffer while an op awaits its ack."""
        if self.closed:
            raise RuntimeError(f'document "{self.name}" is closed')
        if not self.ready:
            raise RuntimeError(f'document "{self.name}" has no text yet: await client.open() first')
        if self.state_machine.read_only:
            raise RingpadError("forbidden", f'document "{self.name}" is read-only for this token', self.name)
        canonical = ot.normalize(op)
        before = self.text
        self.text = ot.apply(before, canonical)
        self._move_selections(canonical, "after")
        self.state_machine.local_op(canonical, before)

    def insert(self, pos: int, text: str) -> None:
        self._check_range(pos, 0)
        self.edit(ot.OpBuilder().retain(pos).insert(text).retain(len(self.text) - pos).done())

    def delete(self, pos: int, count: int) -> None:
        self._check_range(pos, count)
        self.edit(ot.OpBuilder().retain(pos).delete(count).retain(len(self.text) - pos - count).done())

    def set_text(self, text: str) -> None:
        """Makes the text ``text`` with one minimal replacement (others keep their cursors)."""
        self.edit(ot.diff(self.text, text))

    def _check_range(self, pos: int, count: int) -> None:
        if pos < 0 or count < 0 or pos + count > len(self.text):
            raise IndexError(f"range {pos}+{count} is outside the text (0..{len(self.text)} code points)")

    def set_selection(self, sel: List[List[int]]) -> None:
        """Your cursors for the others ([[anchor, head], ...]; [] hides them), sent
        throttled to the server's presence rate while no op is in flight (§11)."""
        self.selection = [[a, h] for a, h in sel]
        self._presence_dirty = True
        self._flush_presence()

    async def wait_synced(self, timeout_s: Optional[float] = None) -> None:
        """Returns when every local edit is acknowledged (and the link is up)."""
        sm = self.state_machine
        if self.ready and sm.live and not sm.pending:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        await asyncio.wait_for(fut, timeout_s)

    def close(self) -> None:
        """Unsubscribes; unacknowledged edits are abandoned."""
        if self.closed:
            return
        self.closed = True
        if self._presence_handle:
            self._presence_handle.cancel()
        self.owner._forget(self)
        self.owner._send({"type": "close", "doc": self.name})

    # --- the state machine's host ------------------------------------------------
    def snapshot(self, text: str, v: int, peers: List[Message]) -> None:
        self.text = text
        self.ready = True
        self.peers = {p["session"]: dict(p) for p in peers}
        if self._opened and not self._opened.done():
            self._opened.set_result(self)

    def remote_op(self, op: ot.Op, meta: Message) -> None:
        self.text = ot.apply(self.text, op)
        self._move_selections(op, "before")
        self.emit("change", {"op": op, **meta})

    def local_text(self) -> str:
        return self.text

    def changed(self) -> None:
        s = self.state
        if s != self._last_state:
            self._last_state = s
            self.emit("status", {"state": s, "v": self.v})
        sm = self.state_machine
        if sm.live and not sm.pending:
            waiters, self._waiters = self._waiters, []
            for f in waiters:
                if not f.done():
                    f.set_result(None)
        self._flush_presence()

    def notice(self, kind: str, message: str) -> None:
        self.emit("notice", {"kind": kind, "message": message})

    def acked(self, op_id: str, v: int) -> None:
        self.emit("ack", {"id": op_id, "v": v})

    def retry_later(self, fn: Callable[[], None]) -> None:
        asyncio.get_running_loop().call_later(STORAGE_RETRY_S, fn)

    # --- internals ---------------------------------------------------------------
    def _receive(self, msg: Message) -> None:
        t = msg.get("type")
        if t == "error" and not self.ready and msg.get("ref") == self.name:
            self.closed = True
            self.owner._forget(self)
            if self._opened and not self._opened.done():
                self._opened.set_exception(RingpadError(msg.get("code", ""), msg.get("message", ""), self.name))
            return
        if t == "presence":
            sel = self.state_machine.map_remote_sel(msg["sel"], msg["v"])
            if sel is None:
                return
            p = {"session": msg["session"], "name": msg.get("name"), "color": msg.get("color"), "sel": sel}
            self.peers[msg["session"]] = p
            self.emit("presence", p)
            return
        if t == "leave":
            if self.peers.pop(msg.get("session", ""), None) is not None:
                self.emit("leave", {"session": msg["session"]})
            return
        self.state_machine.receive(msg)

    def _move_selections(self, op: ot.Op, own_side: ot.Side) -> None:
        if self.selection:
            self.selection = [[ot.transform_position(a, op, own_side), ot.transform_position(h, op, own_side)]
                              for a, h in self.selection]
        for p in self.peers.values():
            if p.get("sel"):
                p["sel"] = [[ot.transform_position(a, op, "before"), ot.transform_position(h, op, "before")]
                            for a, h in p["sel"]]

    def _flush_presence(self) -> None:
        if not self._presence_dirty or self.closed or not self.state_machine.can_send_presence() \
                or not self.owner.connected:
            return
        rate = self.owner.limits.get("presence_per_second") or DEFAULT_PRESENCE_PER_SECOND
        wait = self._last_presence_at + 1.0 / rate - time.monotonic()
        if wait > 0:
            if not self._presence_handle:
                def later() -> None:
                    self._presence_handle = None
                    self._flush_presence()
                self._presence_handle = asyncio.get_running_loop().call_later(wait, later)
            return
        self._presence_dirty = False
        self._last_presence_at = time.monotonic()
        # While Synchronized the text is the text at server_v: positions go as they are.
        self.owner._send({"type": "presence", "doc": self.name, "v": self.v, "sel": self.selection or []})


class Client(_Emitter):
    """A connection to ``ws://host:port/ws`` for any number of documents. Use as
    ``async with Client(url) as c: doc = await c.open("name")``. Events: 'status'
    ({state, ...}: connecting, connected, reconnecting, unauthorized, stopped),
    'error' (RingpadError for errors that belong to no open document)."""

    def __init__(self, url: str, *, token: Union[None, str, Callable[[], Optional[str]]] = None,
                 name: Optional[str] = None, color: Optional[str] = None,
                 client_id: Optional[str] = None) -> None:
        super().__init__()
        self.url = url
        self.token = token
        self.name = name
        self.color = color
        self.client_id = client_id or secrets.token_hex(5)
        self.docs: Dict[str, Doc] = {}
        self.limits: Message = {}
        self.session: Optional[str] = None
        self.connected = False
        self.status: Message = {"state": "stopped"}
        self._opened = 0
        self._ws: Optional[ClientConnection] = None
        self._out: Optional[asyncio.Queue[str]] = None
        self._task: Optional[asyncio.Task[None]] = None
        self._stopped = True
        self._wake: Optional[asyncio.Event] = None

    async def __aenter__(self) -> "Client":
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start(self) -> None:
        """Connects (in a background task) and keeps reconnecting until close()."""
        self._stopped = False
        if not self._task or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stops for good: closes the WebSocket and does not reconnect."""
        self._stopped = True
        for d in self.docs.values():
            if d._presence_handle:
                d._presence_handle.cancel()
        if self._ws:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._set_status({"state": "stopped"})

    async def disconnect(self) -> None:
        """Goes offline on purpose until connect(); documents keep local edits."""
        await self.close()

    def connect(self) -> None:
        """Comes back after disconnect(): re-opens every document and resends."""
        self.start()

    def drop_connection(self) -> None:
        """Cuts the TCP connection like a network failure; it comes back with backoff."""
        if self._ws:
            self._ws.transport.abort()

    async def open(self, name: str) -> Doc:
        """Opens (subscribes to, creating if absent) a document; returns once its
        first snapshot arrived. RingpadError when the server refuses."""
        if not valid_doc_name(name):
            raise RingpadError("bad_doc_name", f'"{name}" is not a document name: 1..200 bytes of A-Z a-z 0-9 . _ - /, '
                               "without a leading or trailing /, //, or a . or .. segment", name)
        if self._task is None:
            self.start()  # open() on a client never started: start it
        if name in self.docs:
            d = self.docs[name]
            if d._opened:
                await d._opened
            return d
        self._opened += 1
        doc = Doc(self, name, f"{self.client_id}.{self._opened}")
        doc._opened = asyncio.get_running_loop().create_future()
        self.docs[name] = doc
        doc.state_machine.set_limits(self.limits)
        if self.connected:
            m = doc.state_machine.connected()
            if m:
                self._send(m)
        return await doc._opened

    # --- internals ---------------------------------------------------------------
    def _send(self, msg: Message) -> bool:
        if not self.connected or self._out is None:
            return False
        self._out.put_nowait(json.dumps(msg, ensure_ascii=False, separators=(",", ":")))
        return True

    def _forget(self, doc: Doc) -> None:
        if self.docs.get(doc.name) is doc:
            del self.docs[doc.name]

    def _set_status(self, s: Message) -> None:
        self.status = s
        self.emit("status", s)

    def _hello(self) -> Message:
        m: Message = {"type": "hello"}
        token = self.token() if callable(self.token) else self.token
        if token:
            m["token"] = token
        if self.name:
            m["name"] = self.name
        if self.color:
            m["color"] = self.color
        return m

    async def _run(self) -> None:
        attempt = 0
        while not self._stopped:
            self._set_status({"state": "connecting", "attempt": attempt})
            reason = "the server cannot be reached"
            try:
                async with connect(self.url, subprotocols=[websockets.Subprotocol(SUBPROTOCOL)],
                                   ping_interval=PING_INTERVAL_S, max_size=None, open_timeout=10) as ws:
                    self._ws = ws
                    await ws.send(json.dumps(self._hello()))
                    unauthorized = await self._session(ws)
                    if unauthorized:
                        self._set_status({"state": "unauthorized"})
                        return
                    attempt = 0
                    reason = "the connection was lost"
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as e:
                reason = f"{reason}: {e}" if not self.connected else "the connection was lost"
            finally:
                self._ws = None
                if self.connected:
                    self.connected = False
                    self._out = None
                    for d in list(self.docs.values()):
                        d.state_machine.disconnected()
            if self._stopped:
                break
            delay = backoff_delay_s(attempt)
            attempt += 1
            self._set_status({"state": "reconnecting", "attempt": attempt, "retry_in_s": delay, "reason": reason})
            await asyncio.sleep(delay)

    async def _session(self, ws: ClientConnection) -> bool:
        """Reads one connection until it closes; True when the server refused the token."""
        writer: Optional[asyncio.Task[None]] = None
        try:
            async for raw in ws:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(msg, dict):
                    continue
                t = msg.get("type")
                if t == "welcome":
                    self._out = asyncio.Queue()
                    writer = asyncio.get_running_loop().create_task(self._write(ws, self._out))
                    self.connected = True
                    self.session = msg.get("session")
                    self.limits = msg.get("limits") or {}
                    self._set_status({"state": "connected", "session": self.session})
                    for d in list(self.docs.values()):
                        d.state_machine.set_limits(self.limits)
                        m = d.state_machine.connected()
                        if m:
                            self._send(m)
                    continue
                if t == "pong":
                    continue
                if t == "error" and msg.get("code") == "unauthorized":
                    self.emit("error", RingpadError("unauthorized", msg.get("message", "")))
                    return True
                self._route(msg)
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            if writer:
                writer.cancel()
        return ws.close_code == 4401

    async def _write(self, ws: ClientConnection, out: "asyncio.Queue[str]") -> None:
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            while True:
                await ws.send(await out.get())

    def _route(self, msg: Message) -> None:
        doc = self.docs.get(msg["doc"]) if isinstance(msg.get("doc"), str) else None
        ref = msg.get("ref")
        if doc is None and msg.get("type") == "error":
            if isinstance(ref, str):
                doc = self.docs.get(ref)
                if doc is None:
                    # An op id: "<client_id>.<n>:<seq>" names the document's state machine.
                    doc = next((d for d in self.docs.values()
                                if ref.startswith(d.state_machine.client_id + ":")), None)
            elif msg.get("code") == "bad_doc_name":
                # A name the server refuses to decode comes back without ref (a lower
                # --max-doc-name-bytes than ours): it answers the oldest open still waiting.
                doc = next((d for d in self.docs.values() if not d.ready), None)
                if doc is not None:
                    msg = {**msg, "ref": doc.name}
        if doc is not None:
            doc._receive(msg)
        elif msg.get("type") == "error":
            self.emit("error", RingpadError(msg.get("code", ""), msg.get("message", ""), ref))

