"""The real app (in this process over ASGI, or on a loopback uvicorn server for tests marked
`real_server`: tests/loopback.py), and a client that signs like Slack does.

Requests are form-encoded (slash commands, interactivity) or JSON (events), signed with
v0 HMAC-SHA256 over `v0:{timestamp}:{body}`; every outbound Slack call (auth.test,
views.publish, chat.postMessage, response_url posts) lands on the `slack_api` recorder.
"""

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from tests.fakes.slack_api import RecordedCall, SlackApiRecorder
from tests.loopback import connected
from tests.loopback import served as serve  # noqa: F401 - bot tests import it here
from tests.service.helpers import seed

SECRET = "test-signing-secret"
TEAM = "T1"  # the workspace every request says it comes from (`SlackSender.team`)




def sign(body: str, timestamp: int, secret: str = SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Sent:
    response: httpx.Response
    response_url: str | None = None

    @property
    def body(self) -> dict[str, Any]:
        return self.response.json() if self.response.content else {}

    @property
    def text(self) -> str:
        """The reply's text and every mrkdwn/plain text in its blocks, joined."""
        return all_text(self.body)


def all_text(payload: Any) -> str:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(payload)
    return "\n".join(dict.fromkeys(found))


class SlackSender:
    """Sends what Slack sends, signed (or deliberately not)."""

    def __init__(self, base_url: str, recorder: SlackApiRecorder,
                 http: httpx.Client | None = None) -> None:
        self.url = base_url + "/slack/events"
        self.recorder = recorder
        self.http = http or httpx.Client(timeout=10)  # load tests pass a bigger pool
        self._ids = itertools.count(1)
        self.team = TEAM  # the workspace the payloads name (SLACK_TEAM_ID tests change it)

    def post(self, body: str, content_type: str, *, timestamp: int | None = None,
             signature: str | None = None) -> httpx.Response:
        ts = int(time.time()) if timestamp is None else timestamp
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(ts),
                   "X-Slack-Signature": signature or sign(body, ts)}
        return self.http.post(self.url, content=body.encode(), headers=headers)

    def command(self, text: str, *, user: str = "U01NURSE", channel: str = "C0CHAN",
                **kwargs: Any) -> Sent:
        response_url = f"{self.recorder.root_url}/response/{next(self._ids)}"
        form = {"token": "legacy", "team_id": self.team, "team_domain": "clinic",
                "channel_id": channel, "channel_name": "rpm", "user_id": user,
                "user_name": "someone", "command": "/rpm", "text": text,
                "api_app_id": "A1", "response_url": response_url,
                "trigger_id": "1.2.3"}
        return Sent(self.post(urlencode(form), "application/x-www-form-urlencoded", **kwargs),
                    response_url)

    def action(self, action_id: str, value: str, *, user: str = "U01NURSE",
               channel: str | None = "C0CHAN", container: str = "message") -> Sent:
        response_url = f"{self.recorder.root_url}/response/{next(self._ids)}"
        payload: dict[str, Any] = {
            "type": "block_actions", "team": {"id": self.team}, "api_app_id": "A1",
            "user": {"id": user, "team_id": self.team}, "token": "legacy",
            "container": {"type": container}, "trigger_id": "1.2.3",
            "response_url": response_url,
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b1",
                         "value": value, "action_ts": "1.2"}],
        }
        if channel:
            payload["channel"] = {"id": channel}
        body = urlencode({"payload": json.dumps(payload)})
        return Sent(self.post(body, "application/x-www-form-urlencoded"), response_url)

    def view_submission(self, callback_id: str, private_metadata: str,
                        values: dict[str, dict[str, str]], *, user: str = "U01NURSE") -> Sent:
        """A modal's submit: `values` is {block_id: {action_id: typed text}}."""
        state = {block: {action: {"type": "plain_text_input", "value": text}
                         for action, text in actions.items()}
                 for block, actions in values.items()}
        payload = {"type": "view_submission", "team": {"id": self.team}, "api_app_id": "A1",
                   "user": {"id": user, "team_id": self.team}, "token": "legacy",
                   "trigger_id": "4.5.6",
                   "view": {"id": "V1", "type": "modal", "callback_id": callback_id,
                            "private_metadata": private_metadata, "state": {"values": state},
                            "hash": "1.abc"}}
        body = urlencode({"payload": json.dumps(payload)})
        return Sent(self.post(body, "application/x-www-form-urlencoded"))

    def event(self, event: dict[str, Any]) -> Sent:
        body = json.dumps({"token": "legacy", "team_id": self.team, "api_app_id": "A1",
                           "type": "event_callback", "event_id": f"Ev{next(self._ids)}",
                           "event_time": int(time.time()), "event": event})
        return Sent(self.post(body, "application/json"))

    def final_text(self, sent: Sent, timeout: float = 60) -> str:
        """The command's real answer: the acknowledgement itself, or, when the bot acked
        "Saving…" (past its ack deadline, or too many works in flight), what it then posted
        to the command's response_url."""
        if "Saving…" not in sent.text:
            return sent.text
        path = "/" + (sent.response_url or "").split("/", 3)[3]
        posted = self.wait_for(path, timeout=timeout)
        assert posted, f"no reply posted to {path} after 'Saving…'"
        return all_text(posted[0].body)

    def wait_for(self, method: str, count: int = 1, timeout: float = 10) -> list[RecordedCall]:
        """Calls made after the HTTP reply (events, actions) arrive a moment later."""
        deadline = time.monotonic() + timeout
        while True:
            calls = self.recorder.calls_to(method)
            if len(calls) >= count or time.monotonic() > deadline:
                return calls
            time.sleep(0.01)


def bot_settings(slack_api: SlackApiRecorder, **changes: Any) -> Settings:
    """The bot's settings (and `changes`): the bot's tests count every outbound call, so
    the reminder job, which has its own tests, is off."""
    return Settings(**{"slack_signing_secret": SECRET, "slack_bot_token": "xoxb-test",
                       "slack_api_url": slack_api.base_url, "reminders_enabled": False,
                       **changes})


@pytest.fixture
def slack_settings(slack_api: SlackApiRecorder) -> Settings:
    return bot_settings(slack_api)


@pytest.fixture
def seeded(svc: Service) -> Service:
    seed(svc)
    return svc




@pytest.fixture
def server_url(seeded: Service, slack_settings: Settings) -> Iterator[str]:
    """The real ASGI app served by uvicorn on a free loopback port, in a thread."""
    with serve(create_app(slack_settings, service=seeded)) as url:
        yield url


@pytest.fixture
def slack(request: pytest.FixtureRequest, seeded: Service, slack_settings: Settings,
          slack_api: SlackApiRecorder) -> Iterator[SlackSender]:
    """A sender to the real app: in this process, or served by uvicorn if `real_server`."""
    with connected(create_app(slack_settings, service=seeded), request, timeout=10) \
            as (url, http):
        yield SlackSender(url, slack_api, http)


@pytest.fixture
def one_team_slack(request: pytest.FixtureRequest, seeded: Service,
                   slack_api: SlackApiRecorder) -> Iterator[SlackSender]:
    """A sender to the real app with SLACK_TEAM_ID set to the sender's own team (TEAM)."""
    settings = bot_settings(slack_api, slack_team_id=TEAM)
    with connected(create_app(settings, service=seeded), request, timeout=10) as (url, http):
        yield SlackSender(url, slack_api, http)
