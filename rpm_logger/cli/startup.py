"""What `serve` checks before it starts answering: who it runs as, and that the database
opens (outside IT, issue 23: a root `serve` left root-owned files in the service's folder, so
the service's own starts failed later with PermissionError; a database permission error
printed a 100-line traceback packed into one JSON log message)."""

import logging
import os
import pwd
from pathlib import Path

from configuration.settings import Settings
from rpm_logger.cli.common import Exit

log = logging.getLogger("rpm_logger")

# PostgreSQL's SQLSTATE for "permission denied" (insufficient_privilege)
_INSUFFICIENT_PRIVILEGE = "42501"


def _written_folders(settings: Settings) -> list[Path]:
    """The folders `serve` creates files in: the data folder, the Slack journal's, and the
    SQLite database's."""
    from rpm_logger.wiring import database_files

    folders = [settings.data_dir, settings.resolved_slack_journal_dir]
    folders += [file.parent for file in database_files(settings)[:1]]
    return folders


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def refuse_root_in_anothers_folder(settings: Settings, allow_root: bool) -> None:
    """As root, refuse (exit 2) when a folder `serve` writes belongs to another user: what
    root creates there (the Slack journal, the SQLite file and its WAL) would stop that
    user's own service from starting. Elsewhere (a container, a laptop, CI) serving as root
    is only warned about. `--allow-root` starts anyway."""
    if os.geteuid() != 0:
        return
    others = [(folder, folder.stat().st_uid) for folder in _written_folders(settings)
              if folder.exists() and folder.stat().st_uid != 0]
    if others and not allow_root:
        folder, uid = others[0]
        user = _owner(uid)
        raise Exit(f"refusing to serve as root: {folder} belongs to {user}, and files root "
                   f"makes there would stop {user}'s own service from starting; start the "
                   f"service (systemctl start rpm-logger@PORT) or run as {user} (sudo -u "
                   f"{user} ...); --allow-root starts anyway (then chown -R {user}: {folder} "
                   "before the service starts again)", 2)
    log.warning("serving as root: files it makes (the Slack journal, a SQLite database) "
                "belong to root; run it as the service's user (docs/deploy.md)")


def open_database_or_explain(settings: Settings) -> None:
    """Open the database and bring it to the newest schema before the server starts, so a
    failure is one line saying what failed and what to do (exit 1), not a traceback from
    the server's start-up."""
    from sqlalchemy.exc import DBAPIError

    from rpm_logger.wiring import open_database, redacted_database_url
    from service.errors import StoreUnavailable

    where = redacted_database_url(settings)
    try:
        open_database(settings).dispose()
    except PermissionError as exc:
        raise Exit(f"cannot start: no permission to write {exc.filename}: run serve as the "
                   "user that owns the data folder (the service's), or chown -R "
                   f"rpm-logger: {settings.data_dir.resolve()}", 1) from exc
    except DBAPIError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        if getattr(exc.orig, "sqlstate", None) == _INSUFFICIENT_PRIVILEGE:
            raise Exit(f"cannot start: the database refused {where}'s role: {first}; give "
                       "the role its own schema with deploy/postgres-setup.sql "
                       "(docs/deploy.md, step 2)", 1) from exc
        if "readonly" in first or "unable to open" in first:
            raise Exit(f"cannot start: cannot write the database {where}: {first}; run serve "
                       "as the user that owns its folder (the service's), or chown -R "
                       f"rpm-logger: {settings.data_dir.resolve()}", 1) from exc
        raise Exit(f"cannot start: the database {where} failed: {first}", 1) from exc
    except StoreUnavailable as exc:
        raise Exit(f"cannot start: {exc}", 1) from exc
