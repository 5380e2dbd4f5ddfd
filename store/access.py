"""The access log's statements: who viewed which patient page, packet, report or export.

Each view is an audit record (store/audit.py: appended in the viewer's write transaction and
chained like every other), entity "access", entity_id the patient's clinic id ("-" for a
month-wide view such as a report); `after` says what was viewed, for which month, through
which surface. Reading them is one indexed statement (ix_audit_events_entity).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from store.db import Conn
from store.tables import audit_events

A = audit_events.c
ENTITY = "access"
ACTION = "view"
MONTH_WIDE = "-"  # entity_id of a view that names no patient (a report, an export)


@dataclass(frozen=True)
class AccessRow:
    id: int
    at: datetime
    actor: str
    patient: str  # clinic id, or MONTH_WIDE
    after: dict[str, Any] | None


def views(conn: Conn, *, patient: str | None = None, actor: str | None = None,
          since: datetime | None = None, limit: int | None = None) -> list[AccessRow]:
    """Access records, newest first, narrowed by patient (clinic id), actor (any case) and
    instant; `limit`: the newest that many."""
    statement = (select(A.id, A.at, A.actor, A.entity_id, A.after)
                 .where(A.entity == ENTITY).order_by(A.id.desc()))
    if patient is not None:
        statement = statement.where(A.entity_id == patient)
    if actor is not None:
        statement = statement.where(func.lower(A.actor) == actor.lower())
    if since is not None:
        statement = statement.where(A.at >= since)
    if limit is not None:
        statement = statement.limit(limit)
    return [AccessRow(*row) for row in conn.execute(statement)]
