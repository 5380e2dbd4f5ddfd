"""The audit trail's statements: one row per write, in the writer's own transaction."""

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from store.tables import audit_events

_APPEND = insert(audit_events)


def append(conn: Connection, *, at: datetime, actor: str, action: str, entity: str,
           entity_id: str, before: dict[str, Any] | None,
           after: dict[str, Any] | None) -> None:
    """One audit row; `before`/`after` already masked and JSON-safe (service/audit.py)."""
    conn.execute(_APPEND, {"at": at, "actor": actor, "action": action, "entity": entity,
                           "entity_id": entity_id, "before": before, "after": after})
