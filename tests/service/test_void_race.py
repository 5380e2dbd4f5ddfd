"""Issue 12 #4: concurrent voids of one entry, with real threads on SQLite and PostgreSQL.

Exactly one void succeeds; every other is told the entry was already voided, and by whom.
The entry keeps the winner's reason and has exactly one `entry.void` audit row."""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy import Connection, text
from sqlmodel import func, select

from service import Service
from service.errors import BadInput
from store.models import AuditEvent
from tests.service.helpers import ADMIN, log, seed

SECOND_ADMIN = "U05ADMIN"
VOIDERS = 20


@contextmanager
def row_held_until_all_wait(svc: Service, entry: int, waiters: int) -> Iterator[None]:
    """PostgreSQL: hold the entry's row lock until `waiters` sessions queue on it, so every
    voider has read the entry as standing before any can write (the race, every run).
    SQLite serializes writers at BEGIN IMMEDIATE, so there is no window to hold open."""
    if svc.ctx.db.dialect != "postgresql":
        yield
        return
    with svc.ctx.db.engine.connect() as holder:
        with holder.begin():
            holder.execute(text("SELECT id FROM time_entries WHERE id = :id FOR UPDATE"),
                           {"id": entry})
            yield
            deadline = time.monotonic() + 30
            while _lock_waiters(holder) < waiters:
                assert time.monotonic() < deadline, "the voiders never queued on the row"
                time.sleep(0.01)


def _lock_waiters(connection: Connection) -> int:
    connection.execute(text("SELECT pg_stat_clear_snapshot()"))  # else frozen per transaction
    return int(connection.execute(text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'")).scalar_one())


def test_twenty_concurrent_voids_by_two_admins_void_once(svc: Service) -> None:
    seed(svc)
    svc.staff.add(slack_user_id=SECOND_ADMIN, name="Bo Admin", role="clinical_staff",
                  is_admin=True, actor="test")
    entry = log(svc, "12m")
    start = threading.Barrier(VOIDERS)

    def void(index: int) -> str:
        by = ADMIN if index % 2 else SECOND_ADMIN
        start.wait()
        try:
            svc.entries.void(entry, reason=f"duplicate {index}", by=by)
        except BadInput as refusal:
            return str(refusal)
        return f"voided by {by} with duplicate {index}"

    with ThreadPoolExecutor(VOIDERS) as pool:
        with row_held_until_all_wait(svc, entry, VOIDERS):
            futures = [pool.submit(void, i) for i in range(VOIDERS)]
        outcomes = [f.result() for f in futures]

    won = [o for o in outcomes if o.startswith("voided by")]
    assert len(won) == 1, outcomes
    winner = svc.entries.get(entry)
    assert won[0] == f"voided by {winner.voided_by} with {winner.void_reason}"
    refused = [o for o in outcomes if not o.startswith("voided by")]
    # the winner by name beside the id (outside auditor's retry of issue 26: raw ids)
    assert winner.voided_by_name and winner.voided_by
    assert refused == [f"Entry #{entry} was already voided on 2026-11-20 by "
                       f"{winner.voided_by_name} ({winner.voided_by})."] * (VOIDERS - 1)
    with svc.ctx.db.read_session() as session:
        voids = session.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "entry.void")).one()
    assert voids == 1
