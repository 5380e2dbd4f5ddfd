"""The store itself: migrations match the models, SQLite is safe under concurrent writers."""

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel, select

from service import Policy, Service, ServiceContext
from store.db import Database, UnstorableText
from store.migrate import alembic_config, upgrade_to_head
from store.models import AuditEvent, Staff, TimeEntry
from tests.conftest import FrozenClock
from tests.service.helpers import log, seed


def test_migrations_reach_exactly_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    assert version == head


def test_upgrade_is_idempotent(db: Database) -> None:
    upgrade_to_head(db.engine)
    upgrade_to_head(db.engine)
    assert "time_entries" in inspect(db.engine).get_table_names()


def test_datetimes_come_back_zone_aware_utc(db: Database) -> None:
    with db.write_session() as session:
        eastern = timezone(timedelta(hours=-5))
        session.add(Staff(slack_user_id="U1", name="A", role="qhp",
                          created_at=datetime(2026, 1, 1, 12, tzinfo=eastern)))
    with db.read_session() as session:
        staff = session.exec(select(Staff)).one()
    assert staff.created_at == datetime(2026, 1, 1, 17, tzinfo=UTC)
    assert staff.created_at.utcoffset() == timedelta(0)


def test_a_failed_write_leaves_nothing_behind(db: Database) -> None:
    try:
        with db.write_session() as session:
            session.add(Staff(slack_user_id="U1", name="A", role="qhp",
                              created_at=datetime.now(UTC)))
            session.flush()
            raise RuntimeError("fault after the insert")
    except RuntimeError:
        pass
    with db.read_session() as session:
        assert session.exec(select(Staff)).all() == []


def test_sqlite_connections_get_wal_busy_timeout_and_foreign_keys(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'sub' / 'dir' / 'x.db'}")  # folders are created
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


def test_concurrent_writers_never_see_database_is_locked(db: Database) -> None:
    """40 threads log at once (read-then-write transactions): every entry is stored."""
    clock = FrozenClock()
    svc = Service(ServiceContext(db, Policy(), clock))
    seed(svc)
    errors: list[BaseException] = []
    start = threading.Barrier(40)

    def worker(n: int) -> None:
        start.wait()
        try:
            log(svc, f"{n + 1}s", started_at=datetime(2026, 11, 2, tzinfo=UTC)
                + timedelta(minutes=n))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.read_session() as session:
        entries = session.exec(select(TimeEntry)).all()
        audits = session.exec(select(AuditEvent).where(AuditEvent.action == "entry.log")).all()
    assert len(entries) == 40 and len(audits) == 40
    assert sum(e.duration_seconds for e in entries) == sum(range(1, 41))
    assert svc.months.summary("P-1042").total_seconds == sum(range(1, 41))
    assert len({e.staff_id for e in entries}) == 1


def test_a_nul_character_is_refused_the_same_on_every_backend(svc: Service) -> None:
    """PostgreSQL cannot hold NUL in text; SQLite could, but then the backends would differ."""
    seed(svc)
    with pytest.raises(UnstorableText, match="NUL character"):
        log(svc, "12m", note="left a message\x00")
    with pytest.raises(UnstorableText, match="NUL character"):
        svc.patients.get("P-1042\x00")
    with svc.ctx.db.read_session() as session:
        assert session.exec(select(TimeEntry)).all() == []
    log(svc, "12m", note="left a message")  # the connection is still fine
    with svc.ctx.db.read_session() as session:
        assert [e.note for e in session.exec(select(TimeEntry))] == ["left a message"]


def _time_entry_indexes(db: Database) -> set[str]:
    return {i["name"] for i in inspect(db.engine).get_indexes("time_entries")}


def test_month_scan_indexes_migration_downgrades_and_upgrades(db: Database) -> None:
    """0006 swaps (patient, started) for the covering month index, and back."""
    added = {"ix_time_entries_patient_month"}
    assert added <= _time_entry_indexes(db)
    assert "ix_time_entries_patient_started" not in _time_entry_indexes(db)
    config = alembic_config(db.url)
    try:
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0005")
        names = _time_entry_indexes(db)
        assert "ix_time_entries_patient_started" in names and not names & added
    finally:
        upgrade_to_head(db.engine)
    assert added <= _time_entry_indexes(db)
    assert "ix_time_entries_patient_started" not in _time_entry_indexes(db)


def test_clock_timed_migration_backfills_calls_and_timers(db: Database) -> None:
    """0007: existing captured calls (source twilio) and timer entries are clock-timed,
    everything else estimated; downgrading drops the column, upgrading backfills again."""
    svc = Service(ServiceContext(db, Policy(), FrozenClock()))
    seed(svc)
    log(svc, "10m")
    log(svc, "5m", started_at=datetime(2026, 11, 2, 15, tzinfo=UTC))  # --at: clock-timed
    config = alembic_config(db.url)
    try:
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0006")
            assert "clock_timed" not in {c["name"] for c in
                                         inspect(connection).get_columns("time_entries")}
            connection.execute(text(
                "UPDATE time_entries SET source = 'twilio' WHERE id = 1"))
            connection.execute(text(
                "INSERT INTO time_entries (patient_id, staff_id, started_at, ended_at, "
                "duration_seconds, activity, source, live, staff_role, external_ref, "
                "created_at, created_by) SELECT patient_id, staff_id, started_at, ended_at, "
                "duration_seconds, activity, 'slack', live, staff_role, 'timer:U1:1', "
                "created_at, created_by FROM time_entries WHERE id = 2"))
    finally:
        upgrade_to_head(db.engine)
    with db.read_session() as session:
        rows = {e.id: e.clock_timed for e in session.exec(select(TimeEntry))}
    assert rows == {1: True, 2: False, 3: True}  # a past --at cannot be told: estimated
