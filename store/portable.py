"""Column values as JSON that means the same on SQLite and PostgreSQL (backup archives).

Each column has a kind, read from its SQLAlchemy type (a model's or one reflected from the
database), and each kind one JSON form, so a value written from one database is read back
as the same Python value for the other: instants in UTC as ISO 8601 with their offset and
microseconds (SQLite hands them back without a zone: the store writes UTC, store/types.py),
dates as `YYYY-MM-DD`, JSON columns as JSON, decimals as text (no float rounding), bytes as
base64. Reading checks the shape: a value that does not fit its kind is damage, never
guessed at.
"""

import base64
import binascii
import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Integer, LargeBinary, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine

KINDS = ("integer", "text", "boolean", "datetime", "date", "json", "decimal", "float", "bytes")


class UnreadableValue(ValueError):
    """A value that does not have its column kind's form."""


def kind_of(column_type: Any) -> str:
    """The kind of a column type; a type with no portable form is refused (a column of a
    new type must be given one here before a backup can hold it)."""
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl
    for base, kind in _KIND_OF:  # most specific first: Float is a Numeric, DateTime no Date
        if isinstance(column_type, base):
            return kind
    raise TypeError(f"no portable form for the column type {column_type!r}")


_KIND_OF: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (Boolean, "boolean"), (Integer, "integer"), (Float, "float"), (Numeric, "decimal"),
    (DateTime, "datetime"), (Date, "date"), (JSON, "json"), (LargeBinary, "bytes"),
    (String, "text"))


def encode(kind: str, value: Any) -> Any:
    """`value` (as the database handed it back) in its kind's JSON form."""
    if value is None:
        return None
    if kind == "datetime":
        instant = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return instant.astimezone(UTC).isoformat(timespec="microseconds")
    if kind == "date":
        return value.isoformat()
    if kind == "decimal":
        return str(value)
    if kind == "bytes":
        return base64.b64encode(value).decode("ascii")
    return value


def decode(kind: str, value: Any) -> Any:
    """The Python value of a JSON form, checked against its kind (UnreadableValue)."""
    if value is None:
        return None
    reader = _READERS.get(kind)
    if reader is None:
        raise UnreadableValue(f"unknown column kind {kind!r}")
    try:
        return reader(value)
    except (ValueError, TypeError, InvalidOperation, binascii.Error) as exc:
        raise UnreadableValue(f"{str(value)[:40]!r} is no {kind}") from exc


def _typed(*types: type) -> Callable[[Any], Any]:
    def read(value: Any) -> Any:
        if type(value) not in types:  # bool is an int to isinstance: not here
            raise TypeError(type(value).__name__)
        return value
    return read


def _instant(value: Any) -> datetime:
    instant = datetime.fromisoformat(_text(value))
    if instant.tzinfo is None:
        raise ValueError("an instant without its offset")
    return instant.astimezone(UTC)


def _day(value: Any) -> date:
    return date.fromisoformat(_text(value))


def _decimal(value: Any) -> Decimal:
    number = Decimal(_text(value))
    if not number.is_finite():
        raise ValueError("not a finite number")
    return number


def _bytes(value: Any) -> bytes:
    return base64.b64decode(_text(value), validate=True)


def _float(value: Any) -> float:
    number = float(_typed(int, float)(value))
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("not JSON")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(type(value).__name__)
    return value


_READERS: dict[str, Callable[[Any], Any]] = {
    "integer": _typed(int), "text": _text, "boolean": _typed(bool), "datetime": _instant,
    "date": _day, "json": _json, "decimal": _decimal, "float": _float, "bytes": _bytes}
