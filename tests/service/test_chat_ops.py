"""Service operations the chat adapters use: context, timers, undo, double submission, admin.
Each write leaves an audit event in its own transaction."""

from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from service import Service
from service.entries import LogRequest
from service.errors import BadInput, NotAllowed, NotFound, StoreUnavailable
from store.models import AuditEvent, RunningTimer
from tests.conftest import FrozenClock
from tests.service.helpers import ADMIN, DOCTOR, NURSE, log, seed


@pytest.fixture
def s(svc: Service) -> Service:
    seed(svc)
    return svc


def _actions(svc: Service) -> list[str]:
    with svc.ctx.db.read_session() as session:
        return [a.action for a in session.exec(select(AuditEvent).order_by(AuditEvent.id))
                if not a.action.startswith(("staff.", "patient."))]


def test_context_channel_then_user_scope(s: Service) -> None:
    assert s.current_patient.current(channel_id="C1", user_id=NURSE) is None
    change = s.current_patient.use(channel_id="C1", user_id=NURSE, patient_ref="p-1042")
    assert (change.scope, change.patient.patient_id) == ("channel", "P-1042")
    assert s.current_patient.current(channel_id="C1", user_id=DOCTOR).patient_id == "P-1042"
    assert s.current_patient.current(channel_id="C2", user_id=NURSE) is None
    s.current_patient.use(channel_id="D1", user_id=NURSE, patient_ref="P-1042")
    assert s.current_patient.current(channel_id="C2", user_id=NURSE).patient_id == "P-1042"
    assert s.current_patient.current(channel_id="C2", user_id=DOCTOR) is None
    cleared = s.current_patient.use(channel_id="C1", user_id=NURSE, patient_ref=None)
    assert cleared.patient is None and cleared.previous.patient_id == "P-1042"
    assert _actions(s) == ["context.use", "context.use", "context.clear"]


def test_context_refuses_strangers_and_unknown_patients(s: Service) -> None:
    with pytest.raises(NotFound):
        s.current_patient.use(channel_id="C1", user_id="U09X", patient_ref="P-1042")
    with pytest.raises(NotFound, match="Did you mean P-1042"):
        s.current_patient.use(channel_id="C1", user_id=NURSE, patient_ref="P-1043")
    assert _actions(s) == []


def test_timer_stop_logs_from_the_start_and_removes_the_timer(
    s: Service, clock: FrozenClock
) -> None:
    s.timers.start(NURSE, "P-1042", "call")
    clock.advance(minutes=12)
    stop = s.timers.stop(NURSE, "note")
    assert stop.logged is not None
    entry = stop.logged.entry
    assert (entry.started_at, entry.duration_seconds, entry.live, entry.source) == (
        datetime(2026, 11, 20, 20, tzinfo=UTC), 720, True, "slack")
    assert s.timers.current(NURSE) is None
    assert _actions(s) == ["timer.start", "entry.log", "timer.stop"]


def test_a_failed_stop_keeps_the_timer(s: Service, clock: FrozenClock) -> None:
    s.timers.start(NURSE, "P-1042")
    s.patients.end("P-1042", on=date(2026, 11, 19), actor="test")  # ended before the start
    clock.advance(minutes=5)
    with pytest.raises(BadInput, match="ended monitoring"):
        s.timers.stop(NURSE)
    assert s.timers.current(NURSE) is not None
    with s.ctx.db.read_session() as session:
        assert len(session.exec(select(RunningTimer)).all()) == 1


def test_timer_over_the_limit_is_dropped_unlogged_and_audited(s: Service,
                                                              clock: FrozenClock) -> None:
    s.timers.start(NURSE, "P-1042")
    clock.advance(minutes=241)
    stop = s.timers.stop(NURSE)
    assert stop.logged is None and stop.timer.over_limit
    assert _actions(s) == ["timer.start", "timer.stop_over_limit"]
    assert s.timers.current(NURSE) is None


def test_one_timer_per_person(s: Service) -> None:
    s.timers.start(NURSE, "P-1042")
    with pytest.raises(BadInput, match="already running"):
        s.timers.start(NURSE, "P-1042")
    s.timers.start(DOCTOR, "P-1042")


