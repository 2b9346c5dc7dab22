"""A synchronous client of the REST API (docs/PROTOCOL.md §15) on the stdlib:
read a document, its history, list, submit an op, delete. For backends and
scripts that do not keep a connection open."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

from . import ot
from .client import RingpadError

DEFAULT_TIMEOUT_S = 10.0


class Rest:
    """``Rest("http://127.0.0.1:8080", token=...)``; every method raises RingpadError
    (``code`` as in §5/§15, ``status`` the HTTP status) when the server refuses."""

    def __init__(self, base_url: str, *, token: Optional[str] = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                err = json.loads(raw)
                code, message = err.get("code", "http_error"), err.get("message", "")
            except ValueError:
                code, message = "http_error", raw.decode(errors="replace")[:200]
            raise RingpadError(code, f"{method} {path}: HTTP {e.code}: {message}", status=e.code) from None

    @staticmethod
    def _doc_path(name: str) -> str:
        return "/api/docs/" + urllib.parse.quote(name, safe="/")

    def get(self, name: str, v: Optional[int] = None) -> Dict[str, Any]:
        """{"v", "doc", "text"}: the text now, or at version ``v`` within the history."""
        q = f"?v={v}" if v is not None else ""
        result: Dict[str, Any] = self._call("GET", self._doc_path(name) + q)
        return result

    def ops(self, name: str, from_v: int = 0, to_v: Optional[int] = None) -> List[Dict[str, Any]]:
        """Every op with base in [from_v, to_v), following the server's pages."""
        out: List[Dict[str, Any]] = []
        while True:
            q = f"?from={from_v}" + (f"&to={to_v}" if to_v is not None else "")
            page = self._call("GET", self._doc_path(name) + "/ops" + q)
            out.extend(page["ops"])
            end = to_v if to_v is not None else page["v"]
            if page["to"] >= end or not page["ops"]:
                return out
            from_v = page["to"]

    def list(self, limit: int = 100) -> Iterator[Dict[str, Any]]:
        """Every document ({"name", "v", "codepoints", "bytes"}), in name order."""
        after: Optional[str] = None
        while True:
            q = f"?limit={limit}" + (f"&after={urllib.parse.quote(after)}" if after else "")
            page = self._call("GET", "/api/docs" + q)
            yield from page["docs"]
            after = page.get("next")
            if not after:
                return

    def submit(self, name: str, v: int, op: List[Union[int, str]], op_id: Optional[str] = None) -> int:
        """Submits ``op`` based on version ``v``; returns the version it was applied at."""
        body = {"v": v, "id": op_id or f"rest-{secrets.token_hex(6)}", "op": ot.normalize(op)}
        ack = self._call("POST", self._doc_path(name) + "/ops", body)
        return int(ack["v"])

    def set_text(self, name: str, text: str) -> int:
        """Makes the document ``text`` with one minimal replacement (editors keep
        their cursors); returns the version it was applied at. Concurrent edits
        are merged with it, so the text may then hold them too."""
        return self._edit(name, lambda cur: ot.diff(cur, text))

    def append(self, name: str, text: str) -> int:
        """Appends ``text`` at the end as it is when the op is applied."""
        return self._edit(name, lambda cur: ot.OpBuilder().retain(len(cur)).insert(text).done())

    def _edit(self, name: str, make: Callable[[str], ot.Op]) -> int:
        # Built on the text at v; the server transforms it through whatever was
        # applied since, as it does for any client op.
        try:
            cur = self.get(name)
        except RingpadError as e:
            if e.code != "not_found":
                raise
            cur = {"v": 0, "text": ""}
        return self.submit(name, cur["v"], make(cur["text"]))

    def delete(self, name: str) -> bool:
        """True when the document existed."""
        return bool(self._call("DELETE", self._doc_path(name))["deleted"])
