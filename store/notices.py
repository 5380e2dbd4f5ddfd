"""The call DMs' outbox (store/models.py Notice): queued in a call write's transaction, then
claimed, sent and marked by the scheduler leader (service/notices.py).

Every statement runs on the caller's transaction. Claiming reads lock their rows FOR UPDATE
SKIP LOCKED on PostgreSQL (two senders never take the same row; SQLite renders neither and
needs neither: its writers run one at a time, store/db.py).
"""

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection, Row

from store.tables import notices

NoticeRow = Row[Any]

PENDING, CLAIMED, SENT, FAILED, GAVE_UP = "pending", "claimed", "sent", "failed", "gave_up"

_ADD = insert(notices)
_DUE = (select(notices)
        .where(or_(notices.c.state == PENDING,
                   and_(notices.c.state == FAILED, notices.c.claimed_at <= bindparam("retry")),
                   and_(notices.c.state == CLAIMED, notices.c.claimed_at <= bindparam("stale"))))
        .order_by(notices.c.id).limit(bindparam("limit"))
        .with_for_update(skip_locked=True))
_BY_PK_LOCKED = select(notices).where(notices.c.id == bindparam("pk")).with_for_update()
_ONE = update(notices).where(notices.c.id == bindparam("pk"))
_CLAIM = _ONE.values(state=CLAIMED, attempts=notices.c.attempts + 1,
                     claimed_at=bindparam("now"), claimed_by=bindparam("actor")
                     ).returning(*notices.c)
_FIRST_CLAIM = _ONE.where(notices.c.first_claimed_at.is_(None)).values(
    first_claimed_at=bindparam("now"))
_SENT = _ONE.values(state=SENT, sent_at=bindparam("now"), last_error=None,
                    slack_channel=bindparam("channel"),
                    slack_ts=bindparam("ts")).returning(*notices.c)
_FAILED = _ONE.values(state=bindparam("state"), last_error=bindparam("error")
                      ).returning(*notices.c)
_UNSENT = select(notices).where(notices.c.state != SENT).order_by(notices.c.id)


def add(conn: Connection, **values: Any) -> None:
    conn.execute(_ADD, values)


def due(conn: Connection, *, retry_before: datetime, stale_before: datetime,
        limit: int) -> list[NoticeRow]:
    """Notices to (re)try now, oldest first, locked: pending ones, failed ones whose last try
    began before `retry_before`, and claims older than `stale_before` (their process died)."""
    return list(conn.execute(_DUE, {"retry": retry_before, "stale": stale_before,
                                    "limit": limit}).all())


def claim(conn: Connection, pk: int, *, now: datetime, actor: str) -> NoticeRow:
    """This process holds the notice from `now` (one more attempt)."""
    conn.execute(_FIRST_CLAIM, {"pk": pk, "now": now})
    return conn.execute(_CLAIM, {"pk": pk, "now": now, "actor": actor}).one()


def locked(conn: Connection, pk: int) -> NoticeRow | None:
    return conn.execute(_BY_PK_LOCKED, {"pk": pk}).first()


def mark_sent(conn: Connection, pk: int, *, now: datetime, channel: str,
              ts: str) -> NoticeRow:
    return conn.execute(_SENT, {"pk": pk, "now": now, "channel": channel, "ts": ts}).one()


def mark_failed(conn: Connection, pk: int, *, error: str, give_up: bool) -> NoticeRow:
    return conn.execute(_FAILED, {"pk": pk, "error": error,
                                  "state": GAVE_UP if give_up else FAILED}).one()


def unsent(conn: Connection) -> list[NoticeRow]:
    """Every notice not sent yet (pending, claimed, failed, given up), oldest first."""
    return list(conn.execute(_UNSENT).all())
