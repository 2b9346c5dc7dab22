"""The Python SDK against the real ringpad: concurrent random edits with forced
disconnects converge to the REST text with one version per acknowledged op;
many documents on one connection; presence; refused opens; offline edits;
version_too_old recovery; the REST helper. Skips when ringpad is not built."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import unittest
from pathlib import Path
from typing import Any, List

import ringpad
from tests import fuzz_editor
from tests.server import BIN, Server, available

SETTLE_TIMEOUT_S = 15.0


async def until(pred: Any, what: str, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if pred():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{what}: not within {timeout_s} s")


@unittest.skipUnless(available(), "ringpad is not built (./zigw build)")
class AgainstServer(unittest.IsolatedAsyncioTestCase):
    extra_args: List[str] = []

    def setUp(self) -> None:
        self.srv = Server(self.extra_args)
        self.rest = ringpad.Rest(self.srv.http_url)

    def tearDown(self) -> None:
        self.srv.stop()

    async def test_concurrent_edits_with_disconnects_converge(self) -> None:
        r = await fuzz_editor.fuzz(self.srv.ws_url, "race/py", clients=3, rounds=50, seed=3)
        server = self.rest.get("race/py")
        self.assertEqual(r["texts"], [server["text"]] * 3)
        self.assertEqual(r["vs"], [server["v"]] * 3)
        self.assertEqual(server["v"], r["acked"], "one version per acknowledged op id")

    async def test_many_documents_on_one_connection(self) -> None:
        names = [f"many/{i}" for i in range(4)]
        async with ringpad.Client(self.srv.ws_url) as a, ringpad.Client(self.srv.ws_url) as b:
            da = [await a.open(n) for n in names]
            db = [await b.open(n) for n in names]
            for i in range(4):
                da[i].insert(0, f"A{i}")
                db[i].insert(0, f"B{i}")
            for d in da + db:
                await d.wait_synced(SETTLE_TIMEOUT_S)
            for i, n in enumerate(names):
                await until(lambda: da[i].v == 2 and db[i].v == 2, f"{n} at v2")
                text = self.rest.get(n)["text"]
                self.assertIn(text, (f"A{i}B{i}", f"B{i}A{i}"))
                self.assertEqual((da[i].text, db[i].text), (text, text))

    async def test_presence_and_leave(self) -> None:
        async with ringpad.Client(self.srv.ws_url, name="Alice", color="#e91e63") as a, \
                ringpad.Client(self.srv.ws_url, name="Bob") as b:
            da = await a.open("presence/py")
            da.insert(0, "Hello 😀 world")
            await da.wait_synced(SETTLE_TIMEOUT_S)
            db = await b.open("presence/py")
            seen: List[Any] = []
            left: List[Any] = []
            db.on("presence", seen.append)
            db.on("leave", left.append)
            da.set_selection([[8, 13]])
            await until(lambda: bool(seen), "presence at B")
            self.assertEqual((seen[0]["name"], seen[0]["color"], seen[0]["sel"]), ("Alice", "#e91e63", [[8, 13]]))
            db.insert(0, ">> ")
            self.assertEqual(db.peers[seen[0]["session"]]["sel"], [[11, 16]])
            await a.close()
            await until(lambda: bool(left), "leave at B")
            self.assertEqual(left[0]["session"], seen[0]["session"])
            self.assertEqual(db.peers, {})

    async def test_open_refused(self) -> None:
        async with ringpad.Client(self.srv.ws_url) as c:
            with self.assertRaises(ringpad.RingpadError) as e:
                await c.open("../escape")
            self.assertEqual((e.exception.code, e.exception.ref), ("bad_doc_name", "../escape"))
            self.assertEqual(c.docs, {})
            d = await c.open("fine")
            self.assertEqual(d.v, 0)

    async def test_offline_edits_are_sent_on_reconnect(self) -> None:
        c = ringpad.Client(self.srv.ws_url)
        c.start()
        d = await c.open("offline/py")
        d.insert(0, "one ")
        await d.wait_synced(SETTLE_TIMEOUT_S)
        await c.disconnect()
        d.insert(len(d.text), "two ")
        d.insert(len(d.text), "three")
        self.assertEqual(d.state, "awaiting-with-buffer")
        acks: List[Any] = []
        d.on("ack", acks.append)
        c.connect()
        await d.wait_synced(SETTLE_TIMEOUT_S)
        server = self.rest.get("offline/py")
        self.assertEqual((server["text"], server["v"], d.text), ("one two three", 3, "one two three"))
        self.assertEqual([x["v"] for x in acks], [1, 2])
        await c.close()

    async def test_rest_helper(self) -> None:
        with self.assertRaises(ringpad.RingpadError) as e:
            self.rest.get("rest/none")
        self.assertEqual(e.exception.code, "not_found")
        self.assertEqual(self.rest.append("rest/doc", "hi\n"), 0)
        self.assertEqual(self.rest.set_text("rest/doc", "hello 😀\n"), 1)
        self.assertEqual(self.rest.get("rest/doc"), {"v": 2, "doc": "rest/doc", "text": "hello 😀\n"})
        self.assertEqual(self.rest.get("rest/doc", v=1)["text"], "hi\n")
        self.assertEqual([o["v"] for o in self.rest.ops("rest/doc")], [0, 1])
        self.assertEqual([d["name"] for d in self.rest.list()], ["rest/doc"])
        with self.assertRaises(ringpad.RingpadError) as e:
            self.rest.submit("rest/doc", 2, [1, "x"])
        self.assertEqual(e.exception.code, "bad_op")
        self.assertTrue(self.rest.delete("rest/doc"))
        self.assertFalse(self.rest.delete("rest/doc"))

    async def test_example_appends_lines(self) -> None:
        example = Path(__file__).resolve().parents[1] / "examples" / "append_lines.py"
        r = await asyncio.to_thread(
            subprocess.run, [sys.executable, str(example), self.srv.ws_url, "ex/lines", "--count", "3", "--interval-s", "0"],
            capture_output=True, text=True, timeout=60,
            # as after `pip install ./clients/python`
            env={**os.environ, "PYTHONPATH": str(example.parents[1])})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("line 3 acknowledged: version 3", r.stdout)
        doc = self.rest.get("ex/lines")
        self.assertEqual(doc["v"], 3)
        self.assertEqual([ln.split(" at ")[0] for ln in doc["text"].splitlines()], ["line 1", "line 2", "line 3"])


def mint(secret: str, sub: str, *grants: str) -> str:
    args = [str(BIN), "token", "--secret", secret, "--sub", sub, "--ttl", "1h"]
    for g in grants:
        args += ["--doc", g]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()


@unittest.skipUnless(available(), "ringpad is not built (./zigw build)")
class WithAuth(unittest.IsolatedAsyncioTestCase):
    SECRET = "sdk-test-secret-0123456789"

    def setUp(self) -> None:
        self.srv = Server(["--auth-secret", self.SECRET])

    def tearDown(self) -> None:
        self.srv.stop()

    async def test_read_grant_no_grant_and_bad_token(self) -> None:
        async with ringpad.Client(self.srv.ws_url, token=mint(self.SECRET, "w", "team/*:write")) as writer, \
                ringpad.Client(self.srv.ws_url, token=lambda: mint(self.SECRET, "r", "team/doc:read")) as reader:
            w = await writer.open("team/doc")
            w.insert(0, "shared")
            await w.wait_synced(SETTLE_TIMEOUT_S)
            r = await reader.open("team/doc")
            self.assertEqual(r.text, "shared")
            notices: List[Any] = []
            r.on("notice", notices.append)
            r.insert(0, "x")  # the role is the server's to say: refused, undone, read-only
            await until(lambda: bool(notices), "readonly notice")
            self.assertEqual(notices[0]["kind"], "readonly")
            await until(lambda: r.text == "shared", "the refused edit undone")
            with self.assertRaises(ringpad.RingpadError) as e:
                r.insert(0, "y")
            self.assertEqual(e.exception.code, "forbidden")
            self.assertEqual(r.text, "shared")
            with self.assertRaises(ringpad.RingpadError) as e:
                await reader.open("other")
            self.assertEqual((e.exception.code, e.exception.ref), ("forbidden", "other"))
            rest = ringpad.Rest(self.srv.http_url)
            with self.assertRaises(ringpad.RingpadError) as e:
                rest.get("team/doc")
            self.assertEqual((e.exception.code, e.exception.status), ("unauthorized", 401))
            rest.token = mint(self.SECRET, "r", "team/doc:read")
            self.assertEqual(rest.get("team/doc")["text"], "shared")
        stranger = ringpad.Client(self.srv.ws_url, token="not.a.token")
        errors: List[Any] = []
        stranger.on("error", errors.append)
        stranger.start()
        await until(lambda: stranger.status["state"] == "unauthorized", "unauthorized status")
        self.assertEqual(errors[0].code, "unauthorized")
        await asyncio.sleep(0.7)  # past the first backoff: no retry
        self.assertEqual(stranger.status["state"], "unauthorized")
        await stranger.close()


@unittest.skipUnless(available(), "ringpad is not built (./zigw build)")
class ShortHistory(unittest.IsolatedAsyncioTestCase):
    async def test_version_too_old_resyncs_from_a_snapshot(self) -> None:
        srv = Server(["--history-depth", "4"])
        try:
            async with ringpad.Client(srv.ws_url) as a:
                b = ringpad.Client(srv.ws_url)
                b.start()
                da = await a.open("old/py")
                db = await b.open("old/py")
                da.insert(0, "base")
                await da.wait_synced(SETTLE_TIMEOUT_S)
                await until(lambda: db.text == "base", "B sees base")
                await b.disconnect()
                for i in range(10):
                    da.insert(len(da.text), str(i))
                    await da.wait_synced(SETTLE_TIMEOUT_S)
                changes: List[Any] = []
                db.on("change", changes.append)
                b.connect()
                await until(lambda: db.v == da.v, "B back at the server version")
                self.assertEqual(db.text, "base0123456789")
                self.assertEqual(len(changes), 1)
                self.assertTrue(changes[0]["resync"])
                await b.close()
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
