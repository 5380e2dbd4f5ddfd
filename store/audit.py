"""The audit trail's statements: one row per write, in the writer's own transaction, each
row chained to the one before it (store/audit_chain.py), and what `audit verify` reads.

Appends take turns. Two writers that both read "the last record is #41" would both link to
it and fork the chain. On PostgreSQL (READ COMMITTED) a subquery in the INSERT does not
prevent that: each INSERT's snapshot is taken when it starts, so both see #41 and neither
sees the other's uncommitted row. So the chain is written under a transaction-level advisory
lock (released at commit or rollback), and the last record is read only once the lock is
held, in a statement that starts after it and so sees every append committed before it.
SQLite needs no lock: write transactions start with BEGIN IMMEDIATE, so writers already run
one at a time. The unique index on `prev_hash` is the backstop: a second record linking to
the same one is refused, never stored.

When: a transaction's records are kept on the connection (`conn.info`, with the transaction
they belong to) and written together just before it commits (`flush`, called by
store.db.Database.write), or when the transaction asks for the head. So the chain's lock is
the last lock a writer takes and is held only while it commits: a writer never waits for a
month's lock (store/closes.py) while holding the chain's, so a month close, which takes the
month's lock first, cannot deadlock with it; and the last record is read once however many
records the transaction writes. Ids are given here (the last id + 1), so the chain's order
is the id order and the id is hashed before the insert.
Cost on the hot path: +1 statement on SQLite (the read), +2 on PostgreSQL (lock, read).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, event, insert, select, text, update
from sqlalchemy.engine import Connection

from store.audit_chain import json_safe, record_hash
from store.episodes import episodes_column
from store.patients import DETAIL_COLUMNS, DETAIL_FROM
from store.tables import (
    audit_events,
    month_close_events,
    month_close_lines,
    patients,
    staff,
    time_entries,
)

A = audit_events.c

# The first key of the two-key advisory lock: "audt" in ASCII (the month lock is "mont",
# store/closes.py); one chain, so the second key is 0.
CHAIN_LOCK_NAMESPACE = 0x61756474
_LOCK = text("SELECT pg_advisory_xact_lock(:namespace, 0)")
_LAST = select(A.id, A.hash).order_by(A.id.desc()).limit(1)
_APPEND = insert(audit_events)
_HEAD_KEY = "rpm_audit_head"  # (transaction, head): the head this transaction moved
_PENDING_KEY = "rpm_audit_pending"  # (transaction, [records]) not written yet
BATCH = 1000  # rows per statement when walking a table


@dataclass(frozen=True)
class AuditHead:
    """The newest record of the chain: a packet or a close prints its hash."""

    id: int
    hash: str


def _last(conn: Connection) -> AuditHead | None:
    row = conn.execute(_LAST).first()
    return AuditHead(row.id, row.hash) if row is not None else None


def _mine(conn: Connection, key: str) -> Any:
    """What this transaction keeps under `key` on the connection (None: nothing): conn.info
    outlives the transaction (it belongs to the pooled DBAPI connection)."""
    held = conn.info.get(key)
    if held is not None and held[0] is conn.get_transaction():
        return held[1]
    return None


def append(conn: Connection, *, at: datetime, actor: str, action: str, entity: str,
           entity_id: str, before: dict[str, Any] | None,
           after: dict[str, Any] | None) -> None:
    """One audit row, chained to the last when the transaction commits (module docstring);
    `before`/`after` already masked and JSON-safe (service/audit.py)."""
    pending = _mine(conn, _PENDING_KEY)
    if pending is None:
        pending = []
        conn.info[_PENDING_KEY] = (conn.get_transaction(), pending)
    pending.append({"at": at, "actor": actor, "action": action, "entity": entity,
                    "entity_id": entity_id, "before": json_safe(before),
                    "after": json_safe(after)})


def flush(conn: Connection) -> None:
    """Write this transaction's pending records, chained: under the chain's lock, after one
    read of the last record (once per transaction). Called just before commit."""
    pending = _mine(conn, _PENDING_KEY)
    if not pending:
        return
    previous = _mine(conn, _HEAD_KEY)
    if previous is None:
        if conn.dialect.name == "postgresql":
            conn.execute(_LOCK, {"namespace": CHAIN_LOCK_NAMESPACE})
        previous = _last(conn)
    rows = []
    for record in pending:
        values = record | {"id": previous.id + 1 if previous is not None else 1,
                           "prev_hash": previous.hash if previous is not None else None}
        values["hash"] = record_hash(values)
        rows.append(values)
        previous = AuditHead(values["id"], values["hash"])
    conn.execute(_APPEND, rows)
    pending.clear()
    conn.info[_HEAD_KEY] = (conn.get_transaction(), previous)


class UnwrittenAuditRecords(RuntimeError):
    """A transaction not opened by Database.write() appended audit records: its commit is
    refused rather than losing them (only write() writes them before committing)."""


def refuse_unwritten_records(engine: Any) -> None:
    """Install on `engine`: a commit with audit records still pending fails loudly."""
    @event.listens_for(engine, "commit")
    def _before_commit(conn: Connection) -> None:
        if _mine(conn, _PENDING_KEY):
            raise UnwrittenAuditRecords("audit records were appended in a transaction not "
                                        "opened by Database.write(); nothing was saved")


def head(conn: Connection) -> AuditHead | None:
    """The chain's newest record (None: no record yet); in a write transaction, its own
    records written first (so the head includes them), which takes the chain's lock until
    commit: a writer asks for it last (the month close does)."""
    flush(conn)
    mine = _mine(conn, _HEAD_KEY)
    return mine if mine is not None else _last(conn)


# -- what verify reads ---------------------------------------------------------------------

_RECORDS = select(audit_events).order_by(A.id).limit(BATCH)
_RECORDS_AFTER = _RECORDS.where(A.id > bindparam("after"))
_HISTORY = (select(audit_events)
            .where(A.entity == bindparam("entity"), A.entity_id == bindparam("entity_id"))
            .order_by(A.id))
_ENTRIES = select(time_entries).order_by(time_entries.c.id).limit(BATCH)
_ENTRIES_AFTER = _ENTRIES.where(time_entries.c.id > bindparam("after"))
_CLOSE_HEADS = (select(month_close_events.c.id, month_close_events.c.month,
                       month_close_events.c.audit_head)
                .where(month_close_events.c.audit_head.is_not(None))
                .order_by(month_close_events.c.id))
_STAMP_CLOSE = (update(month_close_events)
                .where(month_close_events.c.id == bindparam("event_id"))
                .values(audit_head=bindparam("head")))


_SNAPSHOT = text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def one_snapshot(conn: Connection) -> None:
    """Make every later read of this (read) transaction see the same committed state, before
    its first statement: the walk and the entry check read many pages, and under READ
    COMMITTED an entry logged between two pages would look unaudited. SQLite's read
    transactions already see one snapshot (WAL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_SNAPSHOT)


