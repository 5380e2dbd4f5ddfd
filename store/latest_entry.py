"""The entry a person saved last: what `/rpm undo` may reverse."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlmodel import Session

from store.models import TimeEntry


@dataclass(frozen=True)
class AuthoredEntry:
    """The author's latest entry, voided or not: a voided one means it was already undone
    (or voided), so undo must not reach past it to an older entry."""

    id: int
    created_at: datetime
    voided: bool


_LATEST_AUTHORED = (
    select(TimeEntry.id, TimeEntry.created_at, TimeEntry.voided_at)
    .where(TimeEntry.staff_id == bindparam("staff"),
           TimeEntry.created_by == bindparam("author"))
    .order_by(TimeEntry.created_at.desc(), TimeEntry.id.desc())  # type: ignore[attr-defined,union-attr]
    .limit(1)
)


def latest_authored(session: Session, *, staff_pk: int, author: str) -> AuthoredEntry | None:
    """The most recent entry the staff member saved themselves (not one Twilio recorded for
    them, not one an operator typed in their name)."""
    row = session.execute(_LATEST_AUTHORED, {"staff": staff_pk, "author": author}).first()
    if row is None:
        return None
    return AuthoredEntry(int(row[0]), row[1], row[2] is not None)
