"""A recording stand-in for Twilio's REST API on loopback (Calls list and create).

The real `twilio` client is pointed at it (TWILIO_API_URL / RebasedHttpClient), so tests
exercise the library's own request building, paging and parsing; nothing reaches Twilio.
"""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.fakes.ids import unique_sid


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class TwilioApiRecorder:
    account_sid: str
    calls: list[dict[str, Any]] = field(default_factory=list)  # what Calls.json lists
    page_size: int = 2  # small, so paging is exercised
    requests: list[RecordedRequest] = field(default_factory=list)
    create_omits: tuple[str, ...] = ()  # fields a scripted create answer leaves out ("sid")

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # shutdown() returns at the loop's next poll: 0.05 s, not the default 0.5 s a test
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.005}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "TwilioApiRecorder":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _calls_path(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Calls.json"

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        page = int(query.get("Page", ["0"])[0])
        rows = self.calls[page * self.page_size:(page + 1) * self.page_size]
        more = (page + 1) * self.page_size < len(self.calls)
        next_uri = f"{self._calls_path()}?PageSize={self.page_size}&Page={page + 1}" \
            if more else None
        return {"calls": rows, "page": page, "page_size": self.page_size,
                "next_page_uri": next_uri, "uri": self._calls_path(), "start": 0, "end": 0,
                "first_page_uri": self._calls_path(), "previous_page_uri": None}

    def _create(self, form: dict[str, list[str]]) -> dict[str, Any]:
        sid = unique_sid("CA")
        answer = {"sid": sid, "account_sid": self.account_sid, "status": "queued",
                  "to": form.get("To", [""])[0], "from": form.get("From", [""])[0],
                  "direction": "outbound-api", "parent_call_sid": None}
        return {k: v for k, v in answer.items() if k not in self.create_omits}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _record(self) -> RecordedRequest:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                parsed = urlparse(self.path)
                request = RecordedRequest(self.command, parsed.path, parse_qs(parsed.query),
                                          parse_qs(raw), dict(self.headers.items()))
                recorder.requests.append(request)
                return request

            def do_GET(self) -> None:  # noqa: N802
                request = self._record()
                if request.path != recorder._calls_path():
                    self._reply(404, {"code": 20404, "message": "not found"})
                    return
                self._reply(200, recorder._list(request.query))

            def do_POST(self) -> None:  # noqa: N802
                request = self._record()
                if request.path != recorder._calls_path():
                    self._reply(404, {"code": 20404, "message": "not found"})
                    return
                self._reply(201, recorder._create(request.form))

        return Handler