def _pages(conn: Connection, first: Any, following: Any) -> Iterator[Row[Any]]:
    """Every row in id order, a page of BATCH at a time (keyset: `following` reads the page
    after the last id seen), so a big table is never held in memory. The first page has no
    lower bound: a row slipped in with id 0 or below is walked too."""
    rows = conn.execute(first).all()
    while True:
        yield from rows
        if len(rows) < BATCH:
            return
        rows = conn.execute(following, {"after": rows[-1].id}).all()


def records(conn: Connection) -> Iterator[Row[Any]]:
    """Every audit record in id order (the chain's order), streamed."""
    return _pages(conn, _RECORDS, _RECORDS_AFTER)


def history(conn: Connection, entity: str, entity_id: str) -> list[Row[Any]]:
    """One entity's audit records, oldest first."""
    return list(conn.execute(_HISTORY, {"entity": entity, "entity_id": entity_id}).all())


def entries(conn: Connection) -> Iterator[Row[Any]]:
    """Every time entry's current row in id order, streamed (the cross-check's other side)."""
    return _pages(conn, _ENTRIES, _ENTRIES_AFTER)


_HASH_AT = select(A.hash).where(A.id == bindparam("record_id"))


def hash_at(conn: Connection, record_id: int) -> str | None:
    """The hash record `record_id` carries now (None: no such record): a packet's printed
    head still in the chain, or the chain rewritten since."""
    found: str | None = conn.execute(_HASH_AT, {"record_id": record_id}).scalar()
    return found


_PATIENT_STATES = (select(*DETAIL_COLUMNS, episodes_column().label("episodes"))
                   .select_from(DETAIL_FROM).order_by(patients.c.id))
_STAFF_ROLES = select(staff.c.slack_user_id, staff.c.role, staff.c.npi, staff.c.name,
                      staff.c.is_admin, staff.c.active, staff.c.inactive_from,
                      staff.c.created_at, staff.c.email).order_by(staff.c.id)
_CLOSE_EVENTS = select(month_close_events).order_by(month_close_events.c.id)
_CLOSE_LINES = select(month_close_lines).order_by(month_close_lines.c.event_id,
                                                  month_close_lines.c.id)


def patient_states(conn: Connection) -> list[Row[Any]]:
    """Every patient's detail row (store/patients.py) with its episodes as text
    (store/episodes.py `episodes_column`): what verify holds against the patients' trail."""
    return list(conn.execute(_PATIENT_STATES))


def staff_roles(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(_STAFF_ROLES))


def close_events(conn: Connection) -> list[Row[Any]]:
    """Every close and reopen of every month, in id order."""
    return list(conn.execute(_CLOSE_EVENTS))


def close_lines(conn: Connection) -> dict[int, list[Row[Any]]]:
    """Every close's per-patient record, by close event id."""
    found: dict[int, list[Row[Any]]] = {}
    for line in conn.execute(_CLOSE_LINES):
        found.setdefault(line.event_id, []).append(line)
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
