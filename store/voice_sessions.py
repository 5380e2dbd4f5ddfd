"""Voice-menu sessions (issue 15): one row per staff menu call, keyed by CallSid.

A turn reads its session locked (FOR UPDATE on PostgreSQL; SQLite writers are serialised
by BEGIN IMMEDIATE), so a retried turn racing its first delivery waits and then finds the
turn answered.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection, Row

from store.tables import staff, voice_sessions

S = voice_sessions.c
_SESSION = (select(voice_sessions, staff.c.slack_user_id, staff.c.active)
            .join(staff, staff.c.id == S.staff_id))
_CURRENT = _SESSION.where(S.call_sid == bindparam("sid"))
_BY_SID = _CURRENT.with_for_update(of=voice_sessions)
_INSERT = insert(voice_sessions)
_SAVE = (update(voice_sessions).where(S.call_sid == bindparam("sid"))
         .values(turn=bindparam("turn"), step=bindparam("step"), tries=bindparam("tries"),
                 data=bindparam("data"), reply=bindparam("reply"),
                 expires_at=bindparam("expires_at")))
_DROP_EXPIRED = delete(voice_sessions).where(S.expires_at < bindparam("before"))


def locked(conn: Connection, call_sid: str) -> Row[Any] | None:
    """The session of this call with its staff member's Slack id and `active`, locked."""
    return conn.execute(_BY_SID, {"sid": call_sid}).first()


def current(conn: Connection, call_sid: str) -> Row[Any] | None:
    """The session of this call, read without a lock (what a busy turn repeats)."""
    return conn.execute(_CURRENT, {"sid": call_sid}).first()


def insert_session(conn: Connection, *, call_sid: str, staff_pk: int, step: str,
                   data: dict[str, Any], reply: dict[str, Any], now: datetime,
                   expires_at: datetime) -> None:
    """A new session at turn 0 (a racing twin breaks the unique CallSid: StoreConflict)."""
    conn.execute(_INSERT, {"call_sid": call_sid, "staff_id": staff_pk, "turn": 0,
                           "step": step, "tries": 0, "data": data, "reply": reply,
                           "created_at": now, "expires_at": expires_at})


def save(conn: Connection, call_sid: str, *, turn: int, step: str, tries: int,
         data: dict[str, Any], reply: dict[str, Any], expires_at: datetime) -> None:
    """The session after one answered turn."""
    conn.execute(_SAVE, {"sid": call_sid, "turn": turn, "step": step, "tries": tries,
                         "data": data, "reply": reply, "expires_at": expires_at})


def drop_expired(conn: Connection, before: datetime) -> None:
    """Forget sessions that expired before `before` (state between turns, not a record)."""
    conn.execute(_DROP_EXPIRED, {"before": before})
