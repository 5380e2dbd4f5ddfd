"""Queries behind the web dashboard: a patient's audit history.

The month chart has no query of its own: it is the month query's tally cut at each clinic
midnight (store.month_totals with `day_cuts`), so it counts exactly what the report counts.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, or_, select
from sqlmodel import Session

from store.models import AuditEvent, TimeEntry


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
