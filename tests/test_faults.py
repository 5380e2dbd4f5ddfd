"""Faults in the middle of real requests (issue 7): a SQLite write lock held past the busy
timeout, a database failing mid-transaction or at COMMIT, and 200 staff logging at once.
Slack and Twilio are real signed HTTP requests to the real app on loopback. Whatever fails,
nothing is half-written (no entry without its audit record) and the retry is stored once."""

import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from threading import Barrier
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import select

from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from store.db import SQLITE_BUSY_TIMEOUT_MS, Database
from store.models import AuditEvent, Call, Staff, TimeEntry
from tests.bot.conftest import SECRET, SlackSender
from tests.fakes.slack_api import SlackApiRecorder
from tests.faults import StatementFault, failing_commit, failing_statements
from tests.loopback import served
from tests.telephony.conftest import (
    CALL_END,
    NURSE_TWILIO_NUMBER,
    PATIENT_PHONE,
    TwilioApp,
    new_sid,
    seed_clinic,
    status_form,
    twilio_settings,
)

NOT_SAVED = "not saved — try again"
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@dataclass(frozen=True)
class Stored:
    entries: list[TimeEntry]
    logged: list[str]  # entity ids of the entry.log audit events
    calls: list[Call]
    audits: int


def stored(db: Database) -> Stored:
    with db.read_session() as session:
        audits = session.exec(select(AuditEvent)).all()
        return Stored(list(session.exec(select(TimeEntry)).all()),
                      [a.entity_id for a in audits if a.action == "entry.log"],
                      list(session.exec(select(Call)).all()), len(audits))


def assert_whole(state: Stored) -> None:
    """Every entry has its audit record and every audit record its entry."""
    assert sorted(str(e.id) for e in state.entries) == sorted(state.logged)


def _completed_call(sid: str) -> dict[str, str]:
    return status_form(sid=sid, status="completed", from_=PATIENT_PHONE, to=NURSE_TWILIO_NUMBER,
                       direction="inbound", sequence=3, at=CALL_END, duration=300)


def _both(slack_api: SlackApiRecorder, **extra: Any) -> Settings:
    """Slack and Twilio configured; no background jobs (reminders, reconciliation)."""
    return twilio_settings(slack_api, slack_signing_secret=SECRET, reconcile_enabled=False,
                           **extra)


@contextmanager
def _running(settings: Settings, slack_api: SlackApiRecorder, service: Service | None = None,
             ) -> Iterator[tuple[SlackSender, TwilioApp]]:
    """The app on loopback with a Slack and a Twilio client; without `service` the app
    builds its own from `settings` (as `serve` does)."""
    app = create_app(settings, service=service)
    with served(app) as url, httpx.Client(timeout=30) as http:
        yield (SlackSender(url, slack_api, http),
               TwilioApp(url, app.state.service, settings, http, slack_api))


# ----- a: SQLite locked by another writer for longer than the busy timeout ------------------

