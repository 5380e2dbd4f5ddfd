"""Audit events ride in the same transaction as the write they describe."""

from datetime import datetime
from typing import Any

from service.phones import mask_phone
from store import audit as audit_rows
from store.db import Conn

_PHONE_KEYS = ("phones", "caregiver_phones", "staff_phones")


def masked(snapshot: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of `snapshot` with every phone number masked and values JSON-safe."""
    if snapshot is None:
        return None
    clean: dict[str, Any] = {}
    for key, value in snapshot.items():
        if key in _PHONE_KEYS:
            clean[key] = [mask_phone(v) for v in value]
        elif hasattr(value, "isoformat"):
            clean[key] = value.isoformat()
        else:
            clean[key] = value
    return clean


def record(
    conn: Conn,
    *,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    audit_rows.append(conn, at=at, actor=actor, action=action, entity=entity,
                      entity_id=str(entity_id), before=masked(before), after=masked(after))
