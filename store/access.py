"""The access log's statements: who viewed which patient page, packet, report or export.

Each view is an audit record (store/audit.py: appended in the viewer's write transaction and
chained like every other), entity "access", entity_id the patient's clinic id ("-" for a
month-wide view such as a report); `after` says what was viewed, for which month, through
which surface. A signed-in viewer's ask outside their scope is a record too, action
"refused" (entity_id the patient it named, or "?" when it named none). Reading them is one
indexed statement (ix_audit_events_entity).
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
REFUSED = "refused"  # a signed-in viewer asked for something outside their scope
MONTH_WIDE = "-"  # entity_id of a view that names no patient (a report, an export)
UNKNOWN_PATIENT = "?"  # entity_id of a refused ask naming no patient (never what was typed)


@dataclass(frozen=True)
class AccessRow:
    id: int
    at: datetime
    actor: str
    action: str  # ACTION or REFUSED
    patient: str  # clinic id, MONTH_WIDE or UNKNOWN_PATIENT
    after: dict[str, Any] | None


def views(conn: Conn, *, patient: str | None = None, actor: str | None = None,
          since: datetime | None = None, limit: int | None = None,
          refused: bool | None = None) -> list[AccessRow]:
    """Access records, newest first, narrowed by patient (clinic id), actor (any case),
    instant and outcome (`refused`: True, refusals only; False, views only; None, both);
    `limit`: the newest that many."""
    statement = (select(A.id, A.at, A.actor, A.action, A.entity_id, A.after)
                 .where(A.entity == ENTITY).order_by(A.id.desc()))
    if refused is not None:
        statement = statement.where(A.action == (REFUSED if refused else ACTION))
    if patient is not None:
        statement = statement.where(A.entity_id == patient)
    if actor is not None:
        statement = statement.where(func.lower(A.actor) == actor.lower())
    if since is not None:
        statement = statement.where(A.at >= since)
    if limit is not None:
        statement = statement.limit(limit)
    return [AccessRow(*row) for row in conn.execute(statement)]
