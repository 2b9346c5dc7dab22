"""Random concurrent edits from several Python clients on one document, with
forced disconnects (the TCP connection cut mid-stream). Used by test_server.py
and, as a script, by the mixed-SDK suite (clients/js/test/mixed.test.mjs):

    python fuzz_editor.py WS_URL DOC --clients 2 --rounds 40 --seed 1 [--until-file F]

prints one JSON line: {"texts": [...], "vs": [...], "acked": N} once every
client's edits are acknowledged and (with --until-file) that file exists."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
from pathlib import Path
from typing import Any, Dict, List, Set

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import ringpad  # noqa: E402

PIECES = ["a", "bc", "é", "😀", "👩‍💻", "\n", "中文", "xyz"]
SETTLE_TIMEOUT_S = 20.0


def random_edit(doc: ringpad.Doc, rnd: random.Random) -> None:
    n = len(doc.text)
    if n > 0 and rnd.random() < 0.35:
        pos = rnd.randrange(n)
        doc.delete(pos, 1 + rnd.randrange(min(3, n - pos)))
    else:
        doc.insert(rnd.randrange(n + 1), rnd.choice(PIECES))


async def fuzz(url: str, doc_name: str, clients: int, rounds: int, seed: int,
               until_file: str = "") -> Dict[str, Any]:
    rnd = random.Random(seed)
    cs = [ringpad.Client(url, name=f"py{i}") for i in range(clients)]
    for c in cs:
        c.start()
    docs = [await c.open(doc_name) for c in cs]
    acked: List[Set[str]] = [set() for _ in cs]
    for d, ids in zip(docs, acked):
        def on_ack(a: Dict[str, Any], ids: Set[str] = ids) -> None:
            ids.add(a["id"])
        d.on("ack", on_ack)
    for r in range(rounds):
        for d in docs:
            random_edit(d, rnd)
        if r % 10 == 5:
            cs[r % clients].drop_connection()
        await asyncio.sleep(0.005)
    await asyncio.wait_for(asyncio.gather(*(d.wait_synced() for d in docs)), SETTLE_TIMEOUT_S)
    if until_file:
        while not os.path.exists(until_file):
            await asyncio.sleep(0.02)
    # Everyone else may still have been writing: wait for the server's last version.
    rest = ringpad.Rest(url.replace("ws://", "http://", 1).rsplit("/ws", 1)[0])
    server_v = (await asyncio.to_thread(rest.get, doc_name))["v"]
    for _ in range(int(SETTLE_TIMEOUT_S / 0.02)):
        if all(d.v == server_v for d in docs):
            break
        await asyncio.sleep(0.02)
    for c in cs:
        await c.close()
    return {"texts": [d.text for d in docs], "vs": [d.v for d in docs], "acked": sum(len(a) for a in acked)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("doc")
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--until-file", default="")
    a = p.parse_args()
    print(json.dumps(asyncio.run(fuzz(a.url, a.doc, a.clients, a.rounds, a.seed, a.until_file)), ensure_ascii=False))


if __name__ == "__main__":
    main()
