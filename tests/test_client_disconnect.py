"""Issue 27.8b: a client that hangs up before its request body arrives (a slow client, or
many held open on purpose) is one warning line, not uvicorn's ERROR traceback per client.

Over the real app (Slack and Twilio configured, lifespan on): the ASGI messages uvicorn hands
the app for such a client, part of the body then `http.disconnect`. The app used to raise
`ClientDisconnect` out of SlackGate and the Twilio signature check, which uvicorn logs as
"Exception in ASGI application" with the traceback; it now answers, and logs one line."""

import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI

from rpm_logger.app import create_app
from service import Service
from tests.bot.conftest import SECRET
from tests.fakes.slack_api import SlackApiRecorder
from tests.loopback import _Lifespan, served
from tests.telephony.conftest import twilio_settings

# headers of the shape each route checks before it reads the body
SLACK_HEADERS = [(b"x-slack-request-timestamp", str(int(time.time())).encode()),
                 (b"x-slack-signature", b"v0=" + b"0" * 64)]
TWILIO_HEADERS = [(b"x-twilio-signature", b"abc="),
                  (b"content-type", b"application/x-www-form-urlencoded")]
ROUTES = {"/slack/events": SLACK_HEADERS, "/twilio/voice/incoming": TWILIO_HEADERS,
          "/twilio/voice/menu": TWILIO_HEADERS}
GONE = "client disconnected before its request was read: POST {}"


@pytest.fixture
def app(svc: Service, slack_api: SlackApiRecorder) -> FastAPI:
    return create_app(twilio_settings(slack_api, slack_signing_secret=SECRET), service=svc)


@pytest.fixture
def running(app: FastAPI) -> Iterator[Any]:
    """A portal whose event loop runs the app, its lifespan started."""
    with start_blocking_portal("asyncio") as portal:
        lifespan = _Lifespan(app)
        portal.call(lifespan.startup)
        try:
            yield portal
        finally:
            portal.call(lifespan.shutdown)


def _hang_up_midway(portal: Any, app: FastAPI, path: str) -> list[dict[str, Any]]:
    """POST `path` declaring 1,000 bytes, send 3, then the client is gone."""
    arriving = iter([{"type": "http.request", "body": b"abc", "more_body": True}])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(arriving, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
             "server": ("127.0.0.1", 8000),
             "headers": [(b"host", b"rpm.test"), (b"content-length", b"1000"),
                         *ROUTES[path]]}
    portal.call(app, scope, receive, send)  # raised ClientDisconnect: uvicorn's traceback
    return sent


@pytest.mark.parametrize("path", ROUTES)
def test_a_client_gone_midway_is_one_warning_line(running: Any, app: FastAPI, path: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sent = _hang_up_midway(running, app, path)
    assert sent[0]["type"] == "http.response.start"  # answered into the void, not raised
    mine = [r for r in caplog.records if r.getMessage() == GONE.format(path)]
    assert len(mine) == 1 and mine[0].levelno == logging.WARNING and mine[0].exc_info is None
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.real_server  # what uvicorn itself logs for a socket closed mid-body
def test_uvicorn_logs_no_traceback_for_a_client_gone_midway(
        app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    uvicorn_errors = logging.getLogger("uvicorn.error")  # does not propagate to the root
    with served(app) as url:
        uvicorn_errors.addHandler(caplog.handler)
        try:
            host, port = url.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port))) as client:
                headers = "".join(f"{k.decode()}: {v.decode()}\r\n" for k, v in SLACK_HEADERS)
                client.sendall(f"POST /slack/events HTTP/1.1\r\nhost: rpm.test\r\n{headers}"
                               "content-length: 1000\r\n\r\nabc".encode())
            deadline = time.monotonic() + 10  # the server notices the closed socket
            while GONE.format("/slack/events") not in caplog.messages:
                assert time.monotonic() < deadline, caplog.messages
                time.sleep(0.01)
        finally:
            uvicorn_errors.removeHandler(caplog.handler)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert caplog.messages.count(GONE.format("/slack/events")) == 1
