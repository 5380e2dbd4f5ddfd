"""Bring a database to the newest schema; `serve` and the CLI call this on start. A restore
also brings one to an older revision (its archive's), inside its own transaction."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from store.db import StoreUnavailable, as_writer, make_engine, unavailable_message

MIGRATIONS = Path(__file__).parent / "migrations"
# How long a starting process waits for another's migration (then it fails, saying so)
MIGRATION_WAIT_MS = 10 * 60 * 1000
# The advisory lock's first key: "migr" in ASCII (store/closes.py's months use "mont")
MIGRATION_LOCK_NAMESPACE = 0x6D696772
_MIGRATION_LOCK = text("SELECT pg_advisory_xact_lock(:namespace, :key)")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@cache
def head_revision() -> str:
    """The newest migration's revision, read from the scripts once per process (loading the
    scripts is most of what a migration run costs when there is nothing to run)."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "no migration scripts"
    return head


def upgrade_to_head(engine: Engine) -> None:
    """Run every pending migration in one transaction on `engine`; a database already at
    the newest revision costs one read (every CLI command and every start comes here).

    Several processes may start together on a new or older database (N `serve` processes,
    a CLI command beside a starting server): the upgrade runs under the migration lock, and
    the revision is read again once it is held, so one process migrates and the others find
    the schema current. DATABASE_STATEMENT_TIMEOUT_MS does not apply to migrations (an index
    on a big table may take longer); lock_timeout still does, once the lock is held."""
    try:
        if _already_current(engine):
            return
        with _migrating(engine) as writer, writer.begin() as connection:
            _take_migration_lock(connection)
            if _current(connection):
                return  # another process migrated while this one waited
            config = alembic_config(engine.url.render_as_string(hide_password=False))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except (OperationalError, InterfaceError) as exc:
        raise StoreUnavailable(unavailable_message(exc)) from exc


@contextmanager
def _migrating(engine: Engine) -> Iterator[Engine]:
    """The engine a migration runs on, waiting for the write lock as long as another's
    migration may take. SQLite: its own engine, since every new connection's set-up (WAL,
    busy_timeout) waits too, and only for the busy timeout it connects with."""
    if engine.dialect.name != "sqlite":
        yield as_writer(engine, MIGRATION_WAIT_MS)
        return
    patient = as_writer(make_engine(engine.url.render_as_string(hide_password=False),
                                    sqlite_busy_timeout_ms=MIGRATION_WAIT_MS),
                        MIGRATION_WAIT_MS)
    try:
        yield patient
    finally:
        patient.engine.dispose()


def _already_current(engine: Engine) -> bool:
    """The one read of a database at the newest revision. SQLite: a file another process is
    migrating (or restoring) may answer "database is locked" once this read's busy timeout
    runs out; that is not yet an answer, so the upgrade goes on to wait for the write lock
    as long as a migration may take, then reads again (under full load one of three
    processes starting together on a new file died here)."""
    try:
        with engine.begin() as connection:
            return _current(connection)
    except OperationalError as exc:
        if engine.dialect.name == "sqlite" and "database is locked" in str(exc.orig):
            return False
        raise


def _current(connection: Connection) -> bool:
    return MigrationContext.configure(connection).get_current_revision() == head_revision()


def _take_migration_lock(connection: Connection) -> None:
    """Until the transaction ends. SQLite: the write lock, taken as it began (as_writer).
    PostgreSQL: an advisory lock, waited for as long as another's migration takes."""
    if connection.dialect.name != "postgresql":
        return
    connection.exec_driver_sql("SET LOCAL statement_timeout = 0")  # a migration may be long
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = {MIGRATION_WAIT_MS}")
    connection.execute(_MIGRATION_LOCK, {"namespace": MIGRATION_LOCK_NAMESPACE, "key": 0})
    connection.exec_driver_sql("SET LOCAL lock_timeout TO DEFAULT")  # the migrations' own


@cache
def revisions() -> tuple[str, ...]:
    """Every revision the migration scripts know, oldest first."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return tuple(reversed([r.revision for r in script.walk_revisions()]))


def revision_of(conn: Connection) -> str | None:
    """The database's schema revision (None: never migrated)."""
    return MigrationContext.configure(conn).get_current_revision()


def migrate_to(conn: Connection, revision: str) -> None:
    """Up or down to `revision` (one the scripts know), inside the caller's transaction:
    Alembic runs in a transaction it finds begun and commits nothing itself. Under the
    migration lock, without a statement timeout for the rest of the transaction, as
    `upgrade_to_head`."""
    _take_migration_lock(conn)  # PostgreSQL: no process starting meanwhile migrates too
    config = alembic_config(conn.engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = conn
    current = revision_of(conn)
    known = revisions()
    if current is not None and known.index(current) > known.index(revision):
        command.downgrade(config, revision)
    elif current != revision:
        command.upgrade(config, revision)
