"""Issue 14: each time-entry use case runs in one transaction with a bounded number of
statements (the actor, the patient and the month read once), on SQLite and PostgreSQL."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from service import Service
from service.entries import LogRequest
from service.errors import BadInput
from tests.conftest import FrozenClock
from tests.service.helpers import DOCTOR, NURSE, log, seed

# SQLite counts its BEGIN IMMEDIATE, PostgreSQL its month lock (SELECT pg_advisory_...):
# staff, patient, month close, double-submission check, insert, audit row, month figures,
# the patient's device readings (issue 28: the reply's device days)
LOG_BUDGET = 9
# the audit chain: at commit, a read of the last record (SQLite), and first the chain's lock
# (PostgreSQL): store/audit.py
CHAIN = {"sqlite": 1, "postgresql": 2}


@pytest.fixture
def s(svc: Service) -> Service:
    seed(svc)
    return svc


@contextmanager
def counted(svc: Service) -> Iterator[tuple[list[str], list[str]]]:
    """(transactions opened, statements run) while the block runs."""
    db, opened, statements = svc.ctx.db, [], []
    names = ("read", "write", "read_session", "write_session")
    originals = {name: getattr(db, name) for name in names}

    def wrapped(name: str) -> Callable[[], Any]:
        def open_one(**options: Any) -> Any:  # write(wait_s=...) and the like
            opened.append(name)
            return originals[name](**options)
        return open_one

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    for name in names:
        setattr(db, name, wrapped(name))
    event.listen(db.engine, "before_cursor_execute", on_statement)
    try:
        yield opened, statements
    finally:
        event.remove(db.engine, "before_cursor_execute", on_statement)
        for name in names:
            setattr(db, name, originals[name])


def _request(**extra: Any) -> LogRequest:
    return LogRequest(patient="P-1042", duration="12m", activity="review", staff=NURSE,
                      source="slack", patient_by_phone=False, **extra)


def test_a_chat_log_is_one_write_within_the_statement_budget(s: Service) -> None:
    log(s, "5m")  # the month is not empty
    with counted(s) as (opened, statements):
        logged = s.chat_entries.log(_request())
    assert opened == ["write"]
    assert len(statements) <= LOG_BUDGET + CHAIN[s.ctx.db.dialect], statements
    assert logged.logged.summary.total_seconds == 17 * 60
    assert logged.logged.entry.staff_name == "Nina Nurse"
    assert logged.logged.entry.patient_id == "P-1042"


def test_the_double_submission_check_is_answered_by_the_insert(s: Service) -> None:
    """The cpu pass: the identical-entry read before the insert became a subquery in the
    insert's RETURNING (store/entries.py), one statement fewer; the repeat is still named
    and the new entry never names itself."""
    log(s, "5m")
    with counted(s) as (_, statements):
        first = s.chat_entries.log(_request())
    assert len(statements) == LOG_BUDGET - 1 + CHAIN[s.ctx.db.dialect], statements
    assert first.duplicate_of is None
    with counted(s) as (_, statements):
        again = s.chat_entries.log(_request())
    assert len(statements) == LOG_BUDGET - 1 + CHAIN[s.ctx.db.dialect], statements
    assert again.duplicate_of == first.logged.entry.id != again.logged.entry.id


def test_a_late_chat_log_is_placed_in_the_same_transaction(s: Service,
                                                           clock: FrozenClock) -> None:
    """Before issue 14 the late entry's placement read the staff row in a transaction of
    its own, then the log read it again."""
    day = clock.now.date() - timedelta(days=1)
    with counted(s) as (opened, statements):
        first = s.chat_entries.log(_request(), day=day).logged.entry
    assert opened == ["write"]
    assert len(statements) <= LOG_BUDGET + 1 + CHAIN[s.ctx.db.dialect], statements  # + the
    # author's last end that day
    second = s.chat_entries.log(_request(), day=day).logged.entry
    assert second.started_at == first.ended_at and not second.clock_timed


def test_a_log_for_a_future_day_is_refused_before_any_transaction(
        s: Service, clock: FrozenClock) -> None:
    with counted(s) as (opened, _), pytest.raises(BadInput, match="in the future"):
        s.chat_entries.log(_request(), day=clock.now.date() + timedelta(days=1))
    assert opened == []


def test_void_and_undo_are_one_write_each(s: Service) -> None:
    entry = log(s, "5m")
    with counted(s) as (opened, statements):
        s.entries.void(entry, reason="typo", by=NURSE)
    assert opened == ["write"] and len(statements) <= 6 + CHAIN[s.ctx.db.dialect], statements
    s.chat_entries.log(_request())
    with counted(s) as (opened, statements):
        undone = s.chat_entries.undo(NURSE)
    assert opened == ["write"] and len(statements) <= 6 + CHAIN[s.ctx.db.dialect], statements
    assert undone.voided_by == NURSE and undone.staff_name == "Nina Nurse"


def test_a_timer_stop_logs_in_one_write_and_clears_in_a_second(s: Service,
                                                               clock: FrozenClock) -> None:
    s.timers.start(NURSE, "P-1042")
    clock.advance(minutes=7)
    with counted(s) as (opened, _):
        stop = s.timers.stop(NURSE)
    assert opened == ["write", "write"]  # the entry, then the removal (see TimerService.stop)
    assert stop.logged is not None and stop.cleared
    assert stop.logged.entry.duration_seconds == 420 and stop.logged.entry.clock_timed
    assert s.timers.current(NURSE) is None


def test_an_over_limit_timer_is_dropped_in_one_write(s: Service, clock: FrozenClock) -> None:
    s.timers.start(NURSE, "P-1042")
    clock.advance(hours=6)
    with counted(s) as (opened, _):
        stop = s.timers.stop(NURSE)
    assert opened == ["write"] and stop.logged is None
    assert s.timers.current(NURSE) is None
    assert s.entries.for_patient_month("P-1042", s.months.current()) == []


def test_a_month_listing_names_each_entry_in_one_read(s: Service) -> None:
    log(s, "5m")
    log(s, "7m", staff=DOCTOR)
    with counted(s) as (opened, _):
        listed = s.entries.for_month(s.months.current())
    assert opened == ["read"]
    assert [(e.patient_id, e.staff_name, e.duration_seconds) for e in listed] == [
        ("P-1042", "Dee Doctor", 420), ("P-1042", "Nina Nurse", 300)]
