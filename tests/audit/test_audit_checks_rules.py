"""Table tests of the self-audit checks' pure rules (billing/audit_checks.py): each check
flags its pattern, and the cases next to it do not flag (exactly at the threshold, the
neighbouring bands, too few months, voided entries, captured calls)."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from billing.audit_checks import (
    BILLING_PREREQUISITES,
    CHECKS,
    ENROLMENT_SPIKE,
    HEAPING,
    IMPOSSIBLE_DAY,
    LATE_DOCUMENTATION,
    LIVE_WITHOUT_EVIDENCE,
    SOURCES,
    THIN_DOCUMENTATION,
    Banded,
    Enrolments,
    EntryFacts,
    Finding,
    MonthFacts,
    PatientMonth,
    Thresholds,
    run_checks,
)
from billing.months import Month

OCT = Month(2026, 10)
NY = ZoneInfo("America/New_York")
NOON = datetime(2026, 10, 5, 16, 0, tzinfo=UTC)  # 12:00 in New York
NOTE = "reviewed BP trend, called about dose"


def entry(entry_id: int, *, patient: str = "P-1", staff: str = "U01NURSE",
          start: datetime = NOON, seconds: int = 600, logged_after: timedelta = timedelta(0),
          counted: int | None = None, **extra: Any) -> EntryFacts:
    end = start + timedelta(seconds=seconds)
    values: dict[str, Any] = dict(
        entry_id=entry_id, patient_id=patient, staff_id=staff, role="clinical_staff",
        started_at=start, ended_at=end, created_at=end + logged_after, note=NOTE,
        counted_seconds=seconds if counted is None else counted)
    return EntryFacts(**(values | extra))


def month_of(patient: str, seconds: int, **extra: Any) -> PatientMonth:
    values: dict[str, Any] = dict(
        patient_id=patient, counted_seconds=seconds, billable_codes="99457",
        main_staff="U01NURSE", consent_on=date(2026, 1, 1), conditions=("I10",),
        provider="U02DOC", provider_npi="1234567890", provider_role="physician",
        ordered_by="U02DOC", order_on=date(2026, 1, 1))
    return PatientMonth(**(values | extra))


def checks(*, patients: list[PatientMonth] | None = None,
           entries: list[EntryFacts] | None = None, enrolments: Enrolments | None = None,
           **thresholds: Any) -> list[Finding]:
    return run_checks(MonthFacts(OCT, NY, patients or [], entries or [], enrolments,
                                 Thresholds(**thresholds)))


def only(findings: list[Finding], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


def test_every_check_has_a_source_and_a_finding_is_the_json_the_issue_names() -> None:
    assert set(SOURCES) == set(CHECKS)
    finding = checks(entries=[entry(1, note=None)])[0]
    assert finding.as_json() == {
        "check": THIN_DOCUMENTATION, "patient_id": "P-1", "staff_id": "U01NURSE",
        "entry_ids": [1], "message": finding.message, "source": SOURCES[THIN_DOCUMENTATION]}


def test_a_clean_month_has_no_finding() -> None:
    assert checks(patients=[month_of("P-1", 1500)],
                  entries=[entry(1, counted_live=True, captured=True)]) == []


# -- heaping --------------------------------------------------------------------------------

def _band(at: int, before: int = 0, after: int = 0, *, minute: int = 20,
          staff: str = "U01NURSE") -> list[PatientMonth]:
    """`at` months in the minute just past `minute`, `before`/`after` in the neighbours."""
    seconds = [minute * 60 + 30] * at + [minute * 60 - 1] * before + [minute * 60 + 60] * after
    return [month_of(f"P-{staff}-{i}", s, main_staff=staff) for i, s in enumerate(seconds)]


@pytest.mark.parametrize(("at", "before", "after", "flags"), [
    (10, 0, 0, True),   # 10 in the band, all just past the threshold
    (9, 0, 0, False),   # fewer than 10 months in the band: too few to say
    (9, 2, 1, False),   # 9 is exactly 3 times the 3 beside it: not more
    (10, 2, 1, True),   # 10 > 3 x 3
    (0, 6, 6, False),   # only the neighbouring minutes
    (6, 6, 6, False),   # evenly spread
])
def test_heaping_at_20_minutes(at: int, before: int, after: int, flags: bool) -> None:
    found = only(checks(patients=_band(at, before, after)), HEAPING)
    # clinic-wide and the one staff member's: both or neither
    assert [f.staff_id for f in found] == ([None, "U01NURSE"] if flags else [])


@pytest.mark.parametrize("minute", [10, 40, 60])
def test_heaping_at_each_threshold(minute: int) -> None:
    found = only(checks(patients=_band(10, minute=minute)), HEAPING)
    assert found and f"{minute}:00-{minute}:59" in found[0].message


def test_heaping_bands_are_minutes_floored_never_rounded() -> None:
    """19:59 is in the minute before 20, 20:59 in the minute just past it."""
    before = [month_of(f"P-{i}", 1199) for i in range(10)]
    assert only(checks(patients=before), HEAPING) == []
    past = [month_of(f"P-{i}", 1259) for i in range(10)]
    assert only(checks(patients=past), HEAPING)


def test_heaping_per_staff_member_and_the_ratio_setting() -> None:
    months = _band(10, staff="U01NURSE") + _band(0, 5, 5, staff="U05OTHER")
    found = only(checks(patients=months), HEAPING)
    assert [f.staff_id for f in found] == ["U01NURSE"]  # clinic-wide: 10 vs 10, no heaping
    assert only(checks(patients=_band(10, 2, 1), heaping_ratio=4), HEAPING) == []


def _before(minute: int, months: int, staff: str | None = "U01NURSE") -> Banded:
    return Banded(minute, staff, months)


@pytest.mark.parametrize(("now", "before", "flags"), [
    # (this month's months at 20, the window's earlier months) -> clinic and nurse flagged?
    (3, [_before(20, 7)], True),  # 10 in the band over the window: a small clinic heaps
    (3, [_before(20, 6)], False),  # 9 over the window: too few to say
    (0, [_before(20, 12)], False),  # nothing of this month in the heaped minute: no finding
    (10, [_before(19, 2), _before(21, 2)], False),  # 10 is not over 3 x 4 beside it
    (10, [_before(19, 2), _before(21, 1)], True),  # 10 > 3 x 3
])
def test_heaping_over_the_trailing_window(now: int, before: list[Banded], flags: bool) -> None:
    """Outside auditor: with the checked month alone a small clinic never reaches 10 months
    in a band. The months before (AUDIT_HEAPING_MONTHS) count; findings name this month's."""
    found = only(run_checks(MonthFacts(OCT, NY, _band(now), before=before)), HEAPING)
    assert [f.staff_id for f in found] == ([None, "U01NURSE"] if flags else [])
    if flags:
        assert found[0].message.endswith(
            "this month's: " + ", ".join(sorted(m.patient_id for m in _band(now))))


