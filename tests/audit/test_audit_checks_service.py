"""Service.audit_checks on SQLite and PostgreSQL: the store's statements (notes and calls,
providers, enrolment counts, amendments) and the report's tally feed the checks, and a month
close's preview carries the findings."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from billing.audit_checks import (
    BILLING_PREREQUISITES,
    ENROLMENT_SPIKE,
    HEAPING,
    IMPOSSIBLE_DAY,
    LATE_DOCUMENTATION,
    LIVE_WITHOUT_EVIDENCE,
    THIN_DOCUMENTATION,
    TIME_WITHOUT_DEVICE_DATA,
    Finding,
)
from billing.months import Month
from service import Service
from service.calls import CallEvent
from service.closes import Amendment
from service.devices import reading_from
from service.patients import PatientFields
from service.staff import StaffChanges
from tests.conftest import FrozenClock
from tests.service.helpers import DOCTOR, NURSE, log, seed

OCT, NOV = Month(2026, 10), Month(2026, 11)
PATIENT_PHONE = "+16175550123"
NURSE_TWILIO_NUMBER = "+16175550199"
NOTE = "reviewed the BP trend and adjusted the plan"


def at(day: int, hour: int = 14, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)  # 10:00 in New York (EDT)


def _seed(svc: Service) -> None:
    """tests/service/helpers.seed, with the order behind P-1042's monitoring on file."""
    seed(svc)
    svc.patients.update("P-1042", PatientFields(ordered_by=DOCTOR,
                                                order_on=date(2026, 9, 1)), actor="test")


def _of(svc: Service, check: str, month: Month = OCT) -> list[Finding]:
    return [f for f in svc.audit_checks.run(month).findings if f.check == check]


def _captured_call(svc: Service, end: datetime, seconds: int = 300) -> int:
    """A completed inbound call from P-1042 to the nurse's Twilio number: its entry id."""
    svc.staff.update(NURSE, StaffChanges(add_twilio_numbers=(NURSE_TWILIO_NUMBER,)),
                     actor="test")
    sid = "CA" + "7" * 32
    svc.calls.record_status(CallEvent(
        call_sid=sid, status="completed", direction="inbound", from_number=PATIENT_PHONE,
        to_number=NURSE_TWILIO_NUMBER, duration_seconds=seconds, sequence_number=3,
        timestamp=end))
    view = svc.calls.by_sid(sid)
    assert view is not None and view.state == "counted", view
    svc.calls.add_note(view.call_id, "talked about the new cuff and the readings", by=NURSE)
    entry = svc.calls.get(view.call_id)
    return int(entry.entry_id)  # type: ignore[attr-defined]


def test_a_clean_month(svc: Service, clock: FrozenClock) -> None:
    later, clock.now = clock.now, at(3, 20)
    _seed(svc)
    _captured_call(svc, at(3))
    log(svc, "20m", started_at=at(3, 15), note=NOTE)  # typed the same day: not late
    svc.devices.add("BP-1", patient_ref="P-1042", kind="bp_cuff", from_day=at(1).date(),
                    actor="test")  # 2 reading days: the month has device data
    svc.devices.ingest([reading_from({"device_serial": "BP-1", "kind": "weight",
                                      "measured_at": at(day).isoformat(),
                                      "values": {"kg": 80}}) for day in (2, 3)],
                       source="webhook", actor="webhook")
    clock.now = later
    assert svc.audit_checks.run(OCT).findings == ()


def test_a_calls_note_documents_it_and_a_captured_call_is_evidence(svc: Service) -> None:
    _seed(svc)
    call_entry = _captured_call(svc, at(3))
    marked = log(svc, "20m", "review", started_at=at(4), note="ok", live=True)
    assert [f.entry_ids for f in _of(svc, THIN_DOCUMENTATION)] == [(marked,)]
    assert _of(svc, LIVE_WITHOUT_EVIDENCE) == []  # the month has a captured call
    late = _of(svc, LATE_DOCUMENTATION)
    assert [f.entry_ids for f in late] == [(marked,)]  # the call is never late
    assert call_entry not in late[0].entry_ids


