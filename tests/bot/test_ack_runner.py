"""bot/listeners/ack_runner: Bolt's answer leaves when the listener acks (no 10 ms poll),
the listener goes on afterwards, and a listener that never acks is still reported."""

import asyncio
import logging
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.listeners import ack_runner


async def _authorize(**_: Any) -> AuthorizeResult:
    return AuthorizeResult(enterprise_id=None, team_id="T1", bot_token="xoxb-test",
                           user_id="UBOT")


def _app() -> AsyncApp:
    app = AsyncApp(authorize=_authorize, signing_secret="unused",
                   request_verification_enabled=False, process_before_response=False)
    return app


def _command(text: str) -> AsyncBoltRequest:
    body = urlencode({"command": "/rpm", "text": text, "user_id": "U1", "team_id": "T1",
                      "channel_id": "C1", "response_url": "http://127.0.0.1:9/r"})
    request = AsyncBoltRequest(body=body,
                               headers={"content-type": "application/x-www-form-urlencoded"})
    ack_runner.signalling_ack(request)
    return request


def test_the_answer_is_the_ack_and_the_listener_goes_on_after_it() -> None:
    app = _app()
    finished = asyncio.Event()
    order: list[str] = []

    @app.command("/rpm")
    async def listener(ack: Any) -> None:
        await ack("saved")
        order.append("acked")
        await asyncio.sleep(0.05)
        order.append("after")
        finished.set()

    ack_runner.install(app)

    async def go() -> BoltResponse:
        response = await app.async_dispatch(_command("log"))
        order.append("answered")
        await asyncio.wait_for(finished.wait(), 5)
        return response

    response = asyncio.run(go())
    assert response.status == 200 and response.body == "saved"
    assert order == ["acked", "answered", "after"]


def test_a_listener_that_ends_without_acking_is_reported_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Bolt waited its 3 s polling; the runner knows the listener is done."""
    app = _app()

    @app.command("/rpm")
    async def listener(ack: Any) -> None:
        return None

    ack_runner.install(app)
    caplog.set_level(logging.WARNING)

    async def go() -> tuple[BoltResponse, float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        response = await app.async_dispatch(_command("log"))
        return response, loop.time() - started

    response, took = asyncio.run(go())
    assert took < 2
    assert any("didn't call ack()" in r.getMessage() for r in caplog.records)
    assert response.status != 200 or response.body == ""


def test_a_listener_failing_before_its_ack_answers_500() -> None:
    app = _app()

    @app.command("/rpm")
    async def listener(ack: Any) -> None:
        raise RuntimeError("boom")

    ack_runner.install(app)
    response = asyncio.run(app.async_dispatch(_command("log")))
    assert response.status == 500
