"""The scheduler inside the app's lifespan: job settings, zones, start-up catch-up, replicas."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger
from fastapi.testclient import TestClient

from reminders.scheduler import (
    CATCH_UP_JOB_ID,
    DAILY_JOB_ID,
    DAILY_MISFIRE_GRACE_SECONDS,
    ReminderScheduler,
)
from rpm_logger.app import create_app
from service import Policy, Service, ServiceContext
from store.db import Database
from tests.conftest import FrozenClock
from tests.fakes.slack_api import SlackApiRecorder
from tests.reminders.helpers import (
    CHANNEL_ID,
    NINE_AM_15TH,
    SlackWorkspace,
    slack_settings,
)

ALL_THREE = sorted([CHANNEL_ID, "D01NURSE", "D02DOCTOR"])


def _never() -> None:
    raise AssertionError("the job must not run in this test")


@pytest.mark.parametrize(("zone", "at", "after", "fires"), [
    # the 15th at 09:00 in New York is 14:00 UTC in winter, 13:00 UTC in summer
    ("America/New_York", "09:00", datetime(2026, 11, 14, 20), datetime(2026, 11, 15, 14)),
    ("America/New_York", "09:00", datetime(2026, 6, 14, 20), datetime(2026, 6, 15, 13)),
    ("UTC", "09:00", datetime(2026, 11, 14, 20), datetime(2026, 11, 15, 9)),
    ("America/Chicago", "7:30", datetime(2026, 11, 30, 14), datetime(2026, 12, 1, 13, 30)),
])
def test_the_daily_job_fires_at_reminder_time_in_the_clinic_zone(
    slack_api: SlackApiRecorder, svc: Service, zone: str, at: str, after: datetime,
    fires: datetime,
) -> None:
    settings = slack_settings(slack_api, clinic_timezone=zone, reminder_time=at)
    scheduler = ReminderScheduler(settings, svc, job=_never)
    daily = scheduler.scheduler.get_job(DAILY_JOB_ID)
    assert isinstance(daily.trigger, CronTrigger)
    fire = daily.trigger.get_next_fire_time(None, after.replace(tzinfo=UTC))
    assert fire is not None and fire.astimezone(UTC) == fires.replace(tzinfo=UTC)
    assert (daily.misfire_grace_time, daily.coalesce, daily.max_instances) == (
        DAILY_MISFIRE_GRACE_SECONDS, True, 1)
    catch_up = scheduler.scheduler.get_job(CATCH_UP_JOB_ID)
    assert (catch_up.coalesce, catch_up.max_instances, catch_up.misfire_grace_time) == (
        True, 1, 900)
    assert catch_up.trigger.interval.total_seconds() == 900


def test_the_same_job_ids_replace_instead_of_adding(slack_api: SlackApiRecorder,
                                                    svc: Service) -> None:
    scheduler = ReminderScheduler(slack_settings(slack_api), svc, job=lambda: None)
    scheduler._add_jobs()  # added twice (as a second configuration would)

    async def started() -> list[str]:
        scheduler.start()  # pending jobs reach the job store: the same id replaces
        ids = sorted(j.id for j in scheduler.scheduler.get_jobs())
        await scheduler.stop()
        return ids

    assert asyncio.run(started()) == [CATCH_UP_JOB_ID, DAILY_JOB_ID]


def test_done_when_the_15th_at_0900_clinic_time_sends_one_dm_each_and_never_a_duplicate(
    clinic: Service, clock: FrozenClock, slack_api: SlackApiRecorder, slack: SlackWorkspace,
) -> None:
    """The daily job's body, run as the cron trigger fires it (and fires it again)."""
    scheduler = ReminderScheduler(slack_settings(slack_api), clinic)
    clock.now = NINE_AM_15TH.replace(hour=13, minute=59)  # 08:59 in New York
    scheduler.run_once()
    assert slack_api.calls == []
    clock.now = NINE_AM_15TH  # 09:00
    scheduler.run_once()
    assert slack.channels() == ALL_THREE
    for minutes in (0, 15, 600):  # a second firing, catch-up ticks, the evening
        clock.now = NINE_AM_15TH.replace(minute=0) + timedelta(minutes=minutes)
        scheduler.run_once()
    assert len(slack_api.calls_to("chat.postMessage")) == 3
    assert [c.body["users"] for c in slack_api.calls_to("conversations.open")] == [
        "U01NURSE", "U02DOCTOR"]


def _serve_once(settings: object, svc: Service) -> None:
    """Start the app (lifespan), wait for the start-up run, stop it."""
    app = create_app(settings, svc)  # type: ignore[arg-type]
    with TestClient(app):
        assert app.state.reminders is not None
        assert app.state.reminders.wait_for_runs(1)


def test_a_restart_after_a_missed_0900_runs_once(
    clinic: Service, clock: FrozenClock, slack_api: SlackApiRecorder, slack: SlackWorkspace,
) -> None:
    clock.now = datetime(2026, 11, 15, 16, 0, tzinfo=UTC)  # 11:00 in New York: 09:00 missed
    settings = slack_settings(slack_api)
    _serve_once(settings, clinic)
    assert slack.channels() == ALL_THREE
    _serve_once(settings, clinic)  # restarted again the same day: nothing more
    assert slack.channels() == ALL_THREE
    assert len(slack_api.calls_to("chat.postMessage")) == 3


def test_starting_before_reminder_time_sends_nothing(
    clinic: Service, clock: FrozenClock, slack_api: SlackApiRecorder, slack: SlackWorkspace,
) -> None:
    clock.now = datetime(2026, 11, 15, 12, 59, tzinfo=UTC)  # 07:59 in New York
    _serve_once(slack_settings(slack_api, reminder_time="08:00"), clinic)
    assert slack_api.calls == []
    clock.now = datetime(2026, 11, 15, 13, 0, tzinfo=UTC)  # 08:00: due
    _serve_once(slack_settings(slack_api, reminder_time="08:00"), clinic)
    assert slack.channels() == ALL_THREE


@pytest.mark.parametrize("extra", [{"reminders_enabled": False}, {"slack_bot_token": None}])
def test_disabled_or_without_slack_there_is_no_scheduler(
    clinic: Service, slack_api: SlackApiRecorder, extra: dict[str, object],
) -> None:
    app = create_app(slack_settings(slack_api, **extra), clinic)
    with TestClient(app) as client:
        assert app.state.reminders is None
        assert client.get("/healthz").status_code == 200
    assert slack_api.calls == []


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_schedulers_on_one_postgresql_database_send_each_dm_once(
    db_url: str, clinic: Service, slack_api: SlackApiRecorder, slack: SlackWorkspace,
) -> None:
    settings = slack_settings(slack_api)
    replicas = [Service(ServiceContext(Database(db_url), Policy(), FrozenClock(NINE_AM_15TH)))
                for _ in range(2)]

    async def serve_both() -> None:
        schedulers = [ReminderScheduler(settings, replica) for replica in replicas]
        for scheduler in schedulers:
            scheduler.start()
        for scheduler in schedulers:
            assert await asyncio.to_thread(scheduler.wait_for_runs, 1)
        for scheduler in schedulers:
            await scheduler.stop()

    asyncio.run(serve_both())
    assert slack.channels() == ALL_THREE
    for replica in replicas:
        replica.ctx.db.dispose()
