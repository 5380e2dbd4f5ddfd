"""Auditor grants and the dashboard's signing key: their statements (issue 24)."""

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.engine import Connection

from store.tables import auditor_grants, dashboard_keys

G = auditor_grants.c
K = dashboard_keys.c

_INSERT = insert(auditor_grants).returning(G.id)
_BY_ID = select(auditor_grants).where(G.id == bindparam("grant_id"))
_ALL = select(auditor_grants).order_by(G.id)
# single use: the one UPDATE that may set link_used_at, only while it is unset
_USE_LINK = (update(auditor_grants)
             .where(G.id == bindparam("grant_id"), G.link_used_at.is_(None),
                    G.revoked_at.is_(None))
             .values(link_used_at=bindparam("at")))
_REVOKE = (update(auditor_grants)
           .where(G.id == bindparam("grant_id"), G.revoked_at.is_(None))
           .values(revoked_at=bindparam("at"), revoked_by=bindparam("by")))
_KEY = select(K.secret).where(K.purpose == bindparam("purpose"))
_ADD_KEY = insert(dashboard_keys)


def add(conn: Connection, *, name: str, first_month: str, last_month: str,
        patients: list[str] | None, expires_at: datetime, link_hash: str,
        created_at: datetime, created_by: str) -> int:
    grant_id: int = conn.execute(_INSERT, {
        "name": name, "first_month": first_month, "last_month": last_month,
        "patients": patients, "expires_at": expires_at, "link_hash": link_hash,
        "created_at": created_at, "created_by": created_by}).scalar_one()
    return grant_id


def by_id(conn: Connection, grant_id: int) -> Row[Any] | None:
    return conn.execute(_BY_ID, {"grant_id": grant_id}).first()


def every(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(_ALL))


def use_link(conn: Connection, grant_id: int, at: datetime) -> bool:
    """Mark the grant's link used; False when it already was (or the grant is revoked)."""
    return conn.execute(_USE_LINK, {"grant_id": grant_id, "at": at}).rowcount == 1


def revoke(conn: Connection, grant_id: int, at: datetime, by: str) -> bool:
    return conn.execute(_REVOKE, {"grant_id": grant_id, "at": at, "by": by}).rowcount == 1


def key(conn: Connection, purpose: str) -> str | None:
    found: str | None = conn.execute(_KEY, {"purpose": purpose}).scalar()
    return found


def add_key(conn: Connection, purpose: str, secret: str, at: datetime) -> None:
    conn.execute(_ADD_KEY, {"purpose": purpose, "secret": secret, "created_at": at})
