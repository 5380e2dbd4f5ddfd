"""The scheduler leader (issue 23): of several processes on one database exactly one runs
the scheduled jobs, the database chooses it, and another takes over when it dies; a restore
is refused while a service leads. Each Database here stands for one process (its own engine
and sessions); on SQLite the lock is a file lock, which two descriptors show as two
processes would."""

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from reminders.scheduler import ReminderScheduler
from service import Service
from store.db import Database
from store.leadership import Leadership
from store.locks import leader_lock_taken_for_transaction
from tests.fakes.slack_api import SlackApiRecorder
from tests.reminders.helpers import slack_settings


@pytest.fixture
def processes(db_url: str) -> Iterator[list[Database]]:
    started = [Database(db_url), Database(db_url)]
    yield started
    for database in started:
        database.dispose()


def test_one_leads_and_another_takes_over_when_it_stops(processes: list[Database]) -> None:
    first, second = (Leadership(p) for p in processes)
    assert first.leading() and first.leading()  # kept, asked again at each run
    assert not second.leading()
    first.release()
    assert second.leading() and not first.leading()
    second.release()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_leader_whose_session_dies_is_replaced(processes: list[Database]) -> None:
    """A killed process's session ends at the server, and its lock with it."""
    first, second = (Leadership(p) for p in processes)
    assert first.leading()
    with processes[1].engine.connect() as conn:
        pids = conn.execute(text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )).scalars().all()
        assert len(pids) == 1
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pids[0]})
        # the signal is sent, the backend exits (and its locks go) a moment later: wait for
        # that, as the next scheduler tick would (CI saw `second` ask first, once)
        for _ in range(100):
            if not conn.execute(text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"),
                                {"pid": pids[0]}).first():
                break
            conn.commit()
            time.sleep(0.05)
        conn.commit()
    assert second.leading()
    assert not first.leading()  # its session is gone: it knows, and does not lead
    second.release()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_restore_is_refused_while_a_service_leads(processes: list[Database]) -> None:
    leader = Leadership(processes[0])
    assert leader.leading()
    with processes[1].engine.begin() as conn:
        assert not leader_lock_taken_for_transaction(conn)
    leader.release()
    with processes[1].engine.begin() as conn:
        assert leader_lock_taken_for_transaction(conn)


def test_only_the_leaders_scheduled_runs_do_anything(
        svc: Service, processes: list[Database], slack_api: SlackApiRecorder) -> None:
    runs: list[str] = []
    settings = slack_settings(slack_api)
    leaders = [Leadership(p) for p in processes]
    schedulers = [ReminderScheduler(settings, svc, job=lambda n=n: runs.append(n),
                                    leading=leader.leading)
                  for leader, n in zip(leaders, ("first", "second"), strict=True)]
    for scheduler in schedulers * 2:
        scheduler.run_once()
    assert runs == ["first", "first"]
    leaders[0].release()
    schedulers[1].run_once()
    assert runs == ["first", "first", "second"]
    leaders[1].release()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_folder_where_no_lock_file_can_be_made_still_runs_the_jobs(
        processes: list[Database], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """A read-only data folder with a writable database (what /healthz accepts) stopped
    `serve` at start with a PermissionError from the lock file."""
    import os

    real_open = os.open

    def refused(path: str, *args: object, **kwargs: object) -> int:
        if str(path).endswith(".leader"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refused)
    leader = Leadership(processes[0])
    assert leader.leading() and leader.leading()
    assert "runs the scheduled jobs as if alone" in caplog.text
    leader.release()
