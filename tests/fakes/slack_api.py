"""A recording stand-in for Slack's Web API on loopback.

The real slack_sdk clients (sync and async) are pointed at it with `base_url`, so tests
exercise the SDK's own request building, retries and parsing; nothing reaches Slack.
"""

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class _Server(ThreadingHTTPServer):
    # listen backlog (socketserver's is 5): a burst of response_url posts is accepted, as
    # Slack would, instead of waiting out SYN retransmits of one, three, seven seconds
    request_queue_size = 1024


@dataclass
class RecordedCall:
    method: str  # e.g. "chat.postMessage", or the path for response_url posts
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class ScriptedReply:
    status: int = 200
    body: dict[str, Any] = field(default_factory=lambda: {"ok": True})
    headers: dict[str, str] = field(default_factory=dict)


class SlackApiRecorder:
    """Records every call; replies {"ok": true} unless a method has scripted replies."""

    def __init__(self) -> None:
        self.calls: list[RecordedCall] = []
        self._scripts: dict[str, list[ScriptedReply]] = {}
        self._defaults: dict[str, Callable[[RecordedCall], dict[str, Any]]] = {
            "auth.test": lambda _: {"ok": True, "user_id": "UBOT", "bot_id": "BBOT",
                                    "team_id": "T1", "url": "https://example.slack.com/"},
            "conversations.open": lambda c: {"ok": True, "channel": {
                "id": "D" + str(c.body.get("users", "U"))[1:]}},
            "chat.postMessage": lambda c: {"ok": True, "channel": c.body.get("channel"),
                                           "ts": f"{len(self.calls)}.000100"},
            # files_upload_v2: ask for an upload URL (here, on this recorder), POST the bytes
            # there (recorded under the path /upload/F..., body {"raw": text}), then complete
            "files.getUploadURLExternal": lambda c: {
                "ok": True, "file_id": f"F{len(self.calls)}",
                "upload_url": f"{self.root_url}/upload/F{len(self.calls)}"},
            "files.completeUploadExternal": lambda c: {
                "ok": True, "files": [{"id": f["id"], "title": f.get("title")}
                                      for f in json.loads(str(c.body.get("files") or "[]"))]},
        }
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        # shutdown() returns at the loop's next poll: 5 ms, not the default 0.5 s a test (at
        # 50 ms the ~800 tests that start one waited ~25 ms each at teardown)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.005}, daemon=True)

    @property
    def base_url(self) -> str:
        """What to pass as WebClient(base_url=...) / SLACK_API_URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def script(self, method: str, *replies: ScriptedReply) -> None:
        """The next calls to `method` get these replies, in order, then the default."""
        self._scripts.setdefault(method, []).extend(replies)

    def on(self, method: str, reply: Callable[[RecordedCall], dict[str, Any]]) -> None:
        """The default reply of `method` from now on."""
        self._defaults[method] = reply

    def calls_to(self, method: str) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def start(self) -> "SlackApiRecorder":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply_for(self, call: RecordedCall) -> ScriptedReply:
        with self._lock:
            self.calls.append(call)
            queue = self._scripts.get(call.method)
            if queue:
                return queue.pop(0)
        default = self._defaults.get(call.method)
        return ScriptedReply(body=default(call) if default else {"ok": True})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode(errors="replace") if length else ""
                kind = self.headers.get("Content-Type", "")
                if self.path.startswith("/upload/"):  # a file's bytes, as Slack's upload URL
                    body: dict[str, Any] = {"raw": raw}
                elif "json" in kind:
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(raw).items()}
                if "?" in self.path and not self.path.startswith("/upload/"):
                    # the async client sends some methods' arguments in the query string
                    query = parse_qs(self.path.split("?", 1)[1])
                    body = {**{k: v[0] if len(v) == 1 else v for k, v in query.items()},
                            **body}
                method = self.path.split("/api/", 1)[1].split("?")[0] \
                    if "/api/" in self.path else self.path
                reply = recorder._reply_for(
                    RecordedCall(method, self.path, dict(self.headers.items()), body))
                payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST  # noqa: N815 - some SDK calls use GET

        return Handler