def test_double_submission_and_undo(s: Service, clock: FrozenClock) -> None:
    request = LogRequest(patient="P-1042", duration="12m", activity="review", staff=NURSE,
                         source="slack")
    assert s.chat_entries.log(request).duplicate_of is None
    clock.advance(seconds=59)
    second = s.chat_entries.log(request)
    assert second.duplicate_of == 1
    other = LogRequest(patient="P-1042", duration="13m", activity="review", staff=NURSE,
                       source="slack")
    assert s.chat_entries.log(other).duplicate_of is None
    assert s.chat_entries.undo(NURSE).id == 3
    with pytest.raises(NotAllowed):
        s.chat_entries.undo_double(DOCTOR, 1)
    assert s.chat_entries.undo_double(ADMIN, 1).voided_by == ADMIN
    with pytest.raises(BadInput, match="nothing left to undo"):
        s.chat_entries.undo(NURSE)


def test_the_same_log_for_another_day_is_not_a_double_submission(s: Service,
                                                                  clock: FrozenClock) -> None:
    """Issue 13 item 6: `log P-1042 12m review` then the same for yesterday is two days' work."""
    request = LogRequest(patient="P-1042", duration="12m", activity="review", staff=NURSE,
                         source="slack")
    assert s.chat_entries.log(request).duplicate_of is None
    clock.advance(seconds=20)
    assert s.chat_entries.log(request, day=date(2026, 11, 19)).duplicate_of is None
    clock.advance(seconds=20)
    assert s.chat_entries.log(request, day=date(2026, 11, 19)).duplicate_of == 2  # same day again
    clock.advance(seconds=20)
    assert s.chat_entries.log(request).duplicate_of == 1


def test_undo_reverses_the_latest_entry_once_within_ten_minutes(s: Service,
                                                                 clock: FrozenClock) -> None:
    """Issue 13 item 7: a second undo never reaches back to an older entry."""
    older = log(s, "12m")
    clock.advance(minutes=5)
    latest = log(s, "3m")
    clock.advance(minutes=9, seconds=59)
    assert s.chat_entries.undo(NURSE).id == latest
    with pytest.raises(BadInput, match="nothing left to undo"):
        s.chat_entries.undo(NURSE)
    assert s.entries.get(older).voided_at is None
    newest = log(s, "4m")
    clock.advance(minutes=10, seconds=1)
    with pytest.raises(BadInput, match="nothing left to undo"):
        s.chat_entries.undo(NURSE)
    assert s.entries.get(newest).voided_at is None


def test_late_entries_stack_after_the_days_last_entry(s: Service) -> None:
    request = LogRequest(patient="P-1042", duration="4h", activity="review", staff=NURSE,
                         source="slack")
    first = s.chat_entries.log(request, day=date(2026, 11, 10)).logged.entry
    second = s.chat_entries.log(request, day=date(2026, 11, 10)).logged.entry
    assert first.started_at == datetime(2026, 11, 10, 14, tzinfo=UTC)  # 09:00 EST
    assert second.started_at == first.ended_at
    third = s.chat_entries.log(request, day=date(2026, 11, 10)).logged.entry
    # past midnight: 09:00
    fourth = s.chat_entries.log(request, day=date(2026, 11, 10)).logged.entry
    assert third.started_at == second.ended_at
    # placed by convention (estimated), so no overlap is flagged (issue 13 #5)
    assert fourth.started_at == first.started_at and fourth.overlaps_entry_id is None


