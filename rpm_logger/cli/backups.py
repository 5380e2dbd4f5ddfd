"""`rpm-logger backup` and `restore` (docs/deploy.md "Backup and restore")."""

from pathlib import Path
from typing import Any

import click

from billing.errors import InvalidInput
from rpm_logger import files
from rpm_logger.cli.common import (
    confirmed,
    current_service,
    current_settings,
    handled,
    interactive,
    refuse_to_replace,
)
from rpm_logger.cli.root import cli
from store.archive import Header

# backup and restore (issue 23, part 2; docs/deploy.md "Backup and restore").


@cli.command("backup")
@click.option("--out", required=True, metavar="FILE",
              help="The archive to write (owner-only); an existing file is refused unless "
                   "--force.")
@click.option("--force", is_flag=True,
              help="Replace an existing archive: a regular file only, never a symbolic link "
                   "or the database.")
@handled
def backup(out: str, force: bool) -> None:
    """Every table in one snapshot, into one self-describing archive, while the service
    keeps writing."""
    path = Path(out)
    refuse_to_replace(path, force, "a backup", folder_note="")
    made = files.write_file(path, current_service().backups.take, replace=force, what="a backup")
    click.echo(f"backup {out}: {_contents(made.header)}; SHA-256 {made.sha256}")


@cli.command("restore")
@click.argument("file")
@click.option("--yes", is_flag=True, help="Restore without asking (scripts).")
@handled
def restore(file: str, yes: bool) -> None:
    """Restore an archive into an empty database (SQLite or PostgreSQL, migrated or not),
    all or nothing; refused while a service runs on it."""
    from rpm_logger.wiring import redacted_database_url, restore_target
    from service import backups

    path = Path(file)
    archive = backups.read_archive(lambda: _archive_file(path))
    settings = current_settings()
    if not yes and interactive():  # what the question is about; a script's refusal stays one line
        click.echo(f"{file}: a backup of {archive.header.created_at} from "
                   f"{archive.header.database}: {_contents(archive.header)}", err=True)
    confirmed(f"Restore it into {redacted_database_url(settings)}?", yes)
    with restore_target(settings) as database:
        restored = backups.restore(database, archive)
    click.echo(f"restored {file}: {_contents(restored.header, restored.upgraded_to)}")


def _contents(header: Header, upgraded_to: str | None = None) -> str:
    """An archive's header in words: rows, tables, schema, the audit chain's head."""
    head = (f"audit head #{header.audit_head[0]} {header.audit_head[1]}"
            if header.audit_head else "no audit records")
    upgraded = f" (upgraded to {upgraded_to})" if upgraded_to else ""
    return (f"{header.row_count:,} rows in {len(header.tables)} tables, schema "
            f"{header.schema}{upgraded}, {head}")


def _archive_file(path: Path) -> Any:
    """The archive opened for reading, or a one-line reason (missing, a folder, no
    permission) instead of a traceback."""
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory")
        return path.open("rb")
    except OSError as exc:
        raise InvalidInput(f"cannot read {files.shown(path)}: {exc.strerror or exc}; nothing "
                           "was restored") from exc
