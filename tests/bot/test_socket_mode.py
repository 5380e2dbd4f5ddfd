"""Socket Mode (SLACK_APP_TOKEN set): the app opens its connection through SLACK_API_URL
and answers a slash command envelope over a real websocket on loopback."""

import asyncio
import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import WSMsgType, web

from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from tests.bot.conftest import SECRET, all_text, serve
from tests.bot.helpers import entries
from tests.fakes.slack_api import ScriptedReply, SlackApiRecorder

ENVELOPE = {
    "envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True,
    "payload": {"token": "legacy", "team_id": "T1", "channel_id": "C0CHAN",
                "user_id": "U01NURSE", "command": "/rpm", "text": "log P-1042 12m review",
                "api_app_id": "A1", "response_url": "http://127.0.0.1:9/unused",
                "trigger_id": "1.2.3"},
}


class FakeSocketModeServer:
    """Sends one envelope to whoever connects and hands back what the app acknowledges."""

    def __init__(self) -> None:
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        await ws.send_str(json.dumps(ENVELOPE))
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.acks.put(json.loads(message.data))
        return ws

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/link", self._socket)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> "FakeSocketModeServer":
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture
def socket_server() -> Iterator[FakeSocketModeServer]:
    server = FakeSocketModeServer().start()
    yield server
    server.stop()


def test_socket_mode_answers_a_slash_command_through_the_websocket(
    seeded: Service, slack_api: SlackApiRecorder, socket_server: FakeSocketModeServer
) -> None:
    slack_api.on("apps.connections.open", lambda _: {
        "ok": True, "url": f"ws://127.0.0.1:{socket_server.port}/link"})
    settings = Settings(slack_signing_secret=SECRET, slack_bot_token="xoxb-test",
                        slack_app_token="xapp-test", slack_api_url=slack_api.base_url)
    with serve(create_app(settings, service=seeded)):
        ack = socket_server.acks.get(timeout=20)
    assert ack["envelope_id"] == "env-1"
    assert "Saved entry #1: 12 min of review for P-1042 (JD)" in all_text(ack["payload"])
    [opened] = slack_api.calls_to("apps.connections.open")
    assert opened.headers["Authorization"] == "Bearer xapp-test"
    assert len(entries(seeded)) == 1


def test_a_failing_socket_connection_never_blocks_start_up(
    seeded: Service, slack_api: SlackApiRecorder
) -> None:
    slack_api.script("apps.connections.open", ScriptedReply(body={"ok": False,
                                                                  "error": "invalid_auth"}))
    settings = Settings(slack_signing_secret=SECRET, slack_bot_token="xoxb-test",
                        slack_app_token="xapp-bad", slack_api_url=slack_api.base_url)
    with serve(create_app(settings, service=seeded)) as url:
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200


def test_socket_mode_refuses_another_team_too(
    seeded: Service, slack_api: SlackApiRecorder, socket_server: FakeSocketModeServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """SLACK_TEAM_ID holds over the websocket as over HTTP (issue 27.8a): the envelope's
    team T1 is not this clinic's, so no listener runs and nothing is saved (Bolt sends no
    ack for a refusal: Slack shows the sender an error)."""
    slack_api.on("apps.connections.open", lambda _: {
        "ok": True, "url": f"ws://127.0.0.1:{socket_server.port}/link"})
    settings = Settings(slack_signing_secret=SECRET, slack_bot_token="xoxb-test",
                        slack_app_token="xapp-test", slack_api_url=slack_api.base_url,
                        slack_team_id="T9CLINIC")
    refusal = "Slack request from team T1 refused (403): SLACK_TEAM_ID is T9CLINIC"
    with serve(create_app(settings, service=seeded)):
        deadline = time.monotonic() + 20
        while refusal not in caplog.messages:
            assert time.monotonic() < deadline, caplog.messages
            time.sleep(0.01)
    assert entries(seeded) == []
    assert socket_server.acks.empty()
