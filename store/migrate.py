"""Bring a database to the newest schema; `serve` and the CLI call this on start. A restore
also brings one to an older revision (its archive's), inside its own transaction."""

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from store.db import StoreUnavailable, unavailable_message

MIGRATIONS = Path(__file__).parent / "migrations"


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
    the newest revision costs one read (every CLI command and every start comes here)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    try:
        with engine.begin() as connection:
            if MigrationContext.configure(connection).get_current_revision() == head_revision():
                return
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except (OperationalError, InterfaceError) as exc:
        raise StoreUnavailable(unavailable_message(exc)) from exc


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
    Alembic runs in a transaction it finds begun and commits nothing itself."""
    config = alembic_config(conn.engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = conn
    current = revision_of(conn)
    known = revisions()
    if current is not None and known.index(current) > known.index(revision):
        command.downgrade(config, revision)
    elif current != revision:
        command.upgrade(config, revision)