def test_heaping_window_counts_clinic_wide_and_per_staff() -> None:
    """Earlier months with no staff member on record count clinic-wide (3 + 7 = 10), not
    for the nurse (3)."""
    found = only(run_checks(MonthFacts(OCT, NY, _band(3), before=[_before(20, 7, None)])),
                 HEAPING)
    assert [f.staff_id for f in found] == [None]
    assert "10 of the clinic's patient-months in the 12 months to this one" in found[0].message


# -- thin documentation ---------------------------------------------------------------------

@pytest.mark.parametrize(("extra", "flags"), [
    ({"note": None}, "no note"),
    ({"note": "   "}, "no note"),
    ({"note": "ok"}, "a note of 2 characters"),
    ({"note": "123456789"}, "a note of 9 characters"),
    ({"note": "1234567890"}, None),  # exactly AUDIT_MIN_NOTE_CHARS
    ({"note": None, "call_note": "talked about the new cuff"}, None),  # the call's note
    ({"note": "ok", "call_note": "talked about the new cuff"}, None),
    ({"note": None, "voided": True}, None),
    ({"note": None, "counted": 0}, None),  # nothing of it counts (e.g. non-clinical)
])
def test_thin_documentation_per_entry(extra: dict[str, Any], flags: str | None) -> None:
    found = only(checks(entries=[entry(1, **extra)]), THIN_DOCUMENTATION)
    if flags is None:
        assert found == []
    else:
        assert len(found) == 1 and flags in found[0].message
        assert (found[0].patient_id, found[0].entry_ids) == ("P-1", (1,))


def test_thin_documentation_minimum_is_the_setting() -> None:
    assert only(checks(entries=[entry(1, note="short")], min_note_chars=5),
                THIN_DOCUMENTATION) == []


@pytest.mark.parametrize(("patients", "flags"), [(5, True), (4, False)])
def test_the_same_note_on_entries_of_five_patients(patients: int, flags: bool) -> None:
    # case and spacing do not make a template note different
    notes = ["Reviewed readings, stable", "reviewed  readings, STABLE"]
    rows = [entry(i, patient=f"P-{i % patients}", note=notes[i % 2]) for i in range(8)]
    found = only(checks(entries=rows), THIN_DOCUMENTATION)
    assert bool(found) == flags
    if flags:
        assert found[0].entry_ids == tuple(range(8)) and "5 patients" in found[0].message


# -- live interaction without evidence -------------------------------------------------------

def test_a_month_whose_only_live_interaction_is_a_manual_mark() -> None:
    rows = [entry(1, counted_live=True), entry(2)]
    found = only(checks(entries=rows), LIVE_WITHOUT_EVIDENCE)
    assert [(f.patient_id, f.staff_id, f.entry_ids) for f in found] == [
        ("P-1", "U01NURSE", (1,))]


