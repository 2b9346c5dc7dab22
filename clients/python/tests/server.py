"""Starts the real ringpad for the tests: loopback, an ephemeral port, a temporary
data folder, always stopped (SIGTERM, then SIGKILL). The binary comes from
RINGPAD_BIN (set by `zig build test`), else ../../zig-out/bin/ringpad."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("RINGPAD_BIN") or REPO / "zig-out" / "bin" / "ringpad")
START_TIMEOUT_S = 10.0
STOP_WAIT_S = 3.0
LISTEN_RE = re.compile(r"ringpad listening on http://127\.0\.0\.1:(\d+)")


class Server:
    def __init__(self, extra_args: Optional[List[str]] = None) -> None:
        self.data_dir = tempfile.mkdtemp(prefix="ringpad-sdk-py-")
        self.proc = subprocess.Popen(
            [str(BIN), "--host", "127.0.0.1", "--port", "0", "--threads", "2", "--data-dir", self.data_dir,
             *(extra_args or [])],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.stderr = ""
        found = threading.Event()
        self.port = 0

        def read() -> None:
            assert self.proc.stderr is not None
            for line in iter(self.proc.stderr.readline, ""):
                self.stderr += line
                m = LISTEN_RE.search(line)
                if m and not found.is_set():
                    self.port = int(m.group(1))
                    found.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not found.wait(START_TIMEOUT_S):
            self.stop()
            raise RuntimeError(f"ringpad did not listen within {START_TIMEOUT_S} s:\n{self.stderr}")
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.http_url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(STOP_WAIT_S)
        if self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def available() -> bool:
    return BIN.exists()


def wait_until(pred: "object", timeout_s: float = 15.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if callable(pred) and pred():
            return True
        time.sleep(0.01)
    return False
