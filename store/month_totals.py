"""Month totals per patient in one aggregate query (never a running total, never a loop).

Counted time is non-voided time by roles that may furnish the service, within the clinic
month's UTC bounds; voiding an entry changes every later answer because nothing is stored.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, func, or_, select, type_coerce
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session

from billing.codes import ROLES_THAT_COUNT
from store.models import Call, Patient, Staff, TimeEntry
from store.types import UTCDateTime


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
    patient_pk: int
    patient_id: str
    initials: str | None
    consent_on: date | None
    conditions: list[str]
    provider_pk: int | None
    enrolled_on: date | None
    ended_on: date | None
    assigned_staff_pk: int | None
    counted_seconds: int
    uncounted_seconds: int
    live_interactions: int
    first_live_at: datetime | None
    entries: int
    voided_entries: int


def _not_voided() -> ColumnElement[bool]:
    return TimeEntry.voided_at.is_(None)


def _counted() -> ColumnElement[bool]:
    return and_(_not_voided(), TimeEntry.staff_role.in_(ROLES_THAT_COUNT))


def _in_month(started_at: Any) -> ColumnElement[bool]:
    return and_(started_at >= bindparam("start"), started_at < bindparam("end"))


def _enrolled_in(with_unentered: bool) -> ColumnElement[bool]:
    """Enrolled on any day of the month; with no enrolment date, any month with entries.

    `with_unentered`: a patient with no enrolment date who existed by the month's end and
    had not ended also counts, entries or not: reminders must see the untouched ones.
    """
    first, last = bindparam("first_day"), bindparam("last_day")
    dated = and_(
        Patient.enrolled_on.is_not(None),
        Patient.enrolled_on <= last,
        or_(Patient.ended_on.is_(None), Patient.ended_on >= first),
    )
    if with_unentered:
        return or_(dated, and_(
            Patient.enrolled_on.is_(None), Patient.created_at < bindparam("end"),
            or_(Patient.ended_on.is_(None), Patient.ended_on >= first),
        ))
    live_entries = func.count(case((_not_voided(), TimeEntry.id)))
    return or_(dated, and_(Patient.enrolled_on.is_(None), live_entries > 0))


# Each statement below is built once per shape and run with bound parameters: building a
# statement of this size costs several times more CPU than running it, and every Slack
# reply runs five of them.

@cache
def _month_totals_statement(shape: str, with_unentered: bool) -> Select[Any]:
    entry = TimeEntry
    live = and_(_counted(), entry.live.is_(True))
    query = (
        select(
            Patient.id, Patient.clinic_id, Patient.initials, Patient.consent_on,
            Patient.conditions, Patient.provider_id,
            Patient.enrolled_on, Patient.ended_on, Patient.assigned_staff_id,
            func.coalesce(func.sum(case((_counted(), entry.duration_seconds), else_=0)), 0),
            func.coalesce(func.sum(case(
                (and_(_not_voided(), ~entry.staff_role.in_(ROLES_THAT_COUNT)),
                 entry.duration_seconds), else_=0)), 0),
            func.count(case((live, entry.id))),
            type_coerce(func.min(case((live, entry.started_at))), UTCDateTime()),
            func.count(case((_not_voided(), entry.id))),
            func.count(case((entry.voided_at.is_not(None), entry.id))),
        )
        .select_from(Patient)
        .outerjoin(entry, and_(entry.patient_id == Patient.id, _in_month(entry.started_at)))
        .where(*_on_patients(shape))
        .group_by(Patient.id)
        .order_by(Patient.clinic_key)
    )
    if shape != "patient":
        query = query.having(_enrolled_in(with_unentered))
    return query


def month_totals(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    first_day: date,
    last_day: date,
    scope: Scope = CLINIC,
    with_unentered: bool = False,
    page_size: int | None = None,
) -> Iterator[PatientMonthTotals]:
    """Totals for one patient (any enrolment) or for every patient of the scope enrolled in
    the month (`with_unentered`: also those with no enrolment date and no entry yet).

    With `page_size`, rows come from the database that many at a time (a server-side cursor
    on PostgreSQL), so a large clinic is never fetched whole.
    """
    params = {"start": start, "end": end, "first_day": first_day, "last_day": last_day,
              **scope.params()}
    statement = _month_totals_statement(scope.shape, with_unentered)
    options = {"yield_per": page_size} if page_size else {}
    for row in _rows(session, statement, params, options):
        yield PatientMonthTotals(*row[:9], int(row[9]), int(row[10]), int(row[11]), row[12],
                                 int(row[13]), int(row[14]))


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
        _in_month(TimeEntry.started_at),
        *_on(TimeEntry.patient_id, shape),
    )


def overlapping_entries(
    session: Session, *, start: datetime, end: datetime, scope: Scope = CLINIC
) -> list[tuple[int, int, int]]:
    """(patient pk, entry id, overlapped entry id) for flagged entries in the month, while
    both entries stand: voiding either one settles the overlap."""
    rows = _rows(session, _overlaps_statement(scope.shape), _month_params(start, end, scope))
    return [(int(a), int(b), int(c)) for a, b, c in rows]


@dataclass(frozen=True)
class StaffSeconds:
    patient_pk: int
    slack_user_id: str
    name: str
    role: str  # the role written on the entries (a later role change never rewrites it)
    seconds: int


@cache
def _staff_seconds_statement(shape: str) -> Select[Any]:
    return (
        select(TimeEntry.patient_id, Staff.slack_user_id, Staff.name, TimeEntry.staff_role,
               func.sum(TimeEntry.duration_seconds))
        .join(Staff, Staff.id == TimeEntry.staff_id)
        .where(_not_voided(), _in_month(TimeEntry.started_at),
               *_on(TimeEntry.patient_id, shape))
        .group_by(TimeEntry.patient_id, Staff.slack_user_id, Staff.name, TimeEntry.staff_role)
        .order_by(TimeEntry.patient_id, func.sum(TimeEntry.duration_seconds).desc())
    )


def staff_seconds(
    session: Session, *, start: datetime, end: datetime, scope: Scope = CLINIC
) -> list[StaffSeconds]:
    """Who furnished how many non-voided seconds per patient in the month (one GROUP BY)."""
    rows = _rows(session, _staff_seconds_statement(scope.shape),
                 _month_params(start, end, scope))
    return [StaffSeconds(int(p), s, n, r, int(t)) for p, s, n, r, t in rows]


@cache
def _live_starts_statement(shape: str) -> Select[Any]:
    return select(TimeEntry.patient_id, TimeEntry.started_at).where(
        _counted(), TimeEntry.live.is_(True), _in_month(TimeEntry.started_at),
        *_on(TimeEntry.patient_id, shape),
    ).order_by(TimeEntry.patient_id, TimeEntry.started_at)  # the month index's own order


def live_starts(
    session: Session, *, start: datetime, end: datetime, scope: Scope = CLINIC
) -> list[tuple[int, datetime]]:
    """(patient pk, start) of every counted live interaction in the month, each patient's
    in time order."""
    rows = _rows(session, _live_starts_statement(scope.shape), _month_params(start, end, scope))
    return [(int(p), s) for p, s in rows]


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