@pytest.mark.parametrize("rows", [
    [entry(1, counted_live=True), entry(2, counted_live=True,
                                                   captured=True)],  # a captured call too
    [entry(1, counted_live=False)],  # not a live interaction of the month
    [entry(1, counted_live=True, voided=True)],
])
def test_live_with_evidence_or_not_live_does_not_flag(rows: list[EntryFacts]) -> None:
    assert only(checks(entries=rows), LIVE_WITHOUT_EVIDENCE) == []


def test_live_without_evidence_is_per_staff_member() -> None:
    rows = [entry(1, counted_live=True),
            entry(2, staff="U05OTHER", counted_live=True)]
    found = only(checks(entries=rows), LIVE_WITHOUT_EVIDENCE)
    assert [(f.staff_id, f.entry_ids) for f in found] == [("U01NURSE", (1,)),
                                                          ("U05OTHER", (2,))]


# -- impossible day -------------------------------------------------------------------------

EIGHT_AM = datetime(2026, 10, 6, 12, 0, tzinfo=UTC)  # 08:00 in New York


def _day(*hours: float, start: datetime = EIGHT_AM, **extra: Any) -> list[EntryFacts]:
    rows, at = [], start
    for i, h in enumerate(hours):
        rows.append(entry(i + 1, patient=f"P-{i}", start=at, seconds=int(h * 3600), **extra))
        at += timedelta(hours=h)
    return rows


@pytest.mark.parametrize(("rows", "flags"), [
    (_day(4, 4, 4), False),                       # exactly 12 h
    (_day(4, 4, 4, 1 / 3600), True),              # 12 h and a second
    (_day(4, 4, 4, 1, voided=True), False),       # voided time is not counted time
    (_day(4, 4, 4, 1, role="non_clinical"), False),  # nor non-clinical time
])
def test_over_twelve_hours_in_one_clinic_day(rows: list[EntryFacts], flags: bool) -> None:
    found = only(checks(entries=rows), IMPOSSIBLE_DAY)
    assert bool(found) == flags
    if flags:
        assert found[0].staff_id == "U01NURSE" and "2026-10-06" in found[0].message


def test_a_day_is_the_clinic_day_split_at_clinic_midnight() -> None:
    """13 h from 13:00 clinic time: 11 h on the 6th, 2 h on the 7th (not 13 h in UTC's day)."""
    rows = _day(4, 4, 3, 2, start=datetime(2026, 10, 6, 17, 0, tzinfo=UTC))
    assert only(checks(entries=rows), IMPOSSIBLE_DAY) == []
    assert only(checks(entries=rows, max_day_hours=10.5), IMPOSSIBLE_DAY)


@pytest.mark.parametrize(("second", "flags"), [
    ({"patient": "P-2", "start": NOON + timedelta(minutes=5)}, True),
    ({"patient": "P-1", "start": NOON + timedelta(minutes=5)}, False),   # same patient
    ({"patient": "P-2", "start": NOON + timedelta(minutes=10)}, False),  # touching only
    ({"patient": "P-2", "start": NOON + timedelta(minutes=5), "staff": "U05OTHER"}, False),
    ({"patient": "P-2", "start": NOON + timedelta(minutes=5), "clock_timed": False}, False),
    ({"patient": "P-2", "start": NOON + timedelta(minutes=5), "voided": True}, False),
])
def test_clock_timed_entries_of_two_patients_at_once(second: dict[str, Any],
                                                     flags: bool) -> None:
    rows = [entry(1, clock_timed=True), entry(2, **({"clock_timed": True} | second))]
    found = only(checks(entries=rows), IMPOSSIBLE_DAY)
    assert [f.entry_ids for f in found] == ([(1, 2)] if flags else [])


def test_overlaps_are_one_finding_per_staff_member_and_day() -> None:
    """Auditor walk-through: four patients charted at the same hour made six findings."""
    rows = [entry(i, patient=f"P-{i}", clock_timed=True) for i in range(1, 5)]
    rows.append(entry(5, patient="P-5", start=NOON + timedelta(days=1), clock_timed=True))
    rows.append(entry(6, patient="P-6", start=NOON + timedelta(days=1, minutes=5),
                      clock_timed=True))
    found = only(checks(entries=rows), IMPOSSIBLE_DAY)
    assert [f.entry_ids for f in found] == [(1, 2, 3, 4), (5, 6)]
    assert "on 2026-10-05: #1 (P-1) and #2 (P-2), #1 (P-1) and #3 (P-3)" in found[0].message


# -- late documentation ---------------------------------------------------------------------