def test_admin_guard(s: Service) -> None:
    with pytest.raises(NotAllowed, match="Admins: U04ADMIN"):
        s.admin.add_patient(NURSE, "P-9", None)
    assert s.admin.add_patient(ADMIN, "P-9", "ab").label == "P-9 (AB)"
    assert s.admin.assign(ADMIN, "P-9", NURSE).assigned_to == NURSE
    assert [r.summary.patient_id for r in s.chat_entries.caseload(NURSE)] == ["P-1042", "P-9"]
    log(s, "5m", patient="P-9")
    assert [r.summary.patient_id for r in s.chat_entries.caseload(NURSE)] == ["P-1042", "P-9"]
    log(s, "15m", patient="P-1042")  # now P-9 needs more: worst first
    assert [r.summary.patient_id for r in s.chat_entries.caseload(NURSE)] == ["P-9", "P-1042"]
    s.admin.add_patient(ADMIN, "P-10", None)
    s.admin.assign(ADMIN, "P-10", NURSE)
    s.patients.end("P-10", on=date(2026, 10, 31), actor="test")  # ended before the month
    assert [r.summary.patient_id for r in s.chat_entries.caseload(NURSE)] == ["P-9", "P-1042"]


def test_a_saved_entry_is_never_reported_unsaved_by_a_later_read(s: Service) -> None:
    """The double-submission check reads before the write; after the commit nothing may
    fail (an outage right after the commit must not make the reply say 'not saved')."""
    request = LogRequest(patient="P-1042", duration="12m", activity="review", staff=NURSE,
                         source="slack")
    db = s.ctx.db
    calls: list[str] = []
    names = ("read", "write", "read_session", "write_session")  # any transaction
    originals = {name: getattr(db, name) for name in names}

    def counting(name: str):  # type: ignore[no-untyped-def]
        def opened(**options):  # type: ignore[no-untyped-def]
            calls.append(name.removesuffix("_session"))
            return originals[name](**options)
        return opened

    for name in names:
        setattr(db, name, counting(name))
    try:
        s.chat_entries.log(request)
    finally:
        for name in names:
            setattr(db, name, originals[name])
    assert calls[-1] == "write"


def test_a_timer_is_never_logged_twice(s: Service, clock: FrozenClock,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The removal fails after the entry is saved: the reply still says saved, and the
    next stop only clears the timer."""
    s.timers.start(NURSE, "P-1042")
    clock.advance(minutes=7)
    real_remove = s.timers._remove

    def failing(*args: object) -> None:
        raise StoreUnavailable("database unavailable: gone")

    monkeypatch.setattr(s.timers, "_remove", failing)
    first = s.timers.stop(NURSE)
    assert first.logged is not None and first.cleared is False
    assert s.timers.current(NURSE) is not None
    monkeypatch.setattr(s.timers, "_remove", real_remove)
    clock.advance(minutes=1)
    with pytest.raises(BadInput, match="already logged as entry #1; it is stopped now"):
        s.timers.stop(NURSE)
    assert s.timers.current(NURSE) is None
    assert [e.duration_seconds for e in s.entries.for_patient_month(
        "P-1042", s.months.current())] == [420]


def test_chat_resolves_patients_by_clinic_id_only(s: Service) -> None:
    assert s.chat_entries.clinic_id("p-1042") == "P-1042"
    with pytest.raises(NotFound, match="No patient '6175550123'"):
        s.chat_entries.clinic_id("6175550123")  # P-1042's phone: the CLI resolver would accept it


def test_which_entries_are_clock_timed(s: Service, clock: FrozenClock) -> None:
    """Issue 11: a time given (--at, a timer) is clock-timed; "ends now" and Slack's late
    entries at a conventional 09:00 are estimated."""
    request = LogRequest(patient="P-1042", duration="5m", activity="review", staff=NURSE,
                         source="slack")
    now = s.entries.log(request).entry
    late = s.chat_entries.log(request, day=date(2026, 11, 10)).logged.entry
    given = s.entries.log(LogRequest(patient="P-1042", duration="5m", activity="review",
                                     staff=NURSE, source="cli",
                                     started_at=datetime(2026, 11, 12, 15, tzinfo=UTC))).entry
    s.timers.start(NURSE, "P-1042", "call")
    clock.advance(minutes=3)
    timed = s.timers.stop(NURSE, None).logged
    assert timed is not None
    assert (now.clock_timed, late.clock_timed, given.clock_timed, timed.entry.clock_timed) == \
        (False, False, True, True)
