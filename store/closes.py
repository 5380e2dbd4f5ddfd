"""Month closes: the close/reopen history, each close's per-patient record, and the lock
that makes a close and a write dated in the same month take turns.

Why a lock: a writer checks "is this month closed?" and then inserts; a close checks "what
does the month hold?" and then records it. On PostgreSQL (READ COMMITTED) both can run at
once, so a log could commit into a month whose close has just recorded it without that
entry. Every writer dated in a month takes that month's lock in shared mode before its
check (writers never wait for each other), and a close or reopen takes it exclusively: the
close waits for writers in flight to commit, and writers that come later wait for the close
and then see it. The lock is a transaction-level advisory lock, released at commit or
rollback. SQLite needs none: every write transaction starts with BEGIN IMMEDIATE, so writers
(the close included) already run one at a time.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, text, update
from sqlalchemy.engine import Connection, Row

from store.tables import audit_events, month_close_events, month_close_lines, patients
from store.tables import time_entries as entries

# A month_close_events row (a Row: .id, .month, .action, .at, .by, ...). `Any` until every
# caller stops typing it as the ORM class MonthCloseEvent (issue 14).
EventRow = Any

# The first key of the two-key advisory lock: "month" in ASCII, so no other lock of the
# application (none today) can collide with a month's (second key: year * 100 + month).
MONTH_LOCK_NAMESPACE = 0x6D6F6E74

_SHARED = text("SELECT pg_advisory_xact_lock_shared(:namespace, :key)")
_EXCLUSIVE = text("SELECT pg_advisory_xact_lock(:namespace, :key)")

_events = month_close_events
_lines = month_close_lines


def _dialect(conn: Connection) -> str:
    return conn.dialect.name


def lock_month(conn: Connection, year: int, month: int, *, exclusive: bool) -> None:
    """Take the month's lock until the transaction ends (PostgreSQL; a no-op on SQLite)."""
    if _dialect(conn) != "postgresql":
        return
    conn.execute(_EXCLUSIVE if exclusive else _SHARED,
                 {"namespace": MONTH_LOCK_NAMESPACE, "key": year * 100 + month})


_SHARED_MANY = text("SELECT pg_advisory_xact_lock_shared(:namespace, key) "
                    "FROM unnest(CAST(:keys AS integer[])) AS key")


def lock_months_shared(conn: Connection, months: Iterable[tuple[int, int]]) -> None:
    """Take the lock of each month (year, month) in shared mode until the transaction ends,
    in one statement (PostgreSQL; a no-op on SQLite): a writer that may change several
    months (a device reading, whose periods run into later months) before it reads their
    closes."""
    keys = sorted({year * 100 + month for year, month in months})
    if keys and _dialect(conn) == "postgresql":
        conn.execute(_SHARED_MANY, {"namespace": MONTH_LOCK_NAMESPACE, "keys": keys})


_LATEST_EVENT = (select(_events).where(_events.c.month == bindparam("month"))
                 .order_by(_events.c.id.desc()).limit(1))
_HISTORY = select(_events).where(_events.c.month == bindparam("month")).order_by(_events.c.id)
_PENDING = select(_events).where(_events.c.record == "pending").order_by(_events.c.id)
_EVENT = select(_events).where(_events.c.id == bindparam("event_id"))

# A month is closed now when its newest event is a close: one statement for every month.
_newer = _events.alias("newer")
_CLOSED_NOW = (select(_events)
               .where(_events.c.action == "close",
                      ~select(_newer.c.id).where(_newer.c.month == _events.c.month,
                                                 _newer.c.id > _events.c.id).exists())
               .order_by(_events.c.month))


def closes_now(conn: Connection) -> list[EventRow]:
    """The close event of every month closed now (its newest event is a close), oldest
    month first: one statement, whatever the number of months."""
    return list(conn.execute(_CLOSED_NOW).all())


