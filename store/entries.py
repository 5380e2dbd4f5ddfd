"""Writes to time entries that must hold under concurrent requests on every backend, and
the overlap check each clock-timed write makes."""

from datetime import datetime

from sqlalchemy import bindparam, update
from sqlmodel import Session, select

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


# Run on every clock-timed log and recorded call: built once, run with bound values.
_FIRST_CLOCK_TIMED_OVERLAP = (
    select(TimeEntry)
    .where(
        TimeEntry.staff_id == bindparam("staff"),
        TimeEntry.voided_at.is_(None),  # type: ignore[union-attr]
        TimeEntry.clock_timed.is_(True),  # type: ignore[attr-defined]
        TimeEntry.started_at < bindparam("end"),
        TimeEntry.ended_at > bindparam("start"),
    )
    .order_by(TimeEntry.started_at)  # type: ignore[arg-type]
    .limit(1)
)


def first_clock_timed_overlap(session: Session, *, staff_pk: int, start: datetime,
                              end: datetime) -> TimeEntry | None:
    """The staff member's earliest standing clock-timed entry sharing any of [start, end):
    estimated entries (which end "now" by convention) are never an overlap."""
    return session.exec(_FIRST_CLOCK_TIMED_OVERLAP,
                        params={"staff": staff_pk, "start": start, "end": end}).first()
