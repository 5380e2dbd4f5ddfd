"""Month totals per patient from one query (never a running total, never stored).

The query reads each patient's entries that touch the clinic month; the pure rules in
billing.tally count them and billing.programme decides who is in the month's programme.
Voiding an entry or changing a window changes every later answer because nothing is stored.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session

from billing.months import Month, start_of_day_utc
from billing.programme import Window, in_programme
from billing.tally import EntryTime, MonthBounds, MonthTally, running_totals, tally_month
from store.models import Call, Patient, TimeEntry


@dataclass(frozen=True)
class Scope:
    """Which patients a month query covers: one patient, one staff member's caseload, a page
    of a clinic-wide scan, or (nothing set) the whole clinic. The filter goes into the SQL, so
    a caseload reply costs the caseload's rows, not the clinic's."""

    patient_pk: int | None = None
    assigned_staff_pk: int | None = None
    patient_pks: tuple[int, ...] | None = None  # a page of a month scan

    @property
    def shape(self) -> str:
        """What the statement filters on; the values go in as bound parameters."""
        if self.patient_pk is not None:
            return "patient"
        if self.patient_pks is not None:
            return "page"
        return "caseload" if self.assigned_staff_pk is not None else "clinic"

    def params(self) -> dict[str, Any]:
        return {"patient_pk": self.patient_pk or 0, "staff_pk": self.assigned_staff_pk or 0,
                "patient_pks": list(self.patient_pks or ())}


def _on_patients(shape: str) -> list[ColumnElement[bool]]:
    """Scope conditions on Patient rows."""
    if shape == "patient":
        return [Patient.id == bindparam("patient_pk")]
    if shape == "caseload":
        return [Patient.assigned_staff_id == bindparam("staff_pk")]
    if shape == "page":
        return [Patient.id.in_(bindparam("patient_pks", expanding=True))]
    return []


def _on(patient_id: Any, shape: str) -> list[ColumnElement[bool]]:
    """Scope conditions on a table's patient id column (entries, calls)."""
    if shape == "patient":
        return [patient_id == bindparam("patient_pk")]
    if shape == "caseload":
        return [patient_id.in_(select(Patient.id).where(
            Patient.assigned_staff_id == bindparam("staff_pk")))]
    if shape == "page":
        return [patient_id.in_(bindparam("patient_pks", expanding=True))]
    return []


def _rows(session: Session, statement: Select[Any], params: dict[str, Any],
          options: dict[str, Any] | None = None) -> Any:
    """Plain Core rows on the session's connection: these queries select columns, not
    entities, and skipping the ORM's row loading halves their Python cost per row."""
    return session.connection().execute(statement, params, execution_options=options or {})


CLINIC = Scope()


@dataclass(frozen=True)
class PatientMonthTotals:
    """A patient's month: who they are and what the month counts (billing.tally)."""

    patient_pk: int
    patient_id: str
    initials: str | None
    consent_on: date | None
    conditions: list[str]
    provider_pk: int | None
    enrolled_on: date | None
    ended_on: date | None
    assigned_staff_pk: int | None
    tally: MonthTally
    in_programme: bool  # billing.programme.in_programme: the one definition
    created_on: date  # the clinic day the patient was added
    # with `day_cuts`: (counted seconds, live interactions) of the month up to each cut
    so_far: tuple[tuple[int, int], ...] = ()

    @property
    def counted_seconds(self) -> int:
        return self.tally.counted_seconds

    @property
    def uncounted_seconds(self) -> int:
        return self.tally.uncounted_seconds

    @property
    def live_interactions(self) -> int:
        return self.tally.live_interactions

    @property
    def first_live_at(self) -> datetime | None:
        return self.tally.first_live_at

    @property
    def entries(self) -> int:
        return self.tally.entries

    @property
    def voided_entries(self) -> int:
        return self.tally.voided_entries


def _not_voided() -> ColumnElement[bool]:
    return TimeEntry.voided_at.is_(None)


