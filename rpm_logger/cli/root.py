"""The `rpm-logger` group, `serve`, `db upgrade` and the console entry point.

Exit status: 0 done, 2 refused input (nothing changed), 1 failure (e.g. database down);
`audit verify`: 5 the audit trail or an entry was changed behind the service's back."""

import sys

import click

from rpm_logger.cli import startup
from rpm_logger.cli.common import (
    Exit,
    WholeNumber,
    current_settings,
    handled,
)
from service.context import Clock
from store import logsafe


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rpm-logger", prog_name="rpm-logger",
                      message="%(prog)s %(version)s")
def cli() -> None:
    """Log RPM treatment-management time and see which CPT codes each month supports."""
    logsafe.install()  # no database error reaches a log with the values it was about


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=WholeNumber(1, 65535))
@click.option("--allow-root", is_flag=True,
              help="Serve as root even where a folder it writes (the data folder, the Slack "
                   "journal's) belongs to another user, such as the service's.")
def serve(host: str, port: int, allow_root: bool) -> None:
    """Run the web service (Slack, Twilio and health routes)."""
    import uvicorn

    from observability import logs
    from rpm_logger.app import SERVER_OPTIONS, create_app

    settings = current_settings()
    # every line in LOG_FORMAT through the root handler, uvicorn's too (no log config of its
    # own); the app writes the access lines (route template, status, duration, request id)
    logs.configure(settings.log_format, settings.log_level)
    startup.refuse_root_in_anothers_folder(settings, allow_root)
    startup.open_database_or_explain(settings)
    # settle_gc: start-up's objects frozen, young collections rarer (rpm_logger/app.py)
    uvicorn.run(create_app(settings, settle_gc=True), host=host, port=port,
                log_level=settings.log_level.lower(), log_config=None, access_log=False,
                **SERVER_OPTIONS)


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@handled
def db_upgrade() -> None:
    """Bring the database to the newest schema."""
    from rpm_logger.wiring import open_database
    from store.postgres import superuser_schema

    database = open_database(current_settings())
    click.echo(f"database at newest schema ({database.dialect})")
    superuser = superuser_schema(database.engine)
    if superuser:  # outside IT (issue 23): the tables went into `public`, silently
        click.echo(f"warning: connected as the PostgreSQL superuser {superuser[0]}: the "
                   f"tables are in schema {superuser[1]}, owned by {superuser[0]}; the service "
                   "should connect as its own role, in its own schema (deploy/postgres-setup.sql,"
                   " docs/deploy.md step 2)", err=True)




# ---------------------------------------------------------------------------------------


def main(clock: Clock | None = None) -> None:
    """Console entry point. `clock` is for tests that run the CLI in-process at a frozen
    instant (the console script always runs on the real clock)."""
    try:
        cli.main(standalone_mode=False, obj=clock)
    except Exit as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
