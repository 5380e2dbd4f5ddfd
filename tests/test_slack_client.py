"""The outbound Slack client goes to SLACK_API_URL and retries 429 and 5xx."""

import asyncio

from pydantic import SecretStr

from configuration.settings import Settings
from configuration.slack_client import make_async_web_client, make_web_client
from tests.fakes.slack_api import ScriptedReply, SlackApiRecorder


def test_posts_through_the_recorder_and_retries_429_then_5xx(
    slack_api: SlackApiRecorder,
) -> None:
    settings = Settings(slack_bot_token=SecretStr("xoxb-test"), slack_api_url=slack_api.base_url)
    slack_api.script("chat.postMessage",
                     ScriptedReply(429, {"ok": False, "error": "ratelimited"},
                                   {"Retry-After": "1"}),
                     ScriptedReply(500, {"ok": False}))
    response = make_web_client(settings).chat_postMessage(channel="D1", text="hello")
    assert response["ok"] is True
    calls = slack_api.calls_to("chat.postMessage")
    assert len(calls) == 3
    assert calls[-1].headers["Authorization"] == "Bearer xoxb-test"
    assert calls[-1].body["text"] == "hello"


def test_the_bots_async_client_is_made_the_same_way(slack_api: SlackApiRecorder) -> None:
    """One factory: the Bolt app's client also goes to SLACK_API_URL and retries 429 and 5xx."""
    settings = Settings(slack_bot_token=SecretStr("xoxb-test"), slack_api_url=slack_api.base_url)
    slack_api.script("chat.postMessage",
                     ScriptedReply(429, {"ok": False, "error": "ratelimited"},
                                   {"Retry-After": "1"}),
                     ScriptedReply(500, {"ok": False}))
    client = make_async_web_client(settings)
    response = asyncio.run(client.chat_postMessage(channel="D1", text="hello"))
    assert response["ok"] is True
    calls = slack_api.calls_to("chat.postMessage")
    assert len(calls) == 3
    assert calls[-1].headers["Authorization"] == "Bearer xoxb-test"
    assert client.timeout == make_web_client(settings).timeout == 10
