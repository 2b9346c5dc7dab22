"""Appends a line every second to a ringpad document: open it in a browser
(http://127.0.0.1:8080/d/<document>) and watch the lines arrive while you type.

    python examples/append_lines.py [ws://127.0.0.1:8080/ws] [document] [--count N]

RINGPAD_TOKEN is sent as the token when the server has auth on. Ctrl-C stops.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import ringpad


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url", nargs="?", default="ws://127.0.0.1:8080/ws")
    p.add_argument("doc", nargs="?", default="hello")
    p.add_argument("--count", type=int, default=0, help="stop after N lines (0: until Ctrl-C)")
    p.add_argument("--interval-s", type=float, default=1.0)
    a = p.parse_args()

    async with ringpad.Client(a.url, name="append_lines.py", token=os.environ.get("RINGPAD_TOKEN")) as client:
        client.on("status", lambda s: print(f"connection: {s['state']}"
                                            + (f" ({s['reason']})" if s.get("reason") else "")))
        doc = await client.open(a.doc)
        print(f'opened "{a.doc}" at version {doc.v}, {len(doc.text)} code points')
        doc.on("change", lambda c: print(f"edit by {c['by']}: {c['op']}"))
        n = 0
        while a.count == 0 or n < a.count:
            n += 1
            # Positions count code points: len() of a Python str.
            prefix = "" if not doc.text or doc.text.endswith("\n") else "\n"
            doc.insert(len(doc.text), f"{prefix}line {n} at {time.strftime('%H:%M:%S')}\n")
            doc.set_selection([[len(doc.text), len(doc.text)]])
            await doc.wait_synced(timeout_s=30)
            print(f"line {n} acknowledged: version {doc.v}")
            await asyncio.sleep(a.interval_s)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
