import os

import pytest
import slack_sdk.http_retry.builtin_handlers as builtin_handlers
import slack_sdk.http_retry.handler as retry_handler

from service import Service
from tests.cli.test_cli import Cli
from tests.conftest import FrozenClock
from tests.fakes.slack_api import SlackApiRecorder
from tests.reminders.helpers import (
    CHANNEL_ID,
    NINE_AM_15TH,
    SlackWorkspace,
    SleepRecorder,
    seed_clinic,
)


@pytest.fixture
def clinic(svc: Service, clock: FrozenClock) -> Service:
    clock.now = NINE_AM_15TH.replace(day=12)
    seed_clinic(svc)
    clock.now = NINE_AM_15TH
    return svc


@pytest.fixture
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> SleepRecorder:
    """slack_sdk's retry waits are recorded instead of slept (no test waits for real)."""
    recorder = SleepRecorder()
    monkeypatch.setattr(builtin_handlers, "time", recorder.module())
    monkeypatch.setattr(retry_handler, "time", recorder.module())
    return recorder


@pytest.fixture
def slack(slack_api: SlackApiRecorder) -> SlackWorkspace:
    return SlackWorkspace(slack_api)


@pytest.fixture
def remind(db_url: str, clinic: Service, clock: FrozenClock) -> Cli:
    """`rpm-logger` (in this process) on the clinic's database, Slack not set, at the clinic's
    frozen instant."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    env.update(DATABASE_URL=db_url, CLINIC_TIMEZONE="America/New_York",
               REMINDER_CHANNEL=CHANNEL_ID)
    return Cli(env, clock=clock)


def with_slack(cli: Cli, slack: SlackWorkspace) -> Cli:
    return Cli({**cli.env, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": slack.api.base_url},
               clock=cli.clock)
