"""The self-audit checks (issue 16, part 2): the patterns an auditor screens for, run by the
practice on its own month first (docs/audit.md, "Self-audit checks").

Pure: the use case reads the month (the report's tally per patient, the month's entries with
their notes and calls, enrolment counts) into the dataclasses below; `run_checks` returns the
findings. A finding is information for the billing office, never a refusal.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import combinations
from typing import Any
from zoneinfo import ZoneInfo

from billing.codes import PROVIDER_ROLES, ROLES_THAT_COUNT
from billing.durations import format_seconds
from billing.months import Month, clinic_day, start_of_day_utc

HEAPING = "heaping"
THIN_DOCUMENTATION = "thin_documentation"
LIVE_WITHOUT_EVIDENCE = "live_without_evidence"
IMPOSSIBLE_DAY = "impossible_day"
LATE_DOCUMENTATION = "late_documentation"
BILLING_PREREQUISITES = "billing_prerequisites"
ENROLMENT_SPIKE = "enrolment_spike"
TIME_WITHOUT_DEVICE_DATA = "time_without_device_data"
CHECKS = (HEAPING, THIN_DOCUMENTATION, LIVE_WITHOUT_EVIDENCE, IMPOSSIBLE_DAY,
          LATE_DOCUMENTATION, BILLING_PREREQUISITES, ENROLMENT_SPIKE, TIME_WITHOUT_DEVICE_DATA)

# What each check follows (docs/audit.md names each source in full).
SOURCES = {
    HEAPING: "Noridian JE RPM checklist: time recorded to support the code level",
    THIN_DOCUMENTATION: "OIG OEI-02-23-00261: treatment management without documentation",
    LIVE_WITHOUT_EVIDENCE: "CY2021 PFS final rule: real-time two-way interactive "
                           "communication; Noridian JE: the live interaction and its date",
    IMPOSSIBLE_DAY: "Noridian JE RPM checklist: who furnished each minute",
    LATE_DOCUMENTATION: "CMS Program Integrity Manual ch. 3 §3.3.2.5: late entries "
                        "and amendments",
    BILLING_PREREQUISITES: "OIG OEI-02-23-00260: order, condition, consent; CPT: billed "
                           "by a physician or QHP",
    ENROLMENT_SPIKE: "OIG OEI-02-23-00261: sudden spikes in new patient enrolment",
    TIME_WITHOUT_DEVICE_DATA: "OIG OEI-02-23-00260 (2024): enrollees who did not receive all "
                              "three components of RPM (set-up, device data, treatment "
                              "management)",
}

# The minute just past each code threshold (99470 at 10, 99457 at 20, 99458 at 40 and 60).
HEAPING_MINUTES = (10, 20, 40, 60)
HEAPING_MIN_BAND = 10  # patient-months in the three minutes before a ratio means anything
SAME_NOTE_PATIENTS = 5  # one note text on entries of this many patients is a template
SPIKE_FACTOR = 2  # new enrolments over this many times the trailing mean ...
SPIKE_MIN = 10  # ... and at least this many
SPIKE_TRAILING = 3  # months before the checked one
_LISTED = 12  # ids named in a message before "and N more"


@dataclass(frozen=True)
class Thresholds:
    """The settings AUDIT_* (README): what each check tolerates."""

    heaping_ratio: float = 3.0
    heaping_months: int = 12  # the checked month and the 11 before it
    min_note_chars: int = 10
    max_day_hours: float = 12.0
    late_days: int = 7


@dataclass(frozen=True)
class Finding:
    """One thing an auditor would ask about; `source` is the rule or report it follows."""

    check: str
    patient_id: str | None
    staff_id: str | None
    entry_ids: tuple[int, ...]
    message: str
    source: str

    def as_json(self) -> dict[str, Any]:
        return {"check": self.check, "patient_id": self.patient_id, "staff_id": self.staff_id,
                "entry_ids": list(self.entry_ids), "message": self.message,
                "source": self.source}


@dataclass(frozen=True)
class PatientMonth:
    """One patient's month as the report's tally counts it, with what billing needs."""

    patient_id: str  # clinic id
    counted_seconds: int
    billable_codes: str  # e.g. "99457, 99458 x1"; "" when the month supports none
    main_staff: str | None = None  # Slack id of whoever counted the most seconds
    consent_on: date | None = None
    conditions: tuple[str, ...] = ()
    provider: str | None = None  # the billing provider's Slack id
    provider_npi: str | None = None
    provider_role: str | None = None
    ordered_by: str | None = None  # Slack id of the physician or QHP who ordered it
    order_on: date | None = None
    # a device period with >= 2 reading days overlaps the month (billing.devices); None:
    # not known (no device data read), never a finding
    device_data: bool | None = None


@dataclass(frozen=True)
class EntryFacts:
    """One entry with time in the month, with its note, its call and what the tally counts."""

    entry_id: int
    patient_id: str
    staff_id: str  # Slack id
    role: str  # as written on the entry
    started_at: datetime
    ended_at: datetime
    created_at: datetime
    voided: bool = False
    clock_timed: bool = False
    note: str | None = None
    call_note: str | None = None
    captured: bool = False  # recorded from a Twilio call (webhook or reconciliation)
    counted_seconds: int = 0  # the tally's counted share of the month
    counted_live: bool = False  # one of the month's live interactions (tally)
    amendment_reason: str | None = None  # logged into a closed month
    void_amendment_reason: str | None = None  # voided in a closed month

    @property
    def documentation(self) -> str:
        """The longer of the entry's note and its call's note (what documents the time)."""
        notes = [" ".join((n or "").split()) for n in (self.note, self.call_note)]
        return max(notes, key=len)


@dataclass(frozen=True)
class Enrolments:
    """New enrolments in the checked month and in each of the months before it."""

    month: int
    before: tuple[int, ...]  # the SPIKE_TRAILING months before, oldest first


@dataclass(frozen=True)
class Banded:
    """Patient-months of the months before the checked one (heaping's trailing window) that
    ended in one minute, per main staff member (None: none on record)."""

    minute: int
    staff: str | None
    months: int


def band_minutes() -> tuple[int, ...]:
    """The minutes heaping compares: each threshold's minute and the two beside it."""
    return tuple(m + d for m in HEAPING_MINUTES for d in (-1, 0, 1))


@dataclass(frozen=True)
class MonthFacts:
    month: Month
    zone: ZoneInfo
    patients: Sequence[PatientMonth] = ()
    entries: Sequence[EntryFacts] = ()
    enrolments: Enrolments | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    before: Sequence[Banded] = ()  # heaping's window before the checked month


def run_checks(facts: MonthFacts) -> list[Finding]:
    """Every check over the month, in CHECKS order."""
    return [*heaping(facts), *thin_documentation(facts), *live_without_evidence(facts),
            *impossible_day(facts), *late_documentation(facts),
            *billing_prerequisites(facts), *enrolment_spike(facts),
            *time_without_device_data(facts)]


def _listed(ids: Iterable[object], prefix: str = "") -> str:
    items = [f"{prefix}{i}" for i in ids]
    more = f" and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
    return ", ".join(items[:_LISTED]) + more


def _finding(check: str, message: str, *, patient: str | None = None,
             staff: str | None = None, entries: Iterable[int] = ()) -> Finding:
    return Finding(check, patient, staff, tuple(sorted(entries)), message, SOURCES[check])


def _about(entry: EntryFacts, check: str, message: str) -> Finding:
    return _finding(check, message, patient=entry.patient_id, staff=entry.staff_id,
                    entries=[entry.entry_id])


# -- heaping --------------------------------------------------------------------------------

def heaping(facts: MonthFacts) -> Iterator[Finding]:
    """Totals stopping just past a threshold far more often than just before or after it,
    over the trailing window (AUDIT_HEAPING_MONTHS: the checked month and the months before
    it, `facts.before`), clinic-wide and per staff member (a patient-month is its main
    contributor's); a finding names the checked month's patient-months in the heaped
    minute (none there: nothing of this month to answer for, no finding)."""
    ratio, span = facts.thresholds.heaping_ratio, facts.thresholds.heaping_months
    yield from _heaped(facts.patients, _counts(facts.before, None), ratio, None, span)
    by_staff: dict[str, list[PatientMonth]] = defaultdict(list)
    for month in facts.patients:
        if month.main_staff:
            by_staff[month.main_staff].append(month)
    for staff in sorted(by_staff):
        yield from _heaped(by_staff[staff], _counts(facts.before, staff), ratio, staff, span)


def _counts(before: Sequence[Banded], staff: str | None) -> dict[int, int]:
    """Months before the checked one per minute: the clinic's (staff None) or one member's."""
    counts: dict[int, int] = defaultdict(int)
    for band in before:
        if staff is None or band.staff == staff:
            counts[band.minute] += band.months
    return counts


def _heaped(months: Sequence[PatientMonth], before: dict[int, int], ratio: float,
            staff: str | None, span: int) -> Iterator[Finding]:
    for minute in HEAPING_MINUTES:
        now = sorted(m.patient_id for m in months if m.counted_seconds // 60 == minute)
        at = len(now) + before.get(minute, 0)
        beside = sum(1 for m in months if m.counted_seconds // 60 in (minute - 1, minute + 1))
        beside += before.get(minute - 1, 0) + before.get(minute + 1, 0)
        if not now or at + beside < HEAPING_MIN_BAND or at <= ratio * beside:
            continue
        who = f"{staff}'s" if staff else "the clinic's"
        yield _finding(HEAPING, (
            f"{at} of {who} patient-months in the {span} months to this one end at "
            f"{minute}:00-{minute}:59 against {beside} at {minute - 1}:00-{minute - 1}:59 and "
            f"{minute + 1}:00-{minute + 1}:59 together (over {ratio:g} times as often); "
            f"this month's: {_listed(now)}"), staff=staff)


# -- thin documentation ---------------------------------------------------------------------

def thin_documentation(facts: MonthFacts) -> Iterator[Finding]:
    """Counted time without a note, with a note too short to say what was done, and one note
    text repeated on the entries of many patients (a template, not a record)."""
    counted = [e for e in facts.entries if e.counted_seconds > 0 and not e.voided]
    minimum = facts.thresholds.min_note_chars
    for entry in counted:
        text = entry.documentation
        if not text:
            problem = "no note (neither on the entry nor on its call)"
        elif len(text) < minimum:
            problem = (f"a note of {len(text)} characters (under AUDIT_MIN_NOTE_CHARS, "
                       f"{minimum})")
        else:
            continue
        yield _about(entry, THIN_DOCUMENTATION, (
            f"entry #{entry.entry_id} ({entry.patient_id}, "
            f"{clinic_day(entry.started_at, facts.zone)}) counts "
            f"{format_seconds(entry.counted_seconds)} with {problem}"))
    same: dict[str, list[EntryFacts]] = defaultdict(list)
    for entry in counted:
        if entry.documentation:
            same[entry.documentation.casefold()].append(entry)
    for group in same.values():
        patients = sorted({e.patient_id for e in group})
        if len(patients) < SAME_NOTE_PATIENTS:
            continue
        staff = {e.staff_id for e in group}
        yield _finding(THIN_DOCUMENTATION, (
            f"the same note \"{_quoted(group[0].documentation)}\" on {len(group)} entries of "
            f"{len(patients)} patients: {_listed(patients)}"),
            staff=staff.pop() if len(staff) == 1 else None, entries=[e.entry_id for e in group])


def _quoted(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


# -- live interaction without evidence -------------------------------------------------------

def live_without_evidence(facts: MonthFacts) -> Iterator[Finding]:
    """Patient-months whose live interactions are all manual marks, none a captured call:
    one finding per staff member who marked them."""
    live: dict[str, list[EntryFacts]] = defaultdict(list)
    for entry in facts.entries:
        if entry.counted_live and not entry.voided:
            live[entry.patient_id].append(entry)
    for patient in sorted(live):
        marks = live[patient]
        if any(e.captured for e in marks):
            continue
        by_staff: dict[str, list[int]] = defaultdict(list)
        for entry in marks:
            by_staff[entry.staff_id].append(entry.entry_id)
        for staff in sorted(by_staff):
            ids = by_staff[staff]
            yield _finding(LIVE_WITHOUT_EVIDENCE, (
                f"{patient}: the month's only live interaction is a manual mark by {staff} "
                f"(entr{'y' if len(ids) == 1 else 'ies'} {_listed(ids, '#')}), no captured "
                "call"), patient=patient, staff=staff, entries=ids)


# -- impossible day -------------------------------------------------------------------------

def _clinic_days(start: datetime, end: datetime, zone: ZoneInfo) -> Iterator[tuple[date, int]]:
    """(clinic day, whole seconds) of [start, end), split at clinic midnights."""
    day = start.astimezone(zone).date()
    while True:
        cut = start_of_day_utc(day + timedelta(days=1), zone)
        piece_end = min(end, cut)
        if piece_end > start:
            yield day, int((piece_end - start).total_seconds())
        if end <= cut:
            return
        start, day = cut, day + timedelta(days=1)


def impossible_day(facts: MonthFacts) -> Iterator[Finding]:
    """A staff member's counted time in one clinic day over AUDIT_MAX_DAY_HOURS, and their
    clock-timed entries of different patients at the same time."""
    month, zone = facts.month, facts.zone
    limit = facts.thresholds.max_day_hours * 3600
    standing = [e for e in facts.entries if not e.voided and e.role in ROLES_THAT_COUNT]
    days: dict[tuple[str, date], list[tuple[int, int]]] = defaultdict(list)
    for entry in standing:
        for day, seconds in _clinic_days(entry.started_at, entry.ended_at, zone):
            if month.first_day <= day <= month.last_day:
                days[entry.staff_id, day].append((entry.entry_id, seconds))
    for (staff, day), pieces in sorted(days.items()):
        total = sum(seconds for _, seconds in pieces)
        if total > limit:
            yield _finding(IMPOSSIBLE_DAY, (
                f"{staff} logged {format_seconds(total)} of counted time on {day} (over "
                f"AUDIT_MAX_DAY_HOURS, {facts.thresholds.max_day_hours:g} h)"),
                staff=staff, entries=[entry_id for entry_id, _ in pieces])
    yield from _overlapping_patients(standing, month.bounds_utc(zone), zone)


def _overlapping_patients(entries: Sequence[EntryFacts], bounds: tuple[datetime, datetime],
                          zone: ZoneInfo) -> Iterator[Finding]:
    """Clock-timed entries of one staff member for different patients at the same time: one
    finding per staff member and clinic day listing every such pair (one per pair was noise:
    four patients charted at the same hour made six findings)."""
    timed: dict[str, list[EntryFacts]] = defaultdict(list)
    for entry in entries:
        if entry.clock_timed:
            timed[entry.staff_id].append(entry)
    for staff in sorted(timed):
        days: dict[date, list[tuple[EntryFacts, EntryFacts]]] = defaultdict(list)
        ordered = sorted(timed[staff], key=lambda e: (e.started_at, e.entry_id))
        for a, b in combinations(ordered, 2):
            if (a.patient_id != b.patient_id and b.started_at < a.ended_at
                    and bounds[0] <= b.started_at < bounds[1]):
                days[clinic_day(b.started_at, zone)].append((a, b))
        for day, pairs in sorted(days.items()):
            listed = _listed(f"#{a.entry_id} ({a.patient_id}) and #{b.entry_id} "
                             f"({b.patient_id})" for a, b in pairs)
            yield _finding(IMPOSSIBLE_DAY, (
                f"{staff} has clock-timed entries of two patients at the same time on {day}: "
                f"{listed}"), staff=staff,
                entries={e.entry_id for pair in pairs for e in pair})


# -- late documentation ---------------------------------------------------------------------

def late_documentation(facts: MonthFacts) -> Iterator[Finding]:
    """Entries logged more than AUDIT_LATE_DAYS after the time they claim (captured and
    reconciled calls are recorded by Twilio, not typed late), one finding per staff member
    and patient listing them all (one per entry was noise); and amendments of closed months,
    once each: an entry logged into a closed month is late by nature and is named as the
    amendment it is, not a second time as late."""
    start, end = facts.month.bounds_utc(facts.zone)
    late: dict[tuple[str, str], list[EntryFacts]] = defaultdict(list)
    amended: list[Finding] = []
    for entry in facts.entries:
        if not start <= entry.started_at < end:
            continue  # an entry is judged in the month it claims to start in
        if entry.amendment_reason:
            amended.append(_about(entry, LATE_DOCUMENTATION, (
                f"entry #{entry.entry_id} ({entry.patient_id}) was logged into the closed "
                f"month as an amendment: {entry.amendment_reason}")))
        elif _logged_late(entry, facts.thresholds.late_days):
            late[entry.staff_id, entry.patient_id].append(entry)
        if entry.void_amendment_reason:
            amended.append(_about(entry, LATE_DOCUMENTATION, (
                f"entry #{entry.entry_id} ({entry.patient_id}) was voided in the closed month "
                f"as an amendment: {entry.void_amendment_reason}")))
    for (staff, patient), entries in sorted(late.items()):
        yield _late_group(staff, patient, entries, facts)
    yield from amended


def _logged_late(entry: EntryFacts, late_days: int) -> bool:
    return (not entry.voided and not entry.captured
            and entry.created_at - entry.ended_at > timedelta(days=late_days))


def _late_group(staff: str, patient: str, entries: Sequence[EntryFacts],
                facts: MonthFacts) -> Finding:
    """One staff member's late entries of one patient in the month, each with its delay."""
    each = [f"#{e.entry_id} {math.floor((e.created_at - e.ended_at) / timedelta(days=1))} "
            f"days after {clinic_day(e.ended_at, facts.zone)}" for e in entries]
    many = len(entries) > 1
    return _finding(LATE_DOCUMENTATION, (
        f"{staff} logged {len(entries)} entr{'ies' if many else 'y'} of {patient} more than "
        f"AUDIT_LATE_DAYS ({facts.thresholds.late_days}) days after the time "
        f"{'they claim' if many else 'it claims'}: {_listed(each)}"),
        patient=patient, staff=staff, entries=[e.entry_id for e in entries])


# -- billing prerequisites ------------------------------------------------------------------

NO_CONSENT = "no consent on file"
NO_ORDER = "no order on file (ordering provider and order date)"


def hold_reasons(consent_on: date | None, ordered_by: str | int | None,
                 order_on: date | None) -> list[str]:
    """Why a month that supports codes must not be billed yet: no consent (the report's "do
    not bill until consent is recorded") or no order. The one rule the month close applies
    (a held patient is recorded as not billed, with these reasons) and this check names."""
    reasons = []
    if consent_on is None:
        reasons.append(NO_CONSENT)
    if ordered_by is None or order_on is None:
        reasons.append(NO_ORDER)
    return reasons


def missing_prerequisites(month: PatientMonth) -> list[str]:
    """What a billable month lacks before a claim can stand."""
    held = hold_reasons(month.consent_on, month.ordered_by, month.order_on)
    missing = [NO_CONSENT] if NO_CONSENT in held else []
    if not month.conditions:
        missing.append("no condition monitored")
    missing += [NO_ORDER] if NO_ORDER in held else []
    if month.provider is None:
        missing.append("no billing provider")
    else:
        if not month.provider_npi:
            missing.append(f"billing provider {month.provider} has no NPI")
        if month.provider_role not in PROVIDER_ROLES:
            missing.append(f"billing provider {month.provider} is {month.provider_role}, "
                           "not a physician or QHP")
    return missing


def billing_prerequisites(facts: MonthFacts) -> Iterator[Finding]:
    for month in facts.patients:
        missing = missing_prerequisites(month) if month.billable_codes else []
        if missing:
            yield _finding(BILLING_PREREQUISITES, (
                f"{month.patient_id} supports {month.billable_codes} but: "
                f"{'; '.join(missing)}"), patient=month.patient_id, staff=month.provider)


# -- enrolment spike ------------------------------------------------------------------------

def enrolment_spike(facts: MonthFacts) -> Iterator[Finding]:
    """New enrolments over SPIKE_FACTOR times the trailing mean, and at least SPIKE_MIN."""
    counts = facts.enrolments
    if counts is None or counts.month < SPIKE_MIN:
        return
    trailing = sum(counts.before)
    if counts.month * len(counts.before) <= SPIKE_FACTOR * trailing:  # integers: no rounding
        return
    mean = trailing / len(counts.before) if counts.before else 0
    yield _finding(ENROLMENT_SPIKE, (
        f"{counts.month} new enrolments in {facts.month}, over {SPIKE_FACTOR} times the mean "
        f"of the {len(counts.before)} months before ({', '.join(map(str, counts.before))}: "
        f"mean {mean:.1f})"))


# -- time without device data ---------------------------------------------------------------

def time_without_device_data(facts: MonthFacts) -> Iterator[Finding]:
    """Treatment-management codes in a month with no device period of >= 2 reading days:
    the claim shows time but not the device data RPM is the management of."""
    for month in facts.patients:
        if month.billable_codes and month.device_data is False:
            yield _finding(TIME_WITHOUT_DEVICE_DATA, (
                f"{month.patient_id} supports {month.billable_codes} but no device period "
                f"with 2 or more reading days overlaps {facts.month}"),
                patient=month.patient_id, staff=month.main_staff)
