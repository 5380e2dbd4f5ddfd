"""Oversized bodies are refused early (413) on every route, over real HTTP on loopback."""

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import select

from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from store.models import AuditEvent, TimeEntry
from tests.bot.conftest import serve
from tests.fakes.slack_api import SlackApiRecorder

MEGABYTE_FORM = {"text": "log P-1042 12m review " + "x" * (1024 * 1024)}


@pytest.fixture
def url(svc: Service, slack_api: SlackApiRecorder):
    settings = Settings(
        slack_signing_secret=SecretStr("s"), slack_bot_token=SecretStr("xoxb-test"),
        slack_api_url=slack_api.base_url, reminders_enabled=False,
        twilio_account_sid="AC" + "0" * 32, twilio_auth_token=SecretStr("t"),
        public_base_url="https://rpm.example.org", reconcile_enabled=False,
        dashboard_token=SecretStr("d" * 32),
    )
    with serve(create_app(settings, service=svc)) as base:
        yield base


def _rows(svc: Service) -> int:
    with svc.ctx.db.read_session() as session:
        return len(session.exec(select(TimeEntry)).all()) + len(
            session.exec(select(AuditEvent)).all())


@pytest.mark.parametrize("path", ["/slack/events", "/twilio/voice/status",
                                  "/twilio/messaging", "/"])
def test_a_megabyte_form_gets_413_and_changes_nothing(url: str, svc: Service,
                                                      path: str) -> None:
    response = httpx.post(url + path, data=MEGABYTE_FORM, timeout=10)
    assert response.status_code == 413
    assert response.json() == {"error": "request body too large"}
    assert _rows(svc) == 0
    assert httpx.get(url + "/healthz", timeout=5).status_code == 200


def test_a_chunked_body_is_cut_off_at_the_limit(url: str, svc: Service) -> None:
    def chunks():
        for _ in range(64):
            yield b"x" * 16384  # 1 MiB in all, no Content-Length

    # signed (badly), so the route reads the body: an unsigned one is refused unread (403)
    response = httpx.post(url + "/twilio/voice/status", content=chunks(), timeout=10,
                          headers={"Content-Type": "application/x-www-form-urlencoded",
                                   "X-Twilio-Signature": "bm9wZQ=="})
    assert response.status_code == 413
    assert _rows(svc) == 0


def test_ordinary_requests_pass(url: str) -> None:
    response = httpx.post(url + "/slack/events", data={"text": "help"}, timeout=5)
    assert response.status_code == 401  # reaches the signature check
