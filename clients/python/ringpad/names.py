"""Document names as docs/PROTOCOL.md §2 allows them."""

from __future__ import annotations

import re

DOC_NAME_MAX_BYTES = 200  # --max-doc-name-bytes is at most 200
_CHARS = re.compile(r"[A-Za-z0-9._/-]+")


def valid_doc_name(name: str) -> bool:
    """1..200 bytes of A-Z a-z 0-9 . _ - /, no leading or trailing /, no //, no . or .. segment."""
    if not name or len(name.encode()) > DOC_NAME_MAX_BYTES or not _CHARS.fullmatch(name):
        return False
    return all(seg not in ("", ".", "..") for seg in name.split("/"))
