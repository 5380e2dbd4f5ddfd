"""Queries behind the web dashboard: per-day totals for the month chart, a patient's audit.

The clinic day of an entry is decided in SQL by comparing `started_at` with the UTC instants
at which each clinic day starts (computed by the caller, DST-safe), so the same query works
on SQLite, which has no time zones, and on PostgreSQL.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, case, cast, func, or_, select
from sqlmodel import Session

from billing.codes import ROLES_THAT_COUNT
from store.models import AuditEvent, Patient, TimeEntry


@dataclass(frozen=True)
class PatientDayTotals:
    """One patient's counted time and live interactions on one clinic day (1-based)."""

    patient_id: str
    day: int
    counted_seconds: int
    live_interactions: int


def daily_totals(session: Session, *, day_starts: Sequence[datetime],
                 end: datetime) -> list[PatientDayTotals]:
    """Counted seconds and live interactions per patient and clinic day, in ONE query.

    `day_starts[i]` is the UTC instant at which day i+1 of the month starts in the clinic
    zone; `end` is the start of the next month. Only counted time (not voided, by a role
    that counts) is summed, as in the month totals.
    """
    assert len(day_starts) >= 2, "a month has at least 28 days"
    counted = and_(TimeEntry.voided_at.is_(None), TimeEntry.staff_role.in_(ROLES_THAT_COUNT))
    day = case(*[(TimeEntry.started_at < bound, index + 1)
                 for index, bound in enumerate(day_starts[1:])], else_=len(day_starts))
    # The day is computed in a subquery so GROUP BY names a column, not an expression with
    # bind parameters (PostgreSQL would not match the two copies of the parameters).
    per_entry = (
        select(
            Patient.clinic_id.label("patient_id"), day.label("day"),
            TimeEntry.duration_seconds.label("seconds"),
            case((TimeEntry.live.is_(True), 1), else_=0).label("live"),
        )
        .select_from(TimeEntry)
        .join(Patient, Patient.id == TimeEntry.patient_id)
        .where(counted, TimeEntry.started_at >= day_starts[0], TimeEntry.started_at < end)
        .subquery()
    )
    query = (
        select(per_entry.c.patient_id, per_entry.c.day, func.sum(per_entry.c.seconds),
               func.sum(per_entry.c.live))
        .group_by(per_entry.c.patient_id, per_entry.c.day)
        .order_by(per_entry.c.patient_id, per_entry.c.day)
    )
    return [PatientDayTotals(str(pid), int(d), int(secs), int(live))
            for pid, d, secs, live in session.execute(query)]


@dataclass(frozen=True)
class AuditRow:
    """An audit event as stored (phone numbers were masked when it was written)."""

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def patient_audit(session: Session, patient_pk: int, clinic_id: str) -> list[AuditRow]:
    """Audit events of the patient and of every entry ever logged for them, oldest first."""
    entry_ids = select(cast(TimeEntry.id, String)).where(TimeEntry.patient_id == patient_pk)
    query = (
        select(AuditEvent)
        .where(or_(
            and_(AuditEvent.entity == "patient", AuditEvent.entity_id == clinic_id),
            and_(AuditEvent.entity == "entry", AuditEvent.entity_id.in_(entry_ids)),
        ))
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return [AuditRow(e.id, e.at, e.actor, e.action, e.entity, e.entity_id, e.before, e.after)
            for (e,) in session.execute(query)]
