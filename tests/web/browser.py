"""Debian's headless Chromium for the browser tests: screenshots, DOM dumps and layout.

The screenshot and DOM come from Chromium's own command-line switches; layout (the rendered
width of each bar) comes from the DevTools protocol over a websocket, which is the only way
to ask a browser where it drew something.
"""

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1280,900"]
TIMEOUT = 60


def chromium_or_skip() -> str:
    """The chromium binary; skip without it, except in CI (CI set), where that fails."""
    path = shutil.which("chromium")
    if path is None:
        message = "chromium is not installed (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile.mkdir(parents=True, exist_ok=True)
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=TIMEOUT, check=True)


def dump_dom(chromium: str, profile: Path, url: str) -> str:
    return _run(chromium, profile, "--dump-dom", url).stdout


def screenshot(chromium: str, profile: Path, url: str, target: Path) -> Path:
    _run(chromium, profile, f"--screenshot={target}", url)
    return target


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


class DevTools:
    """A minimal DevTools client: one page, commands answered in order."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._next = 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.call("Target.attachToTarget", targetId=target,
                                  flatten=True)["sessionId"]

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._socket.send(json.dumps(message))
        while True:  # events arrive in between; skip them until our answer
            answer = json.loads(self._socket.recv(timeout=TIMEOUT))
            if answer.get("id") == self._next:
                assert "error" not in answer, answer["error"]
                return answer["result"]  # type: ignore[no-any-return]

    def open(self, url: str) -> None:
        self.call("Page.navigate", self._session, url=url)

    def evaluate(self, expression: str) -> Any:
        """`expression` (may be a promise) evaluated once the page has loaded."""
        wrapped = ("new Promise(r => document.readyState === 'complete' ? r() : "
                   f"addEventListener('load', () => r())).then(() => ({expression}))")
        result = self.call("Runtime.evaluate", self._session, expression=wrapped,
                           awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")


@contextmanager
def devtools(chromium: str, profile: Path) -> Iterator[DevTools]:
    profile.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--remote-allow-origins=*", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:  # Chromium announces its endpoint on stderr
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                break
        else:
            raise AssertionError("chromium exited without a DevTools endpoint")
        stderr = process.stderr  # keep draining it so Chromium never blocks on a full pipe
        threading.Thread(target=lambda: [None for _ in stderr], daemon=True).start()
        with connect(found.group(1), max_size=None, open_timeout=TIMEOUT) as socket:
            yield DevTools(socket)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
