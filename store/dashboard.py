"""Queries behind the web dashboard: a patient's audit history.

The month chart has no query of its own: it is the month query's tally cut at each clinic
midnight (store.month_totals with `day_cuts`), so it counts exactly what the report counts.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, or_, select

from store.db import Conn
from store.tables import audit_events, time_entries

_a = audit_events
# Audit events of the patient and of every entry ever logged for them, oldest first.
_PATIENT_AUDIT = (
    select(_a.c.id, _a.c.at, _a.c.actor, _a.c.action, _a.c.entity, _a.c.entity_id,
           _a.c.before, _a.c.after)
    .where(or_(
        and_(_a.c.entity == "patient", _a.c.entity_id == bindparam("clinic_id")),
        and_(_a.c.entity == "entry", _a.c.entity_id.in_(
            select(cast(time_entries.c.id, String)).where(
                time_entries.c.patient_id == bindparam("patient_pk")))),
    ))
    .order_by(_a.c.at, _a.c.id)
)


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


def patient_audit(conn: Conn, patient_pk: int, clinic_id: str) -> list[AuditRow]:
    """Audit events of the patient and of every entry ever logged for them, oldest first."""
    return [AuditRow(*row) for row in conn.execute(
        _PATIENT_AUDIT, {"patient_pk": patient_pk, "clinic_id": clinic_id})]
