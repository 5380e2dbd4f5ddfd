"""Logging and voiding time, on SQLite and PostgreSQL."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from service import Service
from service.entries import LogRequest
from service.errors import BadInput, InvalidInput, NotAllowed, NotFound
from service.patients import PatientFields
from store.models import AuditEvent, TimeEntry
from tests.conftest import FrozenClock
from tests.service.helpers import ADMIN, CLERK, DOCTOR, NURSE, log, seed


@pytest.fixture
def seeded(svc: Service) -> Service:
    seed(svc)
    return svc


def _rows(svc: Service, model: type) -> list:
    with svc.ctx.db.read_session() as session:
        return list(session.exec(select(model)).all())


def test_a_log_ends_now_and_keeps_exact_seconds(seeded: Service, clock: FrozenClock) -> None:
    logged = seeded.entries.log(LogRequest(patient="p-1042", duration="2.5m",
                                           activity="rev", staff=NURSE, source="cli",
                                           note="BP trend reviewed"))
    entry = logged.entry
    assert entry.duration_seconds == 150
    assert entry.ended_at == clock.now
    assert entry.started_at == clock.now - timedelta(seconds=150)
    assert (entry.activity, entry.live, entry.note) == ("review", False, "BP trend reviewed")
    assert entry.staff_role == "clinical_staff"
    assert logged.summary.total_seconds == 150
    assert logged.time_counts


def test_twenty_minutes_and_a_call_earn_99457(seeded: Service) -> None:
    log(seeded, "12m", "review")
    summary = seeded.entries.log(LogRequest(patient="P-1042", duration="8m", activity="call",
                                            staff=NURSE, source="cli",
                                            started_at=datetime(2026, 11, 3, 15, tzinfo=UTC))
                                 ).summary
    assert summary.total_seconds == 1200
    assert summary.live_interactions == 1
    assert [(c.code, c.units) for c in summary.codes] == [("99457", 1)]
    assert summary.first_live_at == datetime(2026, 11, 3, 15, tzinfo=UTC)
    assert not summary.needs_live_interaction


def test_19_59_is_never_20_minutes(seeded: Service) -> None:
    log(seeded, "19m 59s", "call")
    summary = seeded.months.summary("P-1042")
    assert summary.total_seconds == 1199
    assert [c.code for c in summary.codes] == ["99470"]
    assert (summary.next_code, summary.seconds_to_next_code) == ("99457", 1)


def test_live_flag_marks_another_activity_live(seeded: Service) -> None:
    log(seeded, "10m", "education", live=True)
    assert seeded.months.summary("P-1042").live_interactions == 1


def test_non_clinical_time_is_accepted_but_never_counts(seeded: Service) -> None:
    logged = seeded.entries.log(LogRequest(patient="P-1042", duration="30m", activity="call",
                                           staff=CLERK, source="cli"))
    assert not logged.time_counts
    summary = seeded.months.summary("P-1042")
    assert summary.total_seconds == 0
    assert summary.live_interactions == 0  # a non-clinical call is no qualifying interaction
    assert summary.uncounted_seconds == 1800
    assert any("non-clinical" in w for w in summary.warnings)


def test_role_is_kept_as_it_was_when_written(seeded: Service) -> None:
    from service.staff import StaffChanges

    log(seeded, "20m", "call")
    seeded.patients.update("P-1042", PatientFields(assign=""), actor="test")
    seeded.staff.update(NURSE, StaffChanges(role="non_clinical", active=False), actor="test")
    summary = seeded.months.summary("P-1042")
    assert summary.total_seconds == 1200  # a later change never rewrites the month
    with pytest.raises(NotAllowed, match="inactive"):
        log(seeded, "5m")


def test_overlapping_entries_are_accepted_but_flagged(seeded: Service, clock: FrozenClock) -> None:
    seeded.patients.add("P-2000", PatientFields(initials="AB"), actor="test")
    at = clock.now - timedelta(minutes=30)
    first = log(seeded, "10m", started_at=at)
    logged = seeded.entries.log(LogRequest(patient="P-2000", duration="5m", activity="review",
                                           staff=NURSE, source="cli",
                                           started_at=at + timedelta(minutes=2)))
    assert logged.overlaps is not None and logged.overlaps.id == first
    assert logged.entry.overlaps_entry_id == first
    report = {s.patient_id: s for s in seeded.months.report()}
    assert f"entry #{logged.entry.id} overlaps entry #{first} (same staff member)" in \
        report["P-2000"].warnings
    # another staff member at the same time is no overlap
    other = seeded.entries.log(LogRequest(patient="P-2000", duration="5m", activity="review",
                                          staff=DOCTOR, source="cli", started_at=at))
    assert other.overlaps is None
    # voiding the first settles the overlap
    seeded.entries.void(first, reason="logged twice", by=NURSE)
    assert not any("overlaps entry" in w for w in seeded.months.summary("P-2000").warnings)


def test_an_estimated_entry_never_makes_an_overlap(seeded: Service, clock: FrozenClock) -> None:
    """Issue 13 #5: logs typed one after the other (no time: they end "now") do not overlap,
    nor does an estimated entry overlap a clock-timed one, in either order."""
    seeded.patients.add("P-2000", PatientFields(initials="AB"), actor="test")
    at = clock.now - timedelta(minutes=8)
    timed = seeded.entries.log(LogRequest(patient="P-1042", duration="5m", activity="review",
                                          staff=NURSE, source="cli", started_at=at))
    estimated = [seeded.entries.log(LogRequest(patient=p, duration="10m", activity="review",
                                               staff=NURSE, source="cli"))
                 for p in ("P-1042", "P-2000", "P-1042")]
    assert timed.entry.clock_timed and not any(e.entry.clock_timed for e in estimated)
    assert all(e.overlaps is None and e.entry.overlaps_entry_id is None for e in estimated)
    after = seeded.entries.log(LogRequest(patient="P-2000", duration="2m", activity="review",
                                          staff=NURSE, source="cli",
                                          started_at=clock.now - timedelta(minutes=3)))
    assert after.overlaps is None  # the estimated entries it lies inside do not count
    assert not any("overlaps" in w for s in seeded.months.report() for w in s.warnings)


def test_a_flag_written_on_an_estimated_entry_is_not_a_warning(seeded: Service) -> None:
    """Rows flagged before issue 13 (an estimated entry's overlaps_entry_id) stay quiet: the
    month's overlap query asks that both entries be clock-timed."""
    first = log(seeded, "10m")
    second = log(seeded, "5m")
    with seeded.ctx.db.write_session() as session:
        row = session.get(TimeEntry, second)
        assert row is not None
        row.overlaps_entry_id = first
    assert not any("overlaps" in w for w in seeded.months.summary("P-1042").warnings)


def test_back_dated_entries_land_in_their_clinic_month(seeded: Service) -> None:
    # 23:30 on 31 October in New York is 03:30 UTC on 1 November
    at = datetime(2026, 10, 31, 23, 30).replace(tzinfo=seeded.ctx.policy.zone)
    log(seeded, "25m", "call", started_at=at)
    from billing.months import Month

    assert seeded.months.summary("P-1042", Month(2026, 10)).total_seconds == 1500
    assert seeded.months.summary("P-1042", Month(2026, 11)).total_seconds == 0


@pytest.mark.parametrize(
    ("request_changes", "message"),
    [
        ({"duration": "0"}, "at least one second"),
        ({"duration": "-3m"}, "positive"),
        ({"duration": "241m"}, "240-minute limit"),
        ({"duration": "soon"}, "Accepted forms"),
        ({"activity": "gardening"}, "Valid activities"),
        ({"patient": "P-1024"}, "Did you mean P-1042"),
        ({"staff": "U09NOBODY"}, "No staff member"),
        ({"staff": "not a slack id"}, "not a Slack user id"),
        ({"note": "x" * 2001}, "2000 characters"),
        ({"source": "fax"}, "Unknown source"),
        ({"started_at": datetime(2026, 11, 20, 20, 1, tzinfo=UTC)}, "future"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    seeded: Service, request_changes: dict, message: str
) -> None:
    fields = {"patient": "P-1042", "duration": "10m", "activity": "review", "staff": NURSE,
              "source": "cli"} | request_changes
    audits_before = len(_rows(seeded, AuditEvent))
    with pytest.raises(InvalidInput, match=message):
        seeded.entries.log(LogRequest(**fields))
    assert _rows(seeded, TimeEntry) == []
    assert len(_rows(seeded, AuditEvent)) == audits_before


def test_time_outside_enrolment_is_refused(seeded: Service) -> None:
    seeded.patients.update("P-1042", PatientFields(enrolled_on=date(2026, 11, 10)), actor="t")
    with pytest.raises(BadInput, match="enrolled on 2026-11-10"):
        log(seeded, "5m", started_at=datetime(2026, 11, 9, 15, tzinfo=UTC))
    seeded.patients.end("P-1042", on=date(2026, 11, 15), actor="t")
    with pytest.raises(BadInput, match="ended monitoring on 2026-11-15"):
        log(seeded, "5m")
    assert _rows(seeded, TimeEntry) == []


def test_void_keeps_the_entry_with_who_when_why(seeded: Service, clock: FrozenClock) -> None:
    entry_id = log(seeded, "20m", "call")
    clock.advance(minutes=5)
    voided = seeded.entries.void(f"#{entry_id}", reason="wrong patient", by=NURSE)
    assert (voided.voided_by, voided.void_reason, voided.voided_at) == \
        (NURSE, "wrong patient", clock.now)
    summary = seeded.months.summary("P-1042")
    assert summary.total_seconds == 0 and summary.live_interactions == 0
    assert "1 voided entry not counted" in summary.warnings
    rows = _rows(seeded, TimeEntry)
    assert len(rows) == 1 and rows[0].voided_at is not None  # never deleted
    audit = [a for a in _rows(seeded, AuditEvent) if a.action == "entry.void"]
    assert audit[0].before["voided_at"] is None
    assert audit[0].after["void_reason"] == "wrong patient"


@pytest.mark.parametrize(
    ("entry_ref", "reason", "by", "error", "message"),
    [
        ("1", "", NURSE, BadInput, "needs a reason"),
        ("1", "dup", DOCTOR, NotAllowed, "author .* or an admin"),
        ("99", "dup", NURSE, NotFound, "No entry #99"),
        ("abc", "dup", NURSE, BadInput, "not an entry id"),
        ("1", "dup", "U09NOBODY", NotFound, "No staff member"),
    ],
)
def test_bad_voids_change_nothing(seeded: Service, entry_ref: str, reason: str, by: str,
                                  error: type, message: str) -> None:
    log(seeded, "20m", "call")
    with pytest.raises(error, match=message):
        seeded.entries.void(entry_ref, reason=reason, by=by)
    assert _rows(seeded, TimeEntry)[0].voided_at is None


def test_admin_may_void_anyones_entry_but_only_once(seeded: Service) -> None:
    entry_id = log(seeded, "20m", "call")
    seeded.entries.void(entry_id, reason="duplicate", by=ADMIN)
    with pytest.raises(BadInput, match="already voided"):
        seeded.entries.void(entry_id, reason="again", by=ADMIN)


def test_every_write_leaves_an_audit_event(seeded: Service) -> None:
    entry_id = log(seeded, "20m", "call")
    seeded.entries.void(entry_id, reason="dup", by=NURSE)
    actions = [a.action for a in _rows(seeded, AuditEvent)]
    assert actions.count("staff.add") == 4
    assert actions.count("patient.add") == 1
    assert actions.count("entry.log") == 1
    assert actions.count("entry.void") == 1


def test_entries_of_a_month_include_voided_ones(seeded: Service) -> None:
    from billing.months import Month

    first = log(seeded, "5m")
    log(seeded, "6m", "call")
    seeded.entries.void(first, reason="dup", by=NURSE)
    entries = seeded.entries.for_patient_month("P-1042", Month(2026, 11))
    # both end now, so the longer one started first
    assert [e.duration_seconds for e in entries] == [360, 300]
    assert sum(1 for e in entries if e.voided_at) == 1
    assert seeded.entries.get(first).void_reason == "dup"