def closes_in_force(conn: Connection) -> list[EventRow]:
    """closes_now for a writer: each of those months is locked (shared) for the rest of the
    transaction. SQLite: one statement (writers already run one at a time). PostgreSQL: a
    month may be reopened between the read and its lock, so the closes are read once more
    under the locks (two statements plus one lock per closed month, whatever the number)."""
    rows = closes_now(conn)
    if not rows or _dialect(conn) != "postgresql":
        return rows
    for row in rows:
        year, month = (int(part) for part in row.month.split("-"))
        lock_month(conn, year, month, exclusive=False)
    locked = {row.month for row in rows}
    return [row for row in closes_now(conn) if row.month in locked]


def latest_event(conn: Connection, month: str) -> EventRow | None:
    """The month's newest close or reopen: the month is closed when it is a close."""
    return conn.execute(_LATEST_EVENT, {"month": month}).first()


def event_by_id(conn: Connection, event_id: int) -> EventRow | None:
    return conn.execute(_EVENT, {"event_id": event_id}).first()


def history(conn: Connection, month: str) -> list[EventRow]:
    return list(conn.execute(_HISTORY, {"month": month}).all())


def pending_records(conn: Connection) -> list[EventRow]:
    """Closes from before records existed, whose record is still to be rebuilt."""
    return list(conn.execute(_PENDING).all())


_ADD_EVENT = insert(_events).returning(*_events.c)


def add_event(conn: Connection, *, month: str, action: str, at: datetime, by: str,
              by_name: str | None = None, reason: str | None = None,
              record: str | None = None, recorded_at: datetime | None = None,
              billed: bool | None = None) -> EventRow:
    """A close or reopen, returned as stored (with its id)."""
    return conn.execute(_ADD_EVENT, {
        "month": month, "action": action, "at": at, "by": by, "by_name": by_name,
        "reason": reason, "record": record, "recorded_at": recorded_at, "billed": billed}).one()


_MARK_RECONSTRUCTED = (update(_events)
                       .where(_events.c.id == bindparam("event_id"),
                              _events.c.record == "pending")
                       .values(record="reconstructed", recorded_at=bindparam("recorded_at")))


def mark_reconstructed(conn: Connection, event_id: int, recorded_at: datetime) -> bool:
    """A pending close's record is rebuilt; False when it was not pending (any more)."""
    result = conn.execute(_MARK_RECONSTRUCTED,
                          {"event_id": event_id, "recorded_at": recorded_at})
    return bool(result.rowcount)


_LINES_OF = select(_lines).where(_lines.c.event_id == bindparam("event_id"))
_LINES_OF_PATIENTS = _LINES_OF.where(
    _lines.c.patient_id.in_(bindparam("pks", expanding=True)))
_LINES_OF_EVENTS = (select(_lines)
                    .where(_lines.c.event_id.in_(bindparam("event_ids", expanding=True)))
                    .order_by(_lines.c.event_id, _lines.c.id))


def lines_of(conn: Connection, event_id: int,
             patient_pks: Iterable[int] | None = None) -> list[Row[Any]]:
    """A close's per-patient record, for some patients (a page of a scan) or all."""
    if patient_pks is None:
        return list(conn.execute(_LINES_OF, {"event_id": event_id}).all())
    return list(conn.execute(_LINES_OF_PATIENTS,
                             {"event_id": event_id, "pks": list(patient_pks)}).all())


def lines_of_events(conn: Connection, event_ids: Iterable[int]) -> dict[int, list[Row[Any]]]:
    """The records of several closes at once, by event id (one statement)."""
    found: dict[int, list[Row[Any]]] = {}
    ids = list(event_ids)
    if not ids:
        return found
    for line in conn.execute(_LINES_OF_EVENTS, {"event_ids": ids}):
        found.setdefault(line.event_id, []).append(line)
    return found


_ADD_LINE = insert(_lines)


def add_lines(conn: Connection, lines: list[dict[str, Any]]) -> None:
    """A close's record: one dict per patient (patient_id, codes, total_seconds,
    live_interactions, expected_cents, event_id), inserted in one executemany."""
    if lines:
        conn.execute(_ADD_LINE, lines)


@dataclass(frozen=True)
class ChangeSinceClose:
    """An entry of a closed month logged or voided after the close's record was read."""

    patient_pk: int
    entry_id: int
    kind: str  # logged | voided
    reason: str | None


