"""Errors the service raises; each message is written for the person who caused it."""

from billing.errors import InvalidInput
from store.db import StoreConflict, StoreUnavailable

__all__ = [
    "BadInput", "InvalidInput", "NotAllowed", "NotFound", "StoreConflict", "StoreUnavailable",
]


class BadInput(InvalidInput):
    """Refused input (exit 2, a friendly Slack reply); nothing changed."""


class NotFound(BadInput):
    """A patient, staff member or entry that does not exist."""


class NotAllowed(BadInput):
    """The caller may not do this (not the author, not an admin, inactive)."""

