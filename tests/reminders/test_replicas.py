"""Two replicas (two services, two engines, two Slack clients) against ONE PostgreSQL
database, running the job at the same moment: each recipient gets exactly one message."""

import threading
from collections import Counter
from datetime import timedelta

import pytest

from service import Policy, Service, ServiceContext
from service.reminders import ReminderRun
from store.db import Database
from tests.conftest import FrozenClock
from tests.fakes.slack_api import SlackApiRecorder
from tests.reminders.helpers import CHANNEL_ID, NINE_AM_15TH, OPTIONS, SlackWorkspace, sender

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_clinic(postgres_url: str, db_url: str, clinic: Service) -> str:
    """The clinic seeded on PostgreSQL (the db_url param is pinned to postgres below)."""
    return db_url


def _replica(url: str, clock: FrozenClock) -> Service:
    return Service(ServiceContext(Database(url), Policy(), clock))


def _race(replicas: list[Service], slack_api: SlackApiRecorder) -> list[ReminderRun | None]:
    """Both replicas run the scheduled job at the same instant, each in its own thread."""
    start = threading.Barrier(len(replicas))
    runs: list[ReminderRun | None] = []
    errors: list[BaseException] = []

    def job(replica: Service) -> None:
        start.wait()
        try:
            runs.append(replica.reminders.run_due(sender(slack_api), OPTIONS))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return runs


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_replicas_at_0900_send_each_message_exactly_once(
    pg_clinic: str, slack_api: SlackApiRecorder, slack: SlackWorkspace,
) -> None:
    replicas = [_replica(pg_clinic, FrozenClock(NINE_AM_15TH)) for _ in range(2)]
    for day in range(3):  # three mornings, three fresh races
        for replica in replicas:
            replica.ctx.clock.now = NINE_AM_15TH + timedelta(days=day)  # type: ignore[attr-defined]
        runs = _race(replicas, slack_api)
        statuses = Counter(o.status for run in runs if run for o in run.outcomes)
        assert statuses["sent"] == 3, statuses  # one replica sent each, the other did not
        assert set(statuses) <= {"sent", "already_sent", "in_flight"}
    per_channel = Counter(slack.channels())
    assert per_channel == {"D01NURSE": 3, "D02DOCTOR": 3, CHANNEL_ID: 3}
    for replica in replicas:
        replica.ctx.db.dispose()
