"""Writes to time entries that must hold under concurrent requests on every backend."""

from datetime import datetime

from sqlalchemy import bindparam, update
from sqlmodel import Session

from store.models import TimeEntry

# Conditional: of concurrent voids only the first matches a standing row. On PostgreSQL the
# others wait for its row lock, then re-check `voided_at IS NULL` against the committed row
# and match nothing; on SQLite writers are serialized (BEGIN IMMEDIATE) to the same effect.
_VOID_IF_STANDING = (
    update(TimeEntry)
    .where(TimeEntry.id == bindparam("entry_id"),
           TimeEntry.voided_at.is_(None))  # type: ignore[union-attr]
    .values(voided_at=bindparam("at"), voided_by=bindparam("by"),
            void_reason=bindparam("reason"),
            void_amendment_reason=bindparam("why_amended"))
)


def void_if_standing(session: Session, entry_id: int, *, at: datetime, by: str,
                     reason: str, amendment_reason: str | None = None) -> bool:
    """Void the entry unless it already is; False when another void got there first."""
    result = session.connection().execute(
        _VOID_IF_STANDING, {"entry_id": entry_id, "at": at, "by": by, "reason": reason,
                           "why_amended": amendment_reason})
    return result.rowcount == 1  # type: ignore[attr-defined]
