"""Month totals per patient in one aggregate query (never a running total, never a loop).

Counted time is non-voided time by roles that may furnish the service, within the clinic
month's UTC bounds; voiding an entry changes every later answer because nothing is stored.
"""

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, type_coerce
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement, Select
from sqlmodel import Session

from billing.codes import ROLES_THAT_COUNT
from store.models import Call, Patient, Staff, TimeEntry
from store.types import UTCDateTime


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


def _of_patients(query: Select, column: ColumnElement[int], patient_pk: int | None,
                 patient_pks: Collection[int] | None) -> Select:
    """The query narrowed to one patient or to a batch of patients (the report's pages)."""
    if patient_pk is not None:
        query = query.where(column == patient_pk)
    if patient_pks is not None:
        query = query.where(column.in_(list(patient_pks)))
    return query


def _rows(session: Session, query: Select, options: dict | None = None) -> Any:
    """Plain Core rows on the session's connection: these queries select columns, not
    entities, and skipping the ORM's row loading halves their Python cost per row."""
    return session.connection().execute(query, execution_options=options or {})


def _not_voided() -> ColumnElement[bool]:
    return TimeEntry.voided_at.is_(None)


def _counted() -> ColumnElement[bool]:
    return and_(_not_voided(), TimeEntry.staff_role.in_(ROLES_THAT_COUNT))


def _enrolled_in(first: date, last: date, end: datetime | None = None) -> ColumnElement[bool]:
    """Enrolled on any day of the month; with no enrolment date, any month with entries.

    With `end` (the month's end instant), a patient with no enrolment date who existed by then
    and had not ended also counts, entries or not: reminders must see the untouched ones.
    """
    live_entries = func.count(case((_not_voided(), TimeEntry.id)))
    if end is not None:
        return or_(_enrolled_in(first, last), and_(
            Patient.enrolled_on.is_(None), Patient.created_at < end,
            or_(Patient.ended_on.is_(None), Patient.ended_on >= first),
        ))
    return or_(
        and_(
            Patient.enrolled_on.is_not(None),
            Patient.enrolled_on <= last,
            or_(Patient.ended_on.is_(None), Patient.ended_on >= first),
        ),
        and_(Patient.enrolled_on.is_(None), live_entries > 0),
    )


def month_totals(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    first_day: date,
    last_day: date,
    patient_pk: int | None = None,
    with_unentered: bool = False,
    page_size: int | None = None,
) -> Iterator[PatientMonthTotals]:
    """Totals for one patient (any enrolment) or for every patient enrolled in the month
    (`with_unentered`: also those with no enrolment date and no entry yet).

    With `page_size`, rows come from the database that many at a time (a server-side cursor
    on PostgreSQL), so a large clinic is never fetched whole.
    """
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
        .outerjoin(entry, and_(
            entry.patient_id == Patient.id,
            entry.started_at >= start,
            entry.started_at < end,
        ))
        .group_by(Patient.id)
        .order_by(Patient.clinic_key)
    )
    if patient_pk is not None:
        query = query.where(Patient.id == patient_pk)
    else:
        query = query.having(_enrolled_in(first_day, last_day,
                                          end if with_unentered else None))
    options = {"yield_per": page_size} if page_size else {}
    for row in _rows(session, query, options):
        yield PatientMonthTotals(*row[:9], int(row[9]), int(row[10]), int(row[11]), row[12],
                                 int(row[13]), int(row[14]))


def overlapping_entries(
    session: Session, *, start: datetime, end: datetime, patient_pk: int | None = None,
    patient_pks: Collection[int] | None = None,
) -> list[tuple[int, int, int]]:
    """(patient pk, entry id, overlapped entry id) for flagged entries in the month, while
    both entries stand: voiding either one settles the overlap."""
    other = aliased(TimeEntry)
    query = select(TimeEntry.patient_id, TimeEntry.id, TimeEntry.overlaps_entry_id).join(
        other, and_(other.id == TimeEntry.overlaps_entry_id,
                    other.voided_at.is_(None))
    ).where(
        _not_voided(),
        TimeEntry.overlaps_entry_id.is_not(None),
        TimeEntry.started_at >= start,
        TimeEntry.started_at < end,
    )
    query = _of_patients(query, TimeEntry.patient_id, patient_pk, patient_pks)
    return [(int(a), int(b), int(c)) for a, b, c in _rows(session, query)]


@dataclass(frozen=True)
class StaffSeconds:
    patient_pk: int
    slack_user_id: str
    name: str
    role: str  # the role written on the entries (a later role change never rewrites it)
    seconds: int


def staff_seconds(
    session: Session, *, start: datetime, end: datetime, patient_pk: int | None = None,
    patient_pks: Collection[int] | None = None,
) -> list[StaffSeconds]:
    """Who furnished how many non-voided seconds per patient in the month (one GROUP BY)."""
    query = (
        select(TimeEntry.patient_id, Staff.slack_user_id, Staff.name, TimeEntry.staff_role,
               func.sum(TimeEntry.duration_seconds))
        .join(Staff, Staff.id == TimeEntry.staff_id)
        .where(_not_voided(), TimeEntry.started_at >= start, TimeEntry.started_at < end)
        .group_by(TimeEntry.patient_id, Staff.slack_user_id, Staff.name, TimeEntry.staff_role)
        .order_by(TimeEntry.patient_id, func.sum(TimeEntry.duration_seconds).desc())
    )
    query = _of_patients(query, TimeEntry.patient_id, patient_pk, patient_pks)
    return [StaffSeconds(int(p), s, n, r, int(t)) for p, s, n, r, t in _rows(session, query)]


def live_starts(
    session: Session, *, start: datetime, end: datetime, patient_pk: int | None = None,
    patient_pks: Collection[int] | None = None,
) -> list[tuple[int, datetime]]:
    """(patient pk, start) of every counted live interaction in the month, each patient's
    in time order."""
    query = select(TimeEntry.patient_id, TimeEntry.started_at).where(
        _counted(), TimeEntry.live.is_(True),
        TimeEntry.started_at >= start, TimeEntry.started_at < end,
    ).order_by(TimeEntry.patient_id, TimeEntry.started_at)  # the month index's own order
    query = _of_patients(query, TimeEntry.patient_id, patient_pk, patient_pks)
    return [(int(p), s) for p, s in _rows(session, query)]


# Call states the billing office must look at before billing a month (see service/calls.py).
CALL_STATES_TO_REVIEW = ("unclaimed", "unconfirmed", "unmatched", "after_close")


def calls_to_review(
    session: Session, *, start: datetime, end: datetime, patient_pk: int | None = None
) -> list[tuple[int | None, int, str]]:
    """(patient pk or None, call pk, state) of the month's calls that are not settled."""
    query = select(Call.patient_id, Call.id, Call.state).where(
        Call.state.in_(CALL_STATES_TO_REVIEW),
        Call.started_at >= start, Call.started_at < end,
    ).order_by(Call.id)
    if patient_pk is not None:
        query = query.where(Call.patient_id == patient_pk)
    return [(p, int(c), s) for p, c, s in _rows(session, query)]