def test_only_a_manual_mark_is_live_without_evidence(svc: Service) -> None:
    _seed(svc)
    marked = log(svc, "25m", "call", started_at=at(4), note=NOTE)
    found = _of(svc, LIVE_WITHOUT_EVIDENCE)
    assert [(f.patient_id, f.staff_id, f.entry_ids) for f in found] == [
        ("P-1042", NURSE, (marked,))]


def test_late_entries_amendments_and_estimated_entries(svc: Service) -> None:
    _seed(svc)
    late = log(svc, "25m", "call", started_at=at(4), note=NOTE)
    log(svc, "5m", note=NOTE)  # November, ends now: never late
    svc.closes.close(OCT, by="billing")
    amended = log(svc, "5m", started_at=at(5), note=NOTE,
                  amendment=Amendment(reason="paper log found", by="ops", operator=True))
    found = _of(svc, LATE_DOCUMENTATION)
    assert [f.entry_ids for f in found] == [(late,), (amended,)]  # once, as amended
    assert found[1].message.endswith("as an amendment: paper log found")
    assert _of(svc, LATE_DOCUMENTATION, NOV) == []


def test_heaping_reads_the_reports_tally(svc: Service) -> None:
    """Two overlapping clock-timed entries of 20:30 count once (the report's tally): ten
    months at 20:30 heap at 20 minutes; their raw sum (41:00) would not."""
    _seed(svc)
    for i in range(10):
        patient = f"P-{i:03d}"
        svc.patients.add(patient, PatientFields(consent_on=date(2026, 9, 1),
                                                conditions=("I10",), provider=DOCTOR,
                                                ordered_by=DOCTOR, order_on=date(2026, 9, 1)),
                         actor="test")
        for _ in range(2):
            log(svc, "20m30s", patient=patient, started_at=at(6 + i), note=NOTE)
    found = _of(svc, HEAPING)
    assert [f.staff_id for f in found] == [None, NURSE]
    assert ("10 of the clinic's patient-months in the 12 months to this one end at "
            "20:00-20:59") in found[0].message
    report = {s.patient_id: s.total_seconds for s in svc.months.report(OCT)}
    assert report["P-000"] == 1230


def test_overlapping_patients_and_a_long_day(svc: Service) -> None:
    _seed(svc)
    svc.patients.add("P-2000", PatientFields(consent_on=date(2026, 9, 1)), actor="test")
    first = log(svc, "30m", started_at=at(7), note=NOTE)
    second = log(svc, "30m", patient="P-2000", started_at=at(7) + timedelta(minutes=10),
                 note=NOTE)
    for hour in range(4):
        log(svc, "4h", patient="P-2000", started_at=at(8, 11) + timedelta(hours=4 * hour),
            note=NOTE)
    found = _of(svc, IMPOSSIBLE_DAY)
    assert [f.entry_ids for f in found if "two patients" in f.message] == [(first, second)]
    long_days = [f for f in found if "of counted time" in f.message]
    assert len(long_days) == 1 and "on 2026-10-08" in long_days[0].message


def test_billing_prerequisites_from_the_patient_and_provider(svc: Service) -> None:
    _seed(svc)
    svc.patients.add("P-2000", PatientFields(provider=DOCTOR), actor="test")
    log(svc, "25m", "call", patient="P-2000", started_at=at(4), note=NOTE)
    log(svc, "25m", "call", started_at=at(4, 16), note=NOTE)  # P-1042 has everything
    found = _of(svc, BILLING_PREREQUISITES)
    assert [(f.patient_id, f.staff_id) for f in found] == [("P-2000", DOCTOR)]
    assert ("no consent on file; no condition monitored; no order on file"
            in found[0].message)
    svc.staff.update(DOCTOR, StaffChanges(role="clinical_staff"), actor="test")
    found = _of(svc, BILLING_PREREQUISITES)
    assert "not a physician or QHP" in [f for f in found if f.patient_id == "P-1042"][0].message


