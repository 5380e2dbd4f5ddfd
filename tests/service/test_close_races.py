"""A month close and writes dated in the same month take turns, with real concurrent writers.

After `close` returns, the month holds exactly what the close recorded: no log, void or
Twilio call dated in it committed behind the close's back (only amendments change it, and
there are none here). Threads with their own connections; PostgreSQL is where it matters.
"""

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from billing.months import Month
from service import Service
from service.calls import CallEvent
from service.entries import LogRequest
from service.errors import InvalidInput
from service.staff import StaffChanges
from store.models import Call, TimeEntry
from tests.service.helpers import NURSE, log, seed

OCT = Month(2026, 10)
WRITERS = 6
PATIENT_PHONE = "+16175550123"
NURSE_TWILIO_NUMBER = "+16175550199"


def _race(svc: Service, write: Callable[[int, int], None], rounds: int = 40) -> None:
    """WRITERS threads call write(thread, n) until refused or done, while the month closes
    once they are under way; every failure other than the close's refusal fails the test."""
    start = threading.Barrier(WRITERS + 1)
    started = threading.Event()
    errors: list[BaseException] = []

    def writer(thread: int) -> None:
        start.wait()
        for n in range(rounds):
            try:
                write(thread, n)
            except InvalidInput:
                return  # the month is closed now: refused, as it should be
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return
            finally:
                started.set()

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(WRITERS)]
    for thread in threads:
        thread.start()
    start.wait()
    started.wait(10)
    svc.closes.close(OCT, by="cli:billing")
    for thread in threads:
        thread.join(30)
    assert not errors, errors


def _assert_month_matches_its_close(svc: Service) -> None:
    """What the close recorded is what the month holds now, patient by patient."""
    rows = svc.months.report(OCT)
    assert rows, "the writers logged nothing before the close"
    for row in rows:
        billed = row.billed_at_close
        assert billed is not None and not billed.differs, (row.patient_id, billed)
    closed = svc.closes.get(OCT)
    assert closed is not None
    with svc.ctx.db.read_session() as session:
        entries = session.exec(select(TimeEntry)).all()
    standing = sum(e.duration_seconds for e in entries if e.voided_at is None)
    assert closed.total_seconds == standing  # the record holds every standing entry


def _october(n: int, thread: int) -> datetime:
    """A distinct October instant per (thread, n): no two writes overlap in time."""
    return datetime(2026, 10, 2, 12, tzinfo=UTC) + timedelta(minutes=10 * (n * WRITERS + thread))


def test_logs_racing_a_close_land_before_it_or_are_refused(svc: Service) -> None:
    seed(svc)

    def write(thread: int, n: int) -> None:
        svc.entries.log(LogRequest(patient="P-1042", duration="1m", activity="review",
                                   staff=NURSE, source="cli", started_at=_october(n, thread)))
    _race(svc, write)
    _assert_month_matches_its_close(svc)


def test_voids_racing_a_close_land_before_it_or_are_refused(svc: Service) -> None:
    seed(svc)
    ids = [log(svc, "1m", started_at=_october(n, t)) for t in range(WRITERS) for n in range(8)]

    def write(thread: int, n: int) -> None:
        if n < 8:
            svc.entries.void(ids[thread * 8 + n], reason="duplicate", by=NURSE)
    _race(svc, write, rounds=8)
    _assert_month_matches_its_close(svc)


def test_twilio_calls_racing_a_close_count_before_it_or_are_flagged(svc: Service) -> None:
    seed(svc)
    svc.staff.update(NURSE, StaffChanges(add_twilio_numbers=(NURSE_TWILIO_NUMBER,)),
                     actor="test")

    def write(thread: int, n: int) -> None:
        svc.calls.record_status(CallEvent(
            call_sid=f"CA{thread:04d}{n:028d}", status="completed", direction="inbound",
            from_number=PATIENT_PHONE, to_number=NURSE_TWILIO_NUMBER, duration_seconds=60,
            sequence_number=3, timestamp=_october(n, thread) + timedelta(minutes=1)))
    _race(svc, write)
    _assert_month_matches_its_close(svc)
    with svc.ctx.db.read_session() as session:
        calls = session.exec(select(Call)).all()
    assert {c.state for c in calls} <= {"counted", "after_close"}
    assert all((c.entry_id is None) == c.after_close for c in calls)


@pytest.fixture(autouse=True)
def _frozen_after_october(svc: Service) -> None:
    """October has ended by the frozen clock (20 Nov); nothing else to set."""
    assert Month.containing(svc.ctx.now(), svc.ctx.policy.zone) > OCT
