"""The audit trail's statements: one row per write, in the writer's own transaction, each
row chained to the one before it (store/audit_chain.py), and what `audit verify` reads.

Appends take turns. Two writers that both read "the last record is #41" would both link to
it and fork the chain. On PostgreSQL (READ COMMITTED) a subquery in the INSERT does not
prevent that: each INSERT's snapshot is taken when it starts, so both see #41 and neither
sees the other's uncommitted row. So the first append of a transaction takes a
transaction-level advisory lock (released at commit or rollback) and only then reads the
last record, in a statement that starts after the lock is held and so sees every append
committed before it. SQLite needs no lock: write transactions start with BEGIN IMMEDIATE,
so writers already run one at a time. The unique index on `prev_hash` is the backstop: a
second record linking to the same one is refused, never stored.

The last record is read once per transaction: it is kept on the connection (`conn.info`)
with the transaction it belongs to, and each append moves it on. Ids are given here (the
last id + 1), so the chain's order is the id order and the id can be hashed before insert.
Cost on the hot path: +1 statement on SQLite (the read), +2 on PostgreSQL (lock, read).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, text, update
from sqlalchemy.engine import Connection

from store.audit_chain import json_safe, record_hash
from store.tables import audit_events, month_close_events, time_entries

A = audit_events.c

# The first key of the two-key advisory lock: "audt" in ASCII (the month lock is "mont",
# store/closes.py); one chain, so the second key is 0.
CHAIN_LOCK_NAMESPACE = 0x61756474
_LOCK = text("SELECT pg_advisory_xact_lock(:namespace, 0)")
_LAST = select(A.id, A.hash).order_by(A.id.desc()).limit(1)
_APPEND = insert(audit_events)
_CACHE_KEY = "rpm_audit_head"
BATCH = 1000  # rows per statement when walking a table


@dataclass(frozen=True)
class AuditHead:
    """The newest record of the chain: a packet or a close prints its hash."""

    id: int
    hash: str


def _last(conn: Connection) -> AuditHead | None:
    row = conn.execute(_LAST).first()
    return AuditHead(row.id, row.hash) if row is not None else None


def _cached(conn: Connection) -> tuple[bool, AuditHead | None]:
    """(known, head) for this transaction: known once an append read or moved it."""
    held = conn.info.get(_CACHE_KEY)
    if held is not None and held[0] is conn.get_transaction():
        return True, held[1]
    return False, None


def _locked_head(conn: Connection) -> AuditHead | None:
    """The head, this transaction's to move: read once, after the lock (module docstring)."""
    known, head = _cached(conn)
    if known:
        return head
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK, {"namespace": CHAIN_LOCK_NAMESPACE})
    return _last(conn)


def head(conn: Connection) -> AuditHead | None:
    """The chain's newest record (None: no record yet); in a transaction that appended,
    its own newest record."""
    known, cached = _cached(conn)
    return cached if known else _last(conn)


def append(conn: Connection, *, at: datetime, actor: str, action: str, entity: str,
           entity_id: str, before: dict[str, Any] | None,
           after: dict[str, Any] | None) -> AuditHead:
    """One audit row, chained to the last; `before`/`after` already masked and JSON-safe
    (service/audit.py). The new head."""
    previous = _locked_head(conn)
    values: dict[str, Any] = {
        "id": previous.id + 1 if previous is not None else 1, "at": at, "actor": actor,
        "action": action, "entity": entity, "entity_id": entity_id,
        "before": json_safe(before), "after": json_safe(after),
        "prev_hash": previous.hash if previous is not None else None}
    values["hash"] = record_hash(values)
    conn.execute(_APPEND, values)
    new = AuditHead(values["id"], values["hash"])
    conn.info[_CACHE_KEY] = (conn.get_transaction(), new)
    return new


# -- what verify reads ---------------------------------------------------------------------

_PAGE = (select(audit_events).where(A.id > bindparam("after"))
         .order_by(A.id).limit(BATCH))
_HISTORY = (select(audit_events)
            .where(A.entity == bindparam("entity"), A.entity_id == bindparam("entity_id"))
            .order_by(A.id))
_ENTRY_PAGE = (select(time_entries).where(time_entries.c.id > bindparam("after"))
               .order_by(time_entries.c.id).limit(BATCH))
_CLOSE_HEADS = (select(month_close_events.c.id, month_close_events.c.month,
                       month_close_events.c.audit_head)
                .where(month_close_events.c.audit_head.is_not(None))
                .order_by(month_close_events.c.id))
_STAMP_CLOSE = (update(month_close_events)
                .where(month_close_events.c.id == bindparam("event_id"))
                .values(audit_head=bindparam("head")))


def _pages(conn: Connection, statement: Any) -> Iterator[Row[Any]]:
    """Every row of `statement` in id order, BATCH at a time (keyset pages): a big table is
    never held in memory."""
    after = 0
    while True:
        rows = conn.execute(statement, {"after": after}).all()
        yield from rows
        if len(rows) < BATCH:
            return
        after = rows[-1].id


def records(conn: Connection) -> Iterator[Row[Any]]:
    """Every audit record in id order (the chain's order), streamed."""
    return _pages(conn, _PAGE)


def history(conn: Connection, entity: str, entity_id: str) -> list[Row[Any]]:
    """One entity's audit records, oldest first."""
    return list(conn.execute(_HISTORY, {"entity": entity, "entity_id": entity_id}).all())


def entries(conn: Connection) -> Iterator[Row[Any]]:
    """Every time entry's current row in id order, streamed (the cross-check's other side)."""
    return _pages(conn, _ENTRY_PAGE)


_HASH_AT = select(A.hash).where(A.id == bindparam("record_id"))


def hash_at(conn: Connection, record_id: int) -> str | None:
    """The hash record `record_id` carries now (None: no such record): a packet's printed
    head still in the chain, or the chain rewritten since."""
    found: str | None = conn.execute(_HASH_AT, {"record_id": record_id}).scalar()
    return found


def close_heads(conn: Connection) -> list[Row[Any]]:
    """Each month close that recorded the chain's head: (id, month, audit_head)."""
    return list(conn.execute(_CLOSE_HEADS).all())


def record_head_on_close(conn: Connection, event_id: int) -> AuditHead | None:
    """Write the chain's head (after the close's own record) onto the close event."""
    now = head(conn)
    conn.execute(_STAMP_CLOSE, {"event_id": event_id,
                                "head": now.hash if now is not None else None})
    return now
