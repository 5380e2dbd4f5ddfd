"""What every command shares: option types, the service built once per command, the
operator's name, confirmation, and service refusals turned into exit codes."""

import getpass
import os
import sys
from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from billing.digits import ONLY_ASCII_DIGITS, digits_value, has_other_digits
from billing.errors import InvalidInput, quoted
from billing.months import Month, parse_day
from configuration.settings import Settings, get_settings
from rpm_logger import files
from service import Service
from service.closes import Amendment
from service.errors import SaveUnconfirmed, StoreConflict, StoreUnavailable

F = TypeVar("F", bound=Callable[..., Any])


class _DateType(click.ParamType):
    """A calendar date typed as YYYY-MM-DD, refused with that hint otherwise."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return parse_day(str(value))
        except InvalidInput as exc:
            self.fail(str(exc), param, ctx)


DATE = _DateType()


class WholeNumber(click.ParamType):
    """A whole number in 0-9 digits within [low, high]: click's int takes '８０００' and
    '٨٠٠٠' (Python's int() reads any script's digits), the one digits rule does not."""

    name = "INTEGER"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        number = digits_value(text)
        if number is None:
            why = ONLY_ASCII_DIGITS if has_other_digits(text) else "not a whole number"
            self.fail(f"{quoted(str(value))}: {why}.", param, ctx)
        if not self.low <= number <= self.high:
            self.fail(f"{number} is not between {self.low} and {self.high}.", param, ctx)
        return number


class Exit(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def current_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        # a check of several settings together (OIDC) has no one setting to name first
        problems = "; ".join((f"{'.'.join(map(str, e['loc'])).upper()}: " if e["loc"] else "")
                             + e["msg"] for e in exc.errors())
        raise Exit(f"invalid configuration: {problems}", 2) from exc


def current_service() -> Service:
    from rpm_logger.wiring import build_service

    ctx = click.get_current_context()
    root = ctx.find_root()
    if "service" not in root.meta:
        settings = current_settings()
        if not root.meta.get(_MAY_CREATE):
            _refuse_a_missing_default_database(settings)
        root.meta["service"] = build_service(settings, clock=root.obj)
    return root.meta["service"]


_MAY_CREATE = "may create the default database"


def may_create_database(func: F) -> F:
    """A command that adds data (`staff add`, `log`, ...) may create the default SQLite file
    when it does not exist yet, as `serve`, `db upgrade` and `restore` do; every other
    command refuses, rather than read an empty database made on the spot (a backup of
    nothing, `staff list` leaving ./data/rpm-logger.db behind in whatever folder it ran)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        click.get_current_context().find_root().meta[_MAY_CREATE] = True
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _refuse_a_missing_default_database(settings: Settings) -> None:
    """Exit 2 when DATABASE_URL is unset and the default SQLite file is not there (the
    command was run outside the service's folder, or without its env file)."""
    if settings.database_url:
        return
    from rpm_logger.wiring import database_files

    path = database_files(settings)[0]
    if not path.exists():
        raise Exit(f"no database at {path}: set DATABASE_URL (or run from the service's "
                   "folder); nothing was created", 2)


def operator_name(by: str | None) -> str:
    """Who runs the command, for the audit trail: `--by`, else `cli:` and the login of the
    administrator who ran it through sudo (SUDO_USER; deploy/rpm-logger-cli passes it on to
    the command it runs as the service's user), else of the user running it."""
    return by or f"cli:{os.environ.get('SUDO_USER') or getpass.getuser()}"


def month_or_current(text: str | None) -> Month:
    return Month.parse(text) if text else current_service().months.current()


def at_time(text: str | None) -> datetime | None:
    """--at as ISO 8601; without a zone it is read in the clinic zone."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(f"Cannot read --at {quoted(text)}: use ISO 8601 such as "
                           "2026-11-03T14:30 or 2026-11-03T14:30-05:00.") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=current_service().ctx.policy.zone)
    return value


def amendment_of(reason: str | None) -> Amendment | None:
    """The CLI runs as the clinic's operator, who may amend a closed month with a reason."""
    if reason is None:
        return None
    return Amendment(reason=reason, by=operator_name(None), operator=True)


def handled(func: F) -> F:
    """Turn service refusals and failures into stderr messages and exit codes."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InvalidInput as exc:
            raise Exit(str(exc), 2) from exc
        except StoreConflict as exc:
            raise Exit(str(exc), 1) from exc
        except SaveUnconfirmed as exc:
            raise Exit(f"{exc}; check (`rpm-logger entries`, `month show`) before running "
                       "it again", 1) from exc
        except StoreUnavailable as exc:
            raise Exit(f"{exc}; nothing was saved", 1) from exc

    return wrapper  # type: ignore[return-value]


def interactive() -> bool:
    """Whether a person can answer a question here (stdin is a terminal)."""
    return sys.stdin.isatty()


def confirmed(question: str, yes: bool) -> None:
    """Go on with --yes or a "yes" typed on a terminal; otherwise exit 2, nothing changed."""
    if yes:
        return
    if not interactive():
        raise Exit("no terminal to confirm on: nothing changed (pass --yes to confirm)", 2)
    if not click.confirm(question, default=False, err=True):
        raise Exit("not confirmed: nothing changed", 2)


# Packet files (rpm_logger/files.py): never through a symbolic link, never over the database,
# an existing file only with --force, owner-only.

PACKET = "a packet"


def refuse_to_replace(path: Path, force: bool, what: str = PACKET,
                      folder_note: str = " (a folder is for --all)") -> None:
    from rpm_logger.wiring import database_files

    files.refuse_to_replace(path, force, what=what, protected=database_files(current_settings()),
                            folder_note=folder_note)
