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
    return (f"(CAST(strftime('%s', substr({end}, 1, 19)) AS INTEGER)"
            f" - CAST(strftime('%s', substr({start}, 1, 19)) AS INTEGER)"
            f" - (CAST(substr({end}, 20) AS REAL) < CAST(substr({start}, 20) AS REAL)))")


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
