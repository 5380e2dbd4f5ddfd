"""Whole seconds between two stored instants, in SQL, floored as billing.tally floors them."""

from typing import Any

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class whole_seconds(FunctionElement[int]):  # noqa: N801 - an SQL function's name
    """Whole seconds from a start to an end instant, floored: exact, never above the time
    (on SQLite from the stored text, 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds apart, less
    one when the end's fraction is below the start's; float arithmetic could round up)."""

    type = Integer()
    inherit_cache = True


@compiles(whole_seconds, "postgresql")
def _pg_seconds(element: whole_seconds, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    # date_part is double precision (extract is numeric, ~10 % slower over a month's rows):
    # exact here, as an interval of microseconds under a day is never within 1e-6 s of the
    # next whole second unless it is one, and a double's error at 86,400 s is ~1e-11 s
    return f"CAST(floor(date_part('epoch', {end} - {start})) AS INTEGER)"


@compiles(whole_seconds)
def _sqlite_seconds(element: whole_seconds, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"({_sqlite_whole(start, end)} - ({_fraction(end)} < {_fraction(start)}))"


def _sqlite_whole(start: str, end: str) -> str:
    """The whole seconds between two stored instants' 'YYYY-MM-DD HH:MM:SS' parts: julianday
    (a double of days, within ~3e-10 of a day, i.e. ~30 us, each) rounded to the second is
    exact, and costs a quarter of strftime('%s') per row (a 1,000-entry month's reply)."""
    return (f"CAST(round((julianday(substr({end}, 1, 19))"
            f" - julianday(substr({start}, 1, 19))) * 86400) AS INTEGER)")


def _fraction(instant: str) -> str:
    return f"CAST(substr({instant}, 20) AS REAL)"


class micros(FunctionElement[int]):  # noqa: N801 - an SQL function's name
    """Microseconds from a start to an end instant, exact (billing.tally sums shares in
    microseconds and floors the sum, e.g. the month's non-clinical seconds)."""

    type = Integer()
    inherit_cache = True


@compiles(micros, "postgresql")
def _pg_micros(element: micros, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    # the interval's epoch is a double, within ~1e-11 s below a day: rounded, exact
    return f"CAST(round(date_part('epoch', {end} - {start}) * 1000000) AS BIGINT)"


@compiles(micros)
def _sqlite_micros(element: micros, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return (f"({_sqlite_whole(start, end)} * 1000000"
            f" + CAST(round(({_fraction(end)} - {_fraction(start)}) * 1000000) AS INTEGER))")


class epoch_seconds(FunctionElement[int]):  # noqa: N801 - an SQL function's name
    """Whole seconds since 1970 of a stored instant, floored (a reading's instant: its
    clinic day is all that is asked of it)."""

    type = Integer()
    inherit_cache = True


@compiles(epoch_seconds, "postgresql")
def _pg_epoch(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    (instant,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(floor(date_part('epoch', {instant})) AS BIGINT)"


@compiles(epoch_seconds)
def _sqlite_epoch(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    (instant,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(strftime('%s', substr({instant}, 1, 19)) AS INTEGER)"
