"""Reminder claims: one row per (recipient, day), claimed BEFORE a message is sent.

Every statement runs on the caller's transaction. Rows come back as Rows with the columns of
store/models.py ReminderClaim (attribute access). Locking reads are FOR UPDATE on PostgreSQL;
SQLite renders no FOR UPDATE and needs none (its writers run one at a time: store/db.py).
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Row

from store.tables import reminder_claims as claims
from store.tables import staff

ClaimRow = Row[Any]

_OF_DAY = select(claims).where(claims.c.day == bindparam("day")).order_by(claims.c.id)
_FOR = select(claims).where(claims.c.recipient == bindparam("recipient"),
                            claims.c.day == bindparam("day"))
_FOR_LOCKED = _FOR.with_for_update()
_BY_PK_LOCKED = select(claims).where(claims.c.id == bindparam("pk")).with_for_update()
_ADD = insert(claims).returning(*claims.c)
_ONE = update(claims).where(claims.c.id == bindparam("pk"))
_TAKE_OVER = _ONE.values(state="claimed", attempts=claims.c.attempts + 1,
                         claimed_at=bindparam("now"), claimed_by=bindparam("actor"),
                         patients=bindparam("patients")).returning(*claims.c)
_SENT = _ONE.values(state="sent", sent_at=bindparam("now"), last_error=None,
                    slack_channel=bindparam("channel"),
                    slack_ts=bindparam("ts")).returning(*claims.c)
_FAILED = _ONE.values(state="failed", last_error=bindparam("error")).returning(*claims.c)
_DONE = _ONE.values(state="sent", sent_at=bindparam("now")).returning(*claims.c)
_ACTIVE_STAFF = select(staff.c.slack_user_id).where(staff.c.active)


def of_day(conn: Connection, day: date) -> list[ClaimRow]:
    return list(conn.execute(_OF_DAY, {"day": day}).all())


def claim_for(conn: Connection, recipient: str, day: date, *,
              lock: bool = True) -> ClaimRow | None:
    """The claim of (recipient, day), locked for the rest of the transaction by default."""
    return conn.execute(_FOR_LOCKED if lock else _FOR,
                        {"recipient": recipient, "day": day}).first()


def locked(conn: Connection, pk: int) -> ClaimRow | None:
    return conn.execute(_BY_PK_LOCKED, {"pk": pk}).first()


def add(conn: Connection, **values: Any) -> ClaimRow:
    """A new claim (a second one for the same (recipient, day) breaks the unique rule:
    the transaction then fails with StoreConflict)."""
    return conn.execute(_ADD, values).one()


def take_over(conn: Connection, pk: int, *, now: datetime, actor: str,
              patients: int) -> ClaimRow:
    """This process holds the claim from `now` (one more attempt)."""
    return conn.execute(_TAKE_OVER, {"pk": pk, "now": now, "actor": actor,
                                     "patients": patients}).one()


def mark_sent(conn: Connection, pk: int, *, now: datetime, channel: str,
              ts: str) -> ClaimRow:
    return conn.execute(_SENT, {"pk": pk, "now": now, "channel": channel, "ts": ts}).one()


def mark_failed(conn: Connection, pk: int, error: str) -> ClaimRow:
    return conn.execute(_FAILED, {"pk": pk, "error": error}).one()


def mark_done(conn: Connection, pk: int, now: datetime) -> ClaimRow:
    return conn.execute(_DONE, {"pk": pk, "now": now}).one()


def active_staff_ids(conn: Connection) -> set[str]:
    """Slack ids of the active staff (who may be sent a DM)."""
    return set(conn.execute(_ACTIVE_STAFF).scalars())