_CHANGES_SINCE = (
    select(entries.c.patient_id, entries.c.id, entries.c.created_at, entries.c.voided_at,
           entries.c.amendment_reason, entries.c.void_amendment_reason, entries.c.void_reason)
    .where(entries.c.started_at >= bindparam("start"), entries.c.started_at < bindparam("end"),
           entries.c.patient_id.in_(bindparam("pks", expanding=True)),
           or_(entries.c.created_at > bindparam("since"),
               entries.c.voided_at > bindparam("since")))
    .order_by(entries.c.id))


def changes_since(conn: Connection, *, start: datetime, end: datetime, since: datetime,
                  patient_pks: Iterable[int]) -> list[ChangeSinceClose]:
    """Entries dated in [start, end) logged or voided after `since`, for these patients.
    Strictly after: the close reads its clock once it holds the month's lock, so every write
    of the month before it committed earlier, and every write after it is later."""
    rows = conn.execute(_CHANGES_SINCE, {"start": start, "end": end, "since": since,
                                         "pks": list(patient_pks)}).all()
    changes: list[ChangeSinceClose] = []
    for pk, entry_id, created, voided, logged_why, void_why, void_reason in rows:
        if created > since:
            changes.append(ChangeSinceClose(pk, entry_id, "logged", logged_why))
        if voided is not None and voided > since:
            changes.append(ChangeSinceClose(pk, entry_id, "voided", void_why or void_reason))
    return changes


@dataclass(frozen=True)
class PatientChangeSinceClose:
    """A patient update made as an amendment after the close's record was read (the audit
    row's before and after: enrolment dates, consent, the amendment's reason), or a change
    of a closed month's device codes (`DEVICES_CHANGED`: readings stored, attached or
    detached; its `after` names the months, the source and any amendment's reason)."""

    patient_pk: int
    before: dict[str, Any]
    after: dict[str, Any]
    action: str = "patient.update"
    at: datetime | None = None  # when the audit record was written
    actor: str | None = None


# the audit action of a write that changed a closed month's device codes (service/devices.py)
DEVICES_CHANGED = "patient.devices_changed"

_PATIENT_AMENDMENTS = (
    select(patients.c.id, audit_events.c.before, audit_events.c.after, audit_events.c.action,
           audit_events.c.at, audit_events.c.actor)
    .join(patients, patients.c.clinic_id == audit_events.c.entity_id)
    .where(audit_events.c.entity == "patient",
           audit_events.c.action.in_(("patient.update", "patient.enrol", DEVICES_CHANGED)),
           audit_events.c.at > bindparam("since"),
           patients.c.id.in_(bindparam("pks", expanding=True)))
    .order_by(audit_events.c.id))


def patient_amendments_since(conn: Connection, *, since: datetime,
                             patient_pks: Iterable[int]) -> list[PatientChangeSinceClose]:
    """Patient updates audited after `since` that carry an amendment reason (a window or
    consent change into a closed month), and changes of closed months' device codes
    (amended or not: a vendor's webhook cannot give a reason), for these patients, oldest
    first."""
    rows = conn.execute(_PATIENT_AMENDMENTS, {"since": since, "pks": list(patient_pks)}).all()
    return [PatientChangeSinceClose(pk, before or {}, after or {}, action, at, actor)
            for pk, before, after, action, at, actor in rows
            if action == DEVICES_CHANGED or (after or {}).get("amendment_reason")]


_PKS_BY_CLINIC_ID = select(patients.c.id, patients.c.clinic_id).where(
    patients.c.clinic_id.in_(bindparam("clinic_ids", expanding=True)))


def patient_pks_by_clinic_id(conn: Connection, clinic_ids: list[str]) -> dict[str, int]:
    """Table ids of patients named by clinic id (a close records rows by patient id)."""
    found: dict[str, int] = {}
    for first in range(0, len(clinic_ids), 500):
        chunk = clinic_ids[first:first + 500]
        for pk, clinic_id in conn.execute(_PKS_BY_CLINIC_ID, {"clinic_ids": chunk}):
            found[clinic_id] = pk
    return found