@pytest.mark.parametrize(("new", "flags"), [(10, True), (9, False)])
def test_enrolment_spike_counts_enrolment_dates_and_additions(svc: Service, new: int,
                                                              flags: bool) -> None:
    """New enrolments are enrolment dates in the month, or patients without one added in
    it (the frozen clock is in November)."""
    seed(svc)  # P-1042 has no enrolment date and was added now: November's
    for i in range(new - 1):
        svc.patients.add(f"P-{i:03d}", PatientFields(enrolled_on=date(2026, 11, 2)),
                         actor="test")
    svc.patients.add("P-OLD", PatientFields(enrolled_on=date(2026, 10, 31)), actor="test")
    found = _of(svc, ENROLMENT_SPIKE, NOV)
    assert bool(found) == flags
    if flags:
        assert found[0].message.startswith("10 new enrolments in 2026-11")
        assert "(0, 0, 1: mean 0.3)" in found[0].message


def test_the_close_preview_counts_the_findings(svc: Service) -> None:
    _seed(svc)
    log(svc, "25m", "call", started_at=at(4), note="ok")
    preview = svc.closes.preview(OCT)
    assert preview.findings == {THIN_DOCUMENTATION: 1, LIVE_WITHOUT_EVIDENCE: 1,
                                LATE_DOCUMENTATION: 1, TIME_WITHOUT_DEVICE_DATA: 1}
    assert svc.closes.close(OCT, by="billing").billable == 1  # the close still works


def _heaped_clinic(svc: Service, months: dict[Month, int]) -> None:
    """Patients each with 20:30 in one month: `months` maps a month to how many."""
    _seed(svc)
    n = 0
    for month, count in months.items():
        for _ in range(count):
            patient = f"P-{n:03d}"
            n += 1
            svc.patients.add(patient, PatientFields(
                consent_on=date(2025, 1, 1), conditions=("I10",), provider=DOCTOR,
                ordered_by=DOCTOR, order_on=date(2025, 1, 1)), actor="test")
            log(svc, "20m30s", patient=patient, note=NOTE,
                started_at=datetime(month.year, month.month, 6, 14, tzinfo=UTC))


SEP, OCT_2025 = Month(2026, 9), Month(2025, 10)


@pytest.mark.parametrize(("closed", "months", "flags"), [
    ((SEP,), 12, True),  # 2 in October + 8 in September as closed: 10 in the band
    ((), 12, False),  # September never closed: not in the window
    ((SEP,), 1, False),  # AUDIT_HEAPING_MONTHS=1: October alone, 2 months
    ((OCT_2025,), 12, False),  # 12 months back: outside the window
])
def test_heaping_reads_the_closed_months_before(svc: Service, closed: tuple[Month, ...],
                                                months: int, flags: bool) -> None:
    """Outside auditor: a small clinic never had 10 months in a band in one month. The
    window's earlier months count as their latest close recorded them (one statement), the
    finding names October's patient-months only."""
    _heaped_clinic(svc, {OCT: 2, SEP: 8 if SEP in closed or not closed else 0,
                         OCT_2025: 8 if OCT_2025 in closed else 0})
    for month in closed:
        svc.closes.close(month, by="billing")
    policy = replace(svc.ctx.policy, audit=replace(svc.ctx.policy.audit,
                                                   heaping_months=months))
    checked = Service(replace(svc.ctx, policy=policy))
    found = [f for f in checked.audit_checks.run(OCT).findings if f.check == HEAPING]
    assert [f.staff_id for f in found] == ([None, NURSE] if flags else [])
    if flags:
        october = sorted(s.patient_id for s in svc.months.report(OCT) if s.total_seconds)
        assert found[0].message.endswith(f"this month's: {', '.join(october)}")
        assert "10 of the clinic's patient-months in the 12 months" in found[0].message
