"""Bring a database to the newest schema; `serve` and the CLI call this on start."""

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from store.db import StoreUnavailable, unavailable_message

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@cache
def head_revision() -> str | None:
    """The newest migration's revision, read from the scripts once per process (loading the
    scripts is most of what a migration run costs when there is nothing to run)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def upgrade_to_head(engine: Engine) -> None:
    """Run every pending migration in one transaction on `engine`; a database already at
    the newest revision costs one read (every CLI command and every start comes here).
    DATABASE_STATEMENT_TIMEOUT_MS does not apply to migrations (an index on a big table may
    take longer); lock_timeout still does."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    try:
        with engine.begin() as connection:
            if MigrationContext.configure(connection).get_current_revision() == head_revision():
                return
            if connection.dialect.name == "postgresql":  # a migration may rewrite big tables
                connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except (OperationalError, InterfaceError) as exc:
        raise StoreUnavailable(unavailable_message(exc)) from exc