@SQLITE_ONLY
def test_busy_timeout_defaults_to_30_seconds_and_is_read_from_the_environment(
    db_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SQLITE_BUSY_TIMEOUT_MS", raising=False)
    assert Settings().sqlite_busy_timeout_ms == SQLITE_BUSY_TIMEOUT_MS == 30_000
    database = Database(db_url)
    assert _busy_timeout(database) == 30_000
    database.dispose()
    monkeypatch.setenv("SQLITE_BUSY_TIMEOUT_MS", "250")
    assert Settings().sqlite_busy_timeout_ms == 250


def _busy_timeout(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(text("PRAGMA busy_timeout")).scalar_one())


@contextmanager
def write_lock_held(db_url: str) -> Iterator[None]:
    """Another process's writer: BEGIN IMMEDIATE on its own connection, held until the end."""
    holder = sqlite3.connect(make_url(db_url).database or "", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


@SQLITE_ONLY
def test_a_locked_database_says_not_saved_then_the_retry_is_stored_once(
    svc: Service, db_url: str, slack_api: SlackApiRecorder,
) -> None:
    seed_clinic(svc)
    before = stored(svc.ctx.db)
    # the app builds its own database from the settings, so the setting is what is tested
    settings = _both(slack_api, database_url=db_url, sqlite_busy_timeout_ms=250)
    with _running(settings, slack_api) as (slack, twilio):
        assert _busy_timeout(twilio.service.ctx.db) == 250
        slack.command("help")  # Bolt's first request (auth.test) out of the way
        form = _completed_call(new_sid())
        with write_lock_held(db_url):
            started = time.monotonic()
            sent = slack.command("log P-1042 12m review")
            assert NOT_SAVED in sent.text and "Saved" not in sent.text
            refused = twilio.post("/twilio/voice/status", form)
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
            # the short timeout answered, not the 30 s default (a wide margin for busy hosts)
            assert time.monotonic() - started < 15
            assert stored(svc.ctx.db) == before  # nothing half-written
        for _ in range(2):  # Twilio's retry, and a duplicate of it
            assert twilio.post("/twilio/voice/status", form).status_code == 200
        assert "Saved entry #" in slack.command("log P-1042 12m review").text
    after = stored(svc.ctx.db)
    assert len(after.calls) == 1 and len(after.entries) == 2  # the call's and the Slack one
    assert sorted(e.source for e in after.entries) == ["slack", "twilio"]
    assert_whole(after)


# ----- b: the database fails mid-transaction ---------------------------------------------

FAULTS: dict[str, Callable[[Database], AbstractContextManager[StatementFault]]] = {
    # the first INSERT went through; the next statement of the same transaction fails
    "after the first insert": lambda db: failing_statements(db, after_inserts=1, times=1),
    "at commit": lambda db: failing_commit(db),
}
# what failed in the Slack log: the entry was inserted, the read after it (the reply's
# figures; its audit record is written at commit, store/audit.py) was not / or all of it was
# written and COMMIT failed
SLACK_FAILED = {"after the first insert": "SELECT", "at commit": "COMMIT"}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failure_mid_transaction_leaves_nothing_and_the_retry_is_stored_once(
    svc: Service, slack_api: SlackApiRecorder, fault: str,
) -> None:
    seed_clinic(svc)
    db = svc.ctx.db
    before = stored(db)
    with _running(_both(slack_api), slack_api, svc) as (slack, twilio):
        slack.command("help")
        with FAULTS[fault](db) as injected:
            sent = slack.command("log P-1042 12m review")
        # a COMMIT that fails on PostgreSQL may have committed before its answer was lost:
        # "could not confirm", never "not saved" (issue 26 #9); SQLite's is known undone
        unknown = fault == "at commit" and db.dialect == "postgresql"
        assert ("could not confirm* your time was saved" if unknown else NOT_SAVED) \
            in sent.text and "Saved" not in sent.text
        [failed] = injected.failed
        assert failed.startswith(SLACK_FAILED[fault])
        assert stored(db) == before
        retried = slack.command("log P-1042 12m review")
        assert "Saved entry #" in retried.text and "double submission" not in retried.text

        form = _completed_call(sid := new_sid())
        with FAULTS[fault](db) as injected:
            assert twilio.post("/twilio/voice/status", form).status_code == 503
        assert len(injected.failed) == 1  # after the call's INSERT, or at its COMMIT
        assert len(stored(db).calls) == 0 and len(stored(db).entries) == 1
        for _ in range(2):
            assert twilio.post("/twilio/voice/status", form).status_code == 200
    after = stored(db)
    assert [c.call_sid for c in after.calls] == [sid]
    assert sorted(e.source for e in after.entries) == ["slack", "twilio"]
    assert_whole(after)
    assert svc.months.summary("P-1042").total_seconds == 12 * 60 + 300


# ----- c: 200 different staff members log at the same moment -----------------------------

USERS = [f"U9{n:04d}" for n in range(200)]


HOGS_PER_CORE = 4  # a load of about 4 per core, as on the shared CI host of the issue


@contextmanager
def cpu_hog() -> Iterator[None]:
    """One busy-looping process per core for the duration: the machine load of a shared CI
    host (the issue saw 12-27), made on purpose. Each process is ended by its own handle."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(HOGS_PER_CORE * (os.cpu_count() or 2))]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


@pytest.mark.serial  # its load must be its own: .ci/run runs serial tests after the rest
@pytest.mark.timeout(180)  # its own limit: about 30 s under the hog on a 2-core host
@SQLITE_ONLY
def test_200_staff_logging_at_once_are_all_saved(
    svc: Service, slack_api: SlackApiRecorder, caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 13 item 13: under a CPU hog every one of 200 simultaneous `/rpm log` commands is
    acknowledged within Bolt's (Slack's) 3 seconds, with the answer or "Saving…" and then the
    answer at response_url; Bolt logs "didn't call ack()" and answers an empty 200 when not."""
    seed_clinic(svc)
    for user in USERS:
        svc.staff.add(slack_user_id=user, name=f"Staff {user}", role="clinical_staff",
                      actor="test")
    caplog.set_level(logging.WARNING)
    # no keep-alive: under the CPU hog the connection left idle by the warm-up `help` can pass
    # uvicorn's 5 s keep-alive limit and be closed just as a log reuses it ("Server
    # disconnected without sending a response", request count 2); Slack opens its own
    # connections, so this race is the test's, not the app's
    limits = httpx.Limits(max_connections=len(USERS), max_keepalive_connections=0)
    with cpu_hog(), served(create_app(_both(slack_api), service=svc)) as url, \
            httpx.Client(timeout=30, limits=limits) as http:
        slack = SlackSender(url, slack_api, http)
        slack.command("help")
        barrier = Barrier(len(USERS))

        def log(user: str) -> tuple[str, str]:
            barrier.wait()
            sent = slack.command("log P-1042 12m review", user=user)
            return sent.text, slack.final_text(sent)

        with ThreadPoolExecutor(max_workers=len(USERS)) as pool:
            replies = list(pool.map(log, USERS))
    acks = [first for first, _ in replies]
    assert all("Saved entry #" in a or "Saving…" in a for a in acks), \
        [a for a in acks if "Saved" not in a and "Saving" not in a]
    missed = [r.getMessage() for r in caplog.records
              if "didn't call ack()" in r.getMessage() or "Unhandled request" in r.getMessage()]
    assert missed == []
    assert all("Saved entry #" in r for _, r in replies), \
        [r for _, r in replies if "Saved" not in r]
    state = stored(svc.ctx.db)
    assert len(state.entries) == len(USERS) and len(state.logged) == len(USERS)
    assert_whole(state)
    with svc.ctx.db.read_session() as session:
        ids = {s.id: s.slack_user_id for s in session.exec(select(Staff))}
    assert sorted(ids[e.staff_id] for e in state.entries) == USERS