def _in_month(started_at: Any) -> ColumnElement[bool]:
    return and_(started_at >= bindparam("start"), started_at < bindparam("end"))


def _touches_month() -> ColumnElement[bool]:
    """Entries with time in the month: those that started in it, and those that started
    before it (at most a day: no entry is longer) and end after its first instant."""
    return and_(TimeEntry.started_at >= bindparam("reach"),
                TimeEntry.started_at < bindparam("end"),
                TimeEntry.ended_at > bindparam("start"))


def _window_overlaps_month() -> ColumnElement[bool]:
    """A necessary condition of being in the month's programme, so a clinic scan reads only
    candidates; the decision itself is billing.programme (in Python, over these rows)."""
    return and_(
        or_(Patient.enrolled_on.is_(None), Patient.enrolled_on <= bindparam("last_day")),
        or_(Patient.ended_on.is_(None), Patient.ended_on >= bindparam("first_day")),
    )


# Each statement below is built once per shape and run with bound parameters: building a
# statement of this size costs several times more CPU than running it, and every Slack
# reply runs it.

_PATIENT_COLUMNS = 10  # the patient's columns (with created_at) before the entry's


@cache
def _month_rows_statement(shape: str) -> Select[Any]:
    """Each patient of the scope with every entry touching the month (one row per entry, a
    row of NULLs for a patient with none), in clinic-id then time order."""
    entry = TimeEntry
    query = (
        select(
            Patient.id, Patient.clinic_id, Patient.initials, Patient.consent_on,
            Patient.conditions, Patient.provider_id,
            Patient.enrolled_on, Patient.ended_on, Patient.assigned_staff_id,
            Patient.created_at,
            entry.id, entry.staff_id, entry.staff_role, entry.started_at, entry.ended_at,
            entry.live, entry.clock_timed, entry.voided_at.is_not(None),
        )
        .select_from(Patient)
        .outerjoin(entry, and_(entry.patient_id == Patient.id, _touches_month()))
        .where(*_on_patients(shape))
        .order_by(Patient.clinic_key, entry.started_at, entry.id)
    )
    if shape != "patient":
        query = query.where(_window_overlaps_month())
    return query


# The longest entry the settings allow (MAX_ENTRY_MINUTES is at most 24 h): how far before
# the month an entry that runs into it may have started.
LONGEST_ENTRY = timedelta(days=1)


def _patient_totals(rows: list[Any], month: Month, zone: ZoneInfo, min_live_seconds: int,
                    day_cuts: tuple[datetime, ...] = ()) -> PatientMonthTotals:
    """One patient's rows turned into totals (whether in the month's programme or not)."""
    first = rows[0]
    window = Window(first[6], first[7])
    start, end = month.bounds_utc(zone)
    window_start, window_end = window.instants(zone)
    consent = start_of_day_utc(first[3], zone) if first[3] else None
    entries = [EntryTime(int(r[10]), int(r[11]), r[12], r[13], r[14], bool(r[15]),
                         bool(r[16]), bool(r[17])) for r in rows if r[10] is not None]
    bounds = MonthBounds(start, end, window_start, window_end, consent)
    tally = tally_month(entries, bounds, min_live_seconds=min_live_seconds)
    so_far = running_totals(entries, bounds, day_cuts,
                            min_live_seconds=min_live_seconds) if day_cuts else ()
    created_on = first[9].astimezone(zone).date()
    enrolled = in_programme(month, window, entries_in_window=tally.entries_in_window,
                            created_on=created_on)
    return PatientMonthTotals(*first[:9], tally=tally, in_programme=enrolled,
                              created_on=created_on, so_far=so_far)


