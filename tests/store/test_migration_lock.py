"""Several processes starting together on a new database (issue 23: N `serve` processes
behind one proxy, or a CLI command beside a starting server) migrate it once: the first takes
the migration lock and upgrades, the others wait for it and find the schema current. Without
the lock each read "not migrated" and ran the scripts: all but one failed on tables that
already existed."""

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from store.db import Database
from store.migrate import head_revision, upgrade_to_head

STARTING = 3


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database no migration has touched."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'new.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    name = f"rpm_test_new_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_processes_starting_together_migrate_once(new_database: str) -> None:
    start, failures = threading.Barrier(STARTING), []

    def starting() -> None:
        database = Database(new_database)
        try:
            start.wait()
            upgrade_to_head(database.engine)
        except Exception as exc:  # noqa: BLE001 - what a starting process would die of
            failures.append(repr(exc))
        finally:
            database.dispose()

    threads = [threading.Thread(target=starting) for _ in range(STARTING)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    engine = create_engine(new_database)
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head_revision()
    engine.dispose()


def test_a_start_waits_out_a_file_held_longer_than_its_busy_timeout(tmp_path: Path) -> None:
    """SQLite: the start's first read met "database is locked" when another process held
    the new file longer than SQLITE_BUSY_TIMEOUT_MS (a migration under full load) and died;
    it goes on to wait for the write lock as long as a migration may take."""
    import sqlite3

    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")  # readers wait too, as during a restore
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE held (x)")
    holder.execute("COMMIT")  # exclusive locking mode keeps the file until it closes
    released = threading.Timer(0.6, holder.close)
    database = Database(f"sqlite:///{path}", sqlite_busy_timeout_ms=100)
    try:
        released.start()
        upgrade_to_head(database.engine)  # before: StoreUnavailable after 100 ms
        with database.engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() \
                == head_revision()
    finally:
        released.join()
        database.dispose()
