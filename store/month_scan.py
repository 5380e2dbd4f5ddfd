"""The risk scan's SQL pre-filter: patients certainly safe this month (issue 14).

A patient is safe (billing.risk: not at risk) with >= 20 counted minutes and a counted live
interaction. The month statement (store.month_totals) excludes the patients this subquery
proves safe, so Python tallies only the rest. It proves, never estimates: every number here
is a lower bound of what billing.tally counts, and a patient it cannot prove safe stays in
the scan (Python decides). To stay simple it only tries patients whose enrolment window and
consent cover the whole month, so the month's bounds are the only clipping:

- counted seconds >= the whole seconds of every standing, clinical-role entry lying wholly
  inside the month that is not clock-timed (each counts in full), plus, for clock-timed ones
  (which billing.tally unions, overlaps counted once), the longest such entry less one
  second per clock-timed entry touching the month (the tally apportions whole seconds: each
  entry's share is floored at most one second below its exact time);
- a counted live interaction exists when a standing, clinical-role live entry started in the
  month and lasts at least MIN_LIVE_CALL_SECONDS (one per conversation only merges repeats).
"""

from typing import Any

from sqlalchemy import Integer, and_, bindparam, case, false, func, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from billing.codes import ROLES_THAT_COUNT, TWENTY_MINUTES
from store.tables import patients, time_entries

p, e = patients, time_entries


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


def _whole_month_eligible() -> ColumnElement[bool]:
    """Enrolment window and consent cover the whole month: only the month clips time."""
    return and_(
        p.c.consent_on.is_not(None), p.c.consent_on <= bindparam("first_day"),
        or_(p.c.enrolled_on.is_(None), p.c.enrolled_on <= bindparam("first_day")),
        or_(p.c.ended_on.is_(None), p.c.ended_on >= bindparam("last_day")),
    )


def _safe_patients() -> Any:
    """Patient ids certainly safe in the month (bound: start, end, reach, first_day,
    last_day, min_live)."""
    length = whole_seconds(e.c.started_at, e.c.ended_at)
    whole = and_(e.c.started_at >= bindparam("start"), e.c.ended_at <= bindparam("end"))
    untimed = func.sum(case((and_(whole, e.c.clock_timed == false()), length), else_=0))
    timed = (func.max(case((and_(whole, e.c.clock_timed == true()), length), else_=0))
             - func.sum(case((e.c.clock_timed == true(), 1), else_=0)))
    live = func.max(case((and_(e.c.live == true(), e.c.started_at >= bindparam("start"),
                               length >= bindparam("min_live")), 1), else_=0))
    return (
        select(e.c.patient_id).select_from(e.join(p, p.c.id == e.c.patient_id))
        .where(e.c.voided_at.is_(None), e.c.staff_role.in_(sorted(ROLES_THAT_COUNT)),
               e.c.started_at >= bindparam("reach"), e.c.started_at < bindparam("end"),
               e.c.ended_at > bindparam("start"), _whole_month_eligible())
        .group_by(e.c.patient_id)
        .having(live == 1,
                untimed + case((timed > 0, timed), else_=0) >= TWENTY_MINUTES)
    )


SAFE_PATIENTS = _safe_patients()


def not_certainly_safe() -> ColumnElement[bool]:
    """The month statement's filter on patients.id for a risk scan."""
    return p.c.id.not_in(SAFE_PATIENTS)
