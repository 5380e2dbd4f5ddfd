"""Concurrent writers never fork the chain: real threads, real connections, both backends
(on PostgreSQL the advisory lock is what holds; on SQLite BEGIN IMMEDIATE already does)."""

import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from service import Policy, Service, ServiceContext
from store import audit as audit_rows
from store.db import Database
from store.tables import audit_events
from tests.conftest import FrozenClock
from tests.service.helpers import ADMIN, DOCTOR, NURSE, log, seed

AT = datetime(2026, 11, 1, tzinfo=UTC)


def _links(db: Database) -> list[tuple[int, str | None, str]]:
    with db.read() as conn:
        return [(r.id, r.prev_hash, r.hash) for r in conn.execute(
            select(audit_events).order_by(audit_events.c.id)).all()]


def _head(conn: Any) -> audit_rows.AuditHead:
    head = audit_rows.head(conn)
    assert head is not None
    return head


def test_concurrent_logs_make_one_chain(db: Database) -> None:
    svc = Service(ServiceContext(db, Policy(), FrozenClock()))
    seed(svc)
    threads, per_thread = 12, 4
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        start.wait()
        try:
            for _ in range(per_thread):
                log(svc, f"{1 + n}m", staff=(NURSE, DOCTOR, ADMIN)[n % 3])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    done = threading.Event()
    verdicts: list[tuple[object, ...]] = []

    def verifier() -> None:
        """verify while they write: it sees one moment, so it is clean every time."""
        while not done.is_set():
            verdicts.append(svc.audit_trail.verify().findings)

    running = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    checking = threading.Thread(target=verifier)
    checking.start()
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    done.set()
    checking.join()
    assert errors == []
    assert verdicts and all(findings == () for findings in verdicts), verdicts
    links = _links(db)
    assert len(links) == 5 + threads * per_thread  # seed's 5 records, then one per log
    for (_, _, before), (_, prev, _) in zip(links, links[1:], strict=False):
        assert prev == before
    report = svc.audit_trail.verify()
    assert report.clean, report.findings
    assert report.entries == threads * per_thread


def test_an_append_waits_for_the_one_in_flight_and_links_to_it(db: Database) -> None:
    """A appends, writes its record (asking for the head does) and holds its transaction
    open; B appends meanwhile. B must wait and link to A's record: reading the last
    committed record (before A's) would fork the chain."""
    appended, release = threading.Event(), threading.Event()
    heads: dict[str, audit_rows.AuditHead] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with db.write() as conn:
                audit_rows.append(conn, at=AT, actor="a", action="x", entity="e",
                                  entity_id="1", before=None, after=None)
                heads["a"] = _head(conn)
                appended.set()
                release.wait()  # set by the test in any case (finally below)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            appended.set()

    def second() -> None:
        appended.wait()  # A sets it whether its append worked or not
        try:
            with db.write() as conn:
                audit_rows.append(conn, at=AT, actor="b", action="x", entity="e",
                                  entity_id="2", before=None, after=None)
                heads["b"] = _head(conn)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    with db.write() as conn:  # a committed record for both to see
        audit_rows.append(conn, at=AT, actor="z", action="x", entity="e",
                          entity_id="0", before=None, after=None)
        base = _head(conn)
    a, b = threading.Thread(target=first), threading.Thread(target=second)
    a.start()
    b.start()
    try:
        # a second of B blocked, watched with relative sleeps: a timed join or wait computes
        # its deadline from the monotonic clock, which faketime moves, and then never ends
        # (the suite must pass under faketime); and A is released even if this fails, so no
        # transaction is left open to stall the next test's clean-up
        for _ in range(20):
            time.sleep(0.05)
            assert b.is_alive(), "B appended while A's append was still uncommitted"
    finally:
        release.set()
        a.join()
        b.join()
    assert errors == []
    assert [prev for _, prev, _ in _links(db)] == [None, base.hash, heads["a"].hash]
    assert heads["b"].id == heads["a"].id + 1
