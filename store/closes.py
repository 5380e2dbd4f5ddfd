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

from sqlalchemy import bindparam, or_, text
from sqlalchemy import select as columns
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from store.db import as_connection
from store.models import AuditEvent, MonthCloseEvent, MonthCloseLine, Patient, TimeEntry

# The first key of the two-key advisory lock: "month" in ASCII, so no other lock of the
# application (none today) can collide with a month's (second key: year * 100 + month).
MONTH_LOCK_NAMESPACE = 0x6D6F6E74

_SHARED = text("SELECT pg_advisory_xact_lock_shared(:namespace, :key)")
_EXCLUSIVE = text("SELECT pg_advisory_xact_lock(:namespace, :key)")


def lock_month(session: Session, year: int, month: int, *, exclusive: bool) -> None:
    """Take the month's lock until the transaction ends (PostgreSQL; a no-op on SQLite)."""
    if session.connection().dialect.name != "postgresql":
        return
    session.connection().execute(_EXCLUSIVE if exclusive else _SHARED,
                                 {"namespace": MONTH_LOCK_NAMESPACE, "key": year * 100 + month})


_LATEST_EVENT = (select(MonthCloseEvent).where(MonthCloseEvent.month == bindparam("month"))
                 .order_by(MonthCloseEvent.id.desc()).limit(1))  # type: ignore[union-attr]
_LATEST_CLOSE = (select(MonthCloseEvent)
                 .where(MonthCloseEvent.month == bindparam("month"),
                        MonthCloseEvent.action == "close")
                 .order_by(MonthCloseEvent.id.desc()).limit(1))  # type: ignore[union-attr]
_HISTORY = (select(MonthCloseEvent).where(MonthCloseEvent.month == bindparam("month"))
            .order_by(MonthCloseEvent.id))  # type: ignore[arg-type]
_PENDING = (select(MonthCloseEvent).where(MonthCloseEvent.record == "pending")
            .order_by(MonthCloseEvent.id))  # type: ignore[arg-type]


_NEWEST = columns(MonthCloseEvent.month, MonthCloseEvent.id.label("id")).order_by(  # type: ignore[union-attr]
    MonthCloseEvent.month, MonthCloseEvent.id.desc())  # type: ignore[union-attr]


def closed_months(session: Session) -> list[str]:
    """The months (YYYY-MM) closed now: their newest event is a close, oldest month first."""
    newest: dict[str, int] = {}
    for month, event_id in session.connection().execute(_NEWEST):
        newest.setdefault(month, event_id)
    if not newest:
        return []
    closes = session.connection().execute(
        columns(MonthCloseEvent.id).where(
            MonthCloseEvent.id.in_(list(newest.values())),  # type: ignore[union-attr]
            MonthCloseEvent.action == "close"))
    ids = {row[0] for row in closes}
    return sorted(month for month, event_id in newest.items() if event_id in ids)


def latest_event(session: Session, month: str) -> MonthCloseEvent | None:
    """The month's newest close or reopen: the month is closed when it is a close."""
    return session.exec(_LATEST_EVENT, params={"month": month}).first()


def latest_close(session: Session, month: str) -> MonthCloseEvent | None:
    """The month's newest close, reopened since or not: what was billed."""
    return session.exec(_LATEST_CLOSE, params={"month": month}).first()


def history(session: Session, month: str) -> list[MonthCloseEvent]:
    return list(session.exec(_HISTORY, params={"month": month}).all())


def pending_records(session: Session) -> list[MonthCloseEvent]:
    """Closes from before records existed, whose record is still to be rebuilt."""
    return list(session.exec(_PENDING).all())


def lines_of(session: Session | Connection, event_id: int,
             patient_pks: Iterable[int] | None = None) -> list[Any]:
    """A close's per-patient record, for some patients (a page of a scan) or all: rows with
    MonthCloseLine's columns (attribute access), on a session's or a Core connection."""
    query = select(MonthCloseLine).where(MonthCloseLine.event_id == event_id)
    if patient_pks is not None:
        query = query.where(MonthCloseLine.patient_id.in_(list(patient_pks)))  # type: ignore[attr-defined]
    return list(as_connection(session).execute(query).all())


@dataclass(frozen=True)
class ChangeSinceClose:
    """An entry of a closed month logged or voided after the close's record was read."""

    patient_pk: int
    entry_id: int
    kind: str  # logged | voided
    reason: str | None


def changes_since(session: Session | Connection, *, start: datetime, end: datetime, since: datetime,
                  patient_pks: Iterable[int]) -> list[ChangeSinceClose]:
    """Entries dated in [start, end) logged or voided after `since`, for these patients.
    Strictly after: the close reads its clock once it holds the month's lock, so every write
    of the month before it committed earlier, and every write after it is later."""
    rows = as_connection(session).execute(
        columns(TimeEntry.patient_id, TimeEntry.id, TimeEntry.created_at, TimeEntry.voided_at,
               TimeEntry.amendment_reason, TimeEntry.void_amendment_reason,
               TimeEntry.void_reason)
        .where(TimeEntry.started_at >= start, TimeEntry.started_at < end,
               TimeEntry.patient_id.in_(list(patient_pks)),  # type: ignore[attr-defined]
               or_(TimeEntry.created_at > since,
                   TimeEntry.voided_at > since))  # type: ignore[operator]
        .order_by(TimeEntry.id)  # type: ignore[arg-type]
    ).all()
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
    row's before and after: enrolment dates, consent, the amendment's reason)."""

    patient_pk: int
    before: dict[str, Any]
    after: dict[str, Any]


def patient_amendments_since(session: Session | Connection, *, since: datetime,
                             patient_pks: Iterable[int]) -> list[PatientChangeSinceClose]:
    """Patient updates audited after `since` that carry an amendment reason (a window or
    consent change into a closed month), for these patients, oldest first."""
    rows = as_connection(session).execute(
        columns(Patient.id, AuditEvent.before, AuditEvent.after)
        .join(Patient, Patient.clinic_id == AuditEvent.entity_id)  # type: ignore[arg-type]
        .where(AuditEvent.entity == "patient", AuditEvent.action == "patient.update",
               AuditEvent.at > since,  # type: ignore[operator]
               Patient.id.in_(list(patient_pks)))  # type: ignore[union-attr]
        .order_by(AuditEvent.id)  # type: ignore[arg-type]
    ).all()
    return [PatientChangeSinceClose(pk, before or {}, after or {})
            for pk, before, after in rows if (after or {}).get("amendment_reason")]


def patient_pks_by_clinic_id(session: Session, clinic_ids: list[str]) -> dict[str, int]:
    """Table ids of patients named by clinic id (a close records rows by patient id)."""
    found: dict[str, int] = {}
    for first in range(0, len(clinic_ids), 500):
        chunk = clinic_ids[first:first + 500]
        for pk, clinic_id in session.exec(
                columns(Patient.id, Patient.clinic_id)
                .where(Patient.clinic_id.in_(chunk))).all():  # type: ignore[attr-defined]
            found[clinic_id] = pk
    return found
