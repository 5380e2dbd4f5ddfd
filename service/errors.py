"""Errors the service raises; each message is written for the person who caused it."""

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from billing.errors import InvalidInput
from store.db import SaveUnconfirmed, StoreConflict, StoreUnavailable
from store.models import MAX_ROW_ID

__all__ = [
    "BadInput", "BadInputs", "InvalidInput", "NotAdmin", "NotAllowed", "NotFound", "NotStaff",
    "Refusals",
    "SaveUnconfirmed",
    "StoreConflict",
    "StoreUnavailable", "UnknownStaff", "parse_row_id",
]
_ROW_ID = re.compile(r"[0-9]{1,10}")  # ASCII digits: '²'.isdigit() is True, int('²') fails


class BadInput(InvalidInput):
    """Refused input (exit 2, a friendly Slack reply); nothing changed."""


class NotFound(BadInput):
    """A patient, staff member or entry that does not exist."""


class BadInputs(BadInput):
    """Several fields of one record refused at once, each with its reason: one line naming
    each field (`assign: ...; provider: ...`)."""

    def __init__(self, refused: Sequence[InvalidInput]) -> None:
        self.reasons = tuple(labelled(exc) for exc in refused)
        super().__init__("; ".join(self.reasons))


def labelled(exc: InvalidInput) -> str:
    """A refusal as `field: reason` when it names its field."""
    return f"{exc.field}: {exc}" if exc.field else str(exc)


def reasons_of(exc: InvalidInput) -> tuple[str, ...]:
    """Every reason a refusal gives, each naming its field when known (an import lists
    each)."""
    return exc.reasons if isinstance(exc, BadInputs) else (labelled(exc),)


class Refusals:
    """The refusals of one record's fields, collected so that a person hears every reason at
    once rather than the first: `with refusals.check("assign"): ...` per field, then
    `refusals.done()`. One refusal is raised as it was (its field noted); several as one
    BadInputs. Nothing is written while any field is refused (the caller raises first)."""

    def __init__(self) -> None:
        self.found: list[InvalidInput] = []

    @contextmanager
    def check(self, field: str) -> Iterator[None]:
        try:
            yield
        except InvalidInput as exc:
            if exc.field is None:
                exc.field = field
            self.found.append(exc)

    def failed(self, field: str) -> bool:
        return any(exc.field == field for exc in self.found)

    def done(self) -> None:
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            raise BadInputs(self.found)


class NotAllowed(BadInput):
    """The caller may not do this (not the author, not an admin, inactive)."""


class NotAdmin(NotAllowed):
    """Staff who are not admins asked for an admin's command; `admins` names who may (the
    CLI prints their Slack ids, chat mentions them)."""

    def __init__(self, admins: Sequence[str]) -> None:
        super().__init__("Only an admin may do that. Admins: "
                         + (", ".join(admins) or "none yet (use the CLI)") + ".")
        self.admins = list(admins)


class NotStaff(NotAllowed):
    """The actor is not active staff (unknown, inactive, or no Slack id at all). The CLI
    prints the message; chat greets the person as a stranger and names `admins` to ask
    (read in the refusing use case's own transaction)."""

    def __init__(self, message: str, *, admins: Sequence[str],
                 deactivated: bool = False) -> None:
        super().__init__(message)
        self.admins = list(admins)
        self.deactivated = deactivated  # a known member made inactive (offboarded)


class UnknownStaff(NotStaff, NotFound):
    """No staff member with that Slack id: a NotFound like every unknown record."""


def parse_row_id(raw: str) -> int | None:
    """A record id (entry, call) as typed: ASCII digits from 1 to the id columns' maximum
    (PostgreSQL INTEGER), else None; the caller names the kind of id in its refusal."""
    if not _ROW_ID.fullmatch(raw):
        return None
    number = int(raw)
    return number if 0 < number <= MAX_ROW_ID else None