@pytest.mark.parametrize(("extra", "flags"), [
    ({"logged_after": timedelta(days=7)}, False),  # exactly AUDIT_LATE_DAYS
    ({"logged_after": timedelta(days=7, seconds=1)}, True),
    ({"logged_after": timedelta(days=30), "captured": True}, False),  # a call Twilio recorded
    ({"logged_after": timedelta(days=30), "voided": True}, False),
    ({"logged_after": timedelta(days=30), "start": NOON - timedelta(days=30)}, False),  # Sept
])
def test_logged_long_after_the_time_it_claims(extra: dict[str, Any], flags: bool) -> None:
    found = only(checks(entries=[entry(1, **extra)]), LATE_DOCUMENTATION)
    assert bool(found) == flags
    if flags:
        assert found[0].message == (
            "U01NURSE logged 1 entry of P-1 more than AUDIT_LATE_DAYS (7) days after the "
            "time it claims: #1 7 days after 2026-10-05")


def test_late_entries_are_one_finding_per_staff_member_and_patient() -> None:
    """Outside auditor: one finding per late entry was noise. Grouped per (staff, patient)
    of the month, every late entry listed; an on-time entry of the same pair is not."""
    late = timedelta(days=9)
    rows = [entry(1, logged_after=late), entry(2, logged_after=late, start=NOON + late),
            entry(3), entry(4, patient="P-2", logged_after=late),
            entry(5, staff="U02DOC", logged_after=late)]
    found = only(checks(entries=rows), LATE_DOCUMENTATION)
    assert [(f.staff_id, f.patient_id, f.entry_ids) for f in found] == [
        ("U01NURSE", "P-1", (1, 2)), ("U01NURSE", "P-2", (4,)), ("U02DOC", "P-1", (5,))]
    assert "logged 2 entries of P-1" in found[0].message
    assert "#1 9 days after 2026-10-05, #2 9 days after 2026-10-14" in found[0].message


def test_an_amendment_is_named_once_not_also_as_late() -> None:
    """Logged into a closed month weeks later: one finding, the amendment (outside auditor:
    it was flagged twice); voided in a closed month too is a second reason, named once."""
    rows = [entry(1, logged_after=timedelta(days=30), amendment_reason="paper log found"),
            entry(2, logged_after=timedelta(days=30), amendment_reason="fax arrived",
                  voided=True, void_amendment_reason="duplicate of #1")]
    found = only(checks(entries=rows), LATE_DOCUMENTATION)
    assert [(f.entry_ids, f.message.split(": ")[-1]) for f in found] == [
        ((1,), "paper log found"), ((2,), "fax arrived"), ((2,), "duplicate of #1")]


def test_amendments_of_a_closed_month_are_late_documentation() -> None:
    rows = [entry(1, amendment_reason="paper log found"),
            entry(2, voided=True, void_amendment_reason="duplicate")]
    found = only(checks(entries=rows), LATE_DOCUMENTATION)
    assert [(f.entry_ids, f.message.split(": ")[-1]) for f in found] == [
        ((1,), "paper log found"), ((2,), "duplicate")]


# -- billing prerequisites ------------------------------------------------------------------

@pytest.mark.parametrize(("extra", "says"), [
    ({"consent_on": None}, "no consent on file"),
    ({"conditions": ()}, "no condition monitored"),
    ({"ordered_by": None}, "no order on file"),
    ({"order_on": None}, "no order on file"),
    ({"provider": None, "provider_npi": None, "provider_role": None}, "no billing provider"),
    ({"provider_npi": None}, "billing provider U02DOC has no NPI"),
    ({"provider_role": "clinical_staff"}, "is clinical_staff, not a physician or QHP"),
])
def test_a_billable_month_missing_a_prerequisite(extra: dict[str, Any], says: str) -> None:
    found = only(checks(patients=[month_of("P-1", 1500, **extra)]), BILLING_PREREQUISITES)
    assert len(found) == 1 and says in found[0].message and found[0].patient_id == "P-1"


@pytest.mark.parametrize("extra", [{}, {"provider_role": "qhp"},
                                   {"billable_codes": "", "consent_on": None}])
def test_complete_or_unbillable_months_do_not_flag(extra: dict[str, Any]) -> None:
    assert only(checks(patients=[month_of("P-1", 1500, **extra)]), BILLING_PREREQUISITES) == []


# -- enrolment spike ------------------------------------------------------------------------

@pytest.mark.parametrize(("new", "before", "flags"), [
    (10, (0, 0, 0), True),
    (9, (0, 0, 0), False),     # under 10
    (10, (5, 5, 5), False),    # exactly twice the mean
    (11, (5, 5, 5), True),
    (30, (20, 20, 20), False),
])
def test_enrolment_spike(new: int, before: tuple[int, ...], flags: bool) -> None:
    found = only(checks(enrolments=Enrolments(new, before)), ENROLMENT_SPIKE)
    assert bool(found) == flags
