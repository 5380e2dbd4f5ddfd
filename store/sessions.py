"""Signed-in dashboard sessions, server-side (migration 0020): their statements.

A row per session, keyed by the SHA-256 of the random id its signed cookie carries; a
session ends once (`ended_at` set by a conditional UPDATE), and an ended one is refused
whatever copy of its cookie comes back.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Row

from store.tables import dashboard_sessions

S = dashboard_sessions.c

_INSERT = insert(dashboard_sessions).returning(S.id)
_BY_HASH = select(S.id, S.kind, S.subject, S.ended_at).where(S.sid_hash == bindparam("h"))
_END = (update(dashboard_sessions)
        .where(S.sid_hash == bindparam("h"), S.ended_at.is_(None))
        .values(ended_at=bindparam("at"), ended_by=bindparam("by"), ended_why=bindparam("why"))
        .returning(S.id))
_LIVE_OF = (select(S.id).where(S.kind == bindparam("of_kind"),
                               S.subject == bindparam("of_subject"), S.ended_at.is_(None))
            .order_by(S.id))
_END_OF = (update(dashboard_sessions)
           .where(S.kind == bindparam("of_kind"), S.subject == bindparam("of_subject"),
                  S.ended_at.is_(None))
           .values(ended_at=bindparam("at"), ended_by=bindparam("by"),
                   ended_why=bindparam("why")))


def add(conn: Connection, *, sid_hash: str, kind: str, subject: str, at: datetime) -> int:
    pk: int = conn.execute(_INSERT, {"sid_hash": sid_hash, "kind": kind, "subject": subject,
                                     "started_at": at}).scalar_one()
    return pk


def by_hash(conn: Connection, sid_hash: str) -> Row[Any] | None:
    """The session (id, kind, subject, ended_at) whose id hashes to `sid_hash`, or None."""
    return conn.execute(_BY_HASH, {"h": sid_hash}).first()


def end(conn: Connection, sid_hash: str, *, at: datetime, by: str, why: str) -> int | None:
    """End the session now; its row id, or None when there is none or it had ended."""
    pk: int | None = conn.execute(_END, {"h": sid_hash, "at": at, "by": by,
                                         "why": why}).scalar()
    return pk


def end_all(conn: Connection, *, kind: str, subject: str, at: datetime, by: str,
            why: str) -> list[int]:
    """End every live session of one signed-in subject; the ids of those ended."""
    params = {"of_kind": kind, "of_subject": subject}
    ids = [int(pk) for pk in conn.execute(_LIVE_OF, params).scalars()]
    if ids:
        conn.execute(_END_OF, params | {"at": at, "by": by, "why": why})
    return ids