def month_totals(
    session: Session,
    *,
    month: Month,
    zone: ZoneInfo,
    min_live_seconds: int,
    scope: Scope = CLINIC,
    page_size: int | None = None,
    day_cuts: tuple[datetime, ...] = (),
) -> Iterator[PatientMonthTotals]:
    """Totals for one patient (in the programme or not) or for every patient of the scope in
    the month's programme: the report, the risk lists and the dashboard read the same rows.

    One statement reads the entries touching the month; billing.tally counts them (split at
    midnight, window, consent, live floor, clock-timed union) and billing.programme decides
    who is in the month's programme. With `day_cuts`, each row also carries the month so far
    at each cut (billing.tally.running_totals: the dashboard chart). With `page_size`, rows
    come from the database that many at a time (a server-side cursor on PostgreSQL), so a
    large clinic is never fetched whole.
    """
    start, end = month.bounds_utc(zone)
    params = {"start": start, "end": end, "reach": start - LONGEST_ENTRY,
              "first_day": month.first_day, "last_day": month.last_day, **scope.params()}
    options = {"yield_per": page_size} if page_size else {}
    rows = _rows(session, _month_rows_statement(scope.shape), params, options)
    for _, group in groupby(rows, key=lambda r: r[0]):
        patient_rows = list(group)
        totals = _patient_totals(patient_rows, month, zone, min_live_seconds, day_cuts)
        if scope.shape == "patient" or totals.in_programme:
            yield totals


def _month_params(start: datetime, end: datetime, scope: Scope) -> dict[str, Any]:
    return {"start": start, "end": end, **scope.params()}


@cache
def _overlaps_statement(shape: str) -> Select[Any]:
    other = aliased(TimeEntry)
    return select(TimeEntry.patient_id, TimeEntry.id, TimeEntry.overlaps_entry_id).join(
        other, and_(other.id == TimeEntry.overlaps_entry_id, other.voided_at.is_(None))
    ).where(
        _not_voided(),
        TimeEntry.overlaps_entry_id.is_not(None),
        # both clock-timed: a flag written before issue 13 on an estimated entry is noise
        TimeEntry.clock_timed.is_(True), other.clock_timed.is_(True),
        _in_month(TimeEntry.started_at),
        *_on(TimeEntry.patient_id, shape),
    )


def overlapping_entries(
    session: Session, *, start: datetime, end: datetime, scope: Scope = CLINIC
) -> list[tuple[int, int, int]]:
    """(patient pk, entry id, overlapped entry id) for flagged entries in the month, while
    both entries stand and both are clock-timed: voiding either one settles the overlap, and
    an estimated entry never makes one."""
    rows = _rows(session, _overlaps_statement(scope.shape), _month_params(start, end, scope))
    return [(int(a), int(b), int(c)) for a, b, c in rows]


def entries_touching(session: Session, *, start: datetime, end: datetime,
                     patient_pk: int | None = None) -> list[TimeEntry]:
    """Every entry (voided ones too) with time in [start, end), oldest first: those that
    started in it and those across its first midnight (the month's `entries` and `export`)."""
    query = select(TimeEntry).where(_touches_month()).order_by(TimeEntry.started_at,
                                                               TimeEntry.id)
    params: dict[str, Any] = {"start": start, "end": end, "reach": start - LONGEST_ENTRY}
    if patient_pk is not None:
        query = query.where(TimeEntry.patient_id == bindparam("patient_pk"))
        params["patient_pk"] = patient_pk
    return list(session.scalars(query, params))


# Call states the billing office must look at before billing a month (see service/calls.py).
CALL_STATES_TO_REVIEW = ("unclaimed", "unconfirmed", "unmatched", "after_close")


@cache
def _calls_statement(shape: str) -> Select[Any]:
    return select(Call.patient_id, Call.id, Call.state).where(
        Call.state.in_(CALL_STATES_TO_REVIEW), _in_month(Call.started_at),
        *_on(Call.patient_id, shape),
    ).order_by(Call.id)


def calls_to_review(
    session: Session, *, start: datetime, end: datetime, scope: Scope = CLINIC
) -> list[tuple[int | None, int, str]]:
    """(patient pk or None, call pk, state) of the month's calls that are not settled."""
    rows = _rows(session, _calls_statement(scope.shape), _month_params(start, end, scope))
    return [(p, int(c), s) for p, c, s in rows]
