"""The risk scan's figures per patient from one aggregate statement (issue 14).

The at-risk verdict (billing.risk.assess_risk) needs per patient only the month's counted
seconds and whether a counted live interaction exists. This statement computes them in SQL,
GROUP BY patient, together with the few columns a risk list shows, so Python never reads an
entry row for most patients. billing.tally stays the truth: the statement states its rules
only where they are simple, and marks a patient `exact` only then:

- the enrolment window covers the whole month (the latest enrolment episode, whose dates
  the patient row repeats: episodes never overlap, so no other episode has a day in the
  month; a month in an earlier episode, or with a gap, is tallied in full), and consent
  either covers it (dated on or before its first day, or missing: billing.tally then limits
  nothing), or is dated after it (then nothing counts);
- no two standing clinical clock-timed entries overlap in time (the tally's union and its
  one-interaction-per-conversation rule would then change the figures).

Under those conditions billing.tally counts each standing clinical entry's share of the month
in full, floored to whole seconds per entry (its apportioning never lifts an entry above its
own whole seconds), and a live interaction is a standing clinical live entry started in the
month lasting at least MIN_LIVE_CALL_SECONDS, each one its own interaction. Every other patient
comes back with `exact` false and goes through the full tally (store.month_totals).
tests/service/test_risk_equivalence.py checks the two statements of the rules against each
other on generated months, on both databases.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from billing.codes import ROLES_THAT_COUNT
from billing.months import Month
from billing.programme import Window, in_programme
from store.db import Conn
from store.month_totals import (
    Scope,
    _assigned,
    _on,
    _on_patients,
    _scan_params,
    _window_overlaps_month,
)
from store.sql_time import whole_seconds
from store.tables import patients, time_entries
from store.types import UTCDateTime

p, e = patients, time_entries


class later(FunctionElement[Any]):  # noqa: N801 - an SQL function's name
    """The later of two instants (PostgreSQL GREATEST; SQLite's two-argument max compares
    the stored text, whose fixed format sorts as time does)."""

    inherit_cache = True


class earlier(FunctionElement[Any]):  # noqa: N801 - an SQL function's name
    """The earlier of two instants (LEAST / SQLite's two-argument min)."""

    inherit_cache = True


@compiles(later, "postgresql")
def _pg_later(element: later, compiler: Any, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(later)
def _sqlite_later(element: later, compiler: Any, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(earlier, "postgresql")
def _pg_earlier(element: earlier, compiler: Any, **kw: Any) -> str:
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(earlier)
def _sqlite_earlier(element: earlier, compiler: Any, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


class by_patient(FunctionElement[Any]):  # noqa: N801 - an SQL operator
    """A column whose comparisons must not choose the index (SQLite's no-op unary `+`): the
    risk scan reads the month's entries in patient and time order from the covering index
    ix_time_entries_patient_month, which its window needs; SQLite would otherwise search
    the started_at index and sort every entry (half again its CPU). PostgreSQL already
    scans the covering index in order."""

    inherit_cache = True


@compiles(by_patient, "postgresql")
def _pg_by_patient(element: by_patient, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(by_patient)
def _sqlite_by_patient(element: by_patient, compiler: Any, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


@dataclass(frozen=True, slots=True)
class RiskFigures:
    """A patient's month as the risk scan reads it. With `exact` false only `patient_pk` and
    `patient_id` are meaningful: the caller tallies the patient in full."""

    patient_pk: int
    patient_id: str
    initials: str | None
    enrolled_on: date | None
    ended_on: date | None
    consent_on: date | None
    assigned_to: str | None
    counted_seconds: int
    live_interactions: int
    first_live_at: datetime | None
    entries: int  # standing entries with time in the month
    exact: bool


def _roles() -> list[Any]:
    """The counted roles bound one by one: a plain list is an expanding parameter, which
    makes SQLAlchemy rewrite the compiled SQL on every execution."""
    return [literal(role) for role in sorted(ROLES_THAT_COUNT)]


def _touches_month(started_at: Any) -> list[ColumnElement[bool]]:
    """store.month_totals' entries touching the month (at most a day before it), on `started_at`."""
    start = bindparam("start", type_=UTCDateTime())
    return [started_at >= bindparam("reach", type_=UTCDateTime()),
            started_at < bindparam("end", type_=UTCDateTime()), e.c.ended_at > start]


def _entry_rows(shape: str) -> Any:
    """The scope's entries touching the month, each with the latest end of the patient's
    earlier standing clinical clock-timed entries (NULL: none): an overlap when it passes
    the entry's start (the same order billing.tally sorts intervals in)."""
    counted = and_(e.c.voided_at.is_(None), e.c.staff_role.in_(_roles()))
    reach = func.max(case((and_(counted, e.c.clock_timed == true()), e.c.ended_at))).over(
        partition_by=e.c.patient_id, order_by=e.c.started_at, rows=(None, -1))
    return (select(e.c.patient_id, e.c.started_at, e.c.ended_at, e.c.live, e.c.clock_timed,
                   e.c.staff_role, e.c.voided_at, type_coerce(reach, UTCDateTime()).label("reach"))
            .where(*_touches_month(by_patient(e.c.started_at)), *_on(e.c.patient_id, shape))
            .subquery("month_entries"))


def _figures(shape: str) -> Any:
    """Per patient with entries: whole counted seconds before consent is applied, counted
    live interactions, the first one's start, standing entries, and any overlap."""
    s = _entry_rows(shape)
    counted = and_(s.c.voided_at.is_(None), s.c.staff_role.in_(_roles()))
    start = bindparam("start", type_=UTCDateTime())
    end = bindparam("end", type_=UTCDateTime())
    live = and_(counted, s.c.live == true(), s.c.started_at >= start, s.c.started_at < end,
                whole_seconds(s.c.started_at, s.c.ended_at) >= bindparam("min_live"))
    share = whole_seconds(later(s.c.started_at, start), earlier(s.c.ended_at, end))
    return (select(
        s.c.patient_id,
        func.sum(case((counted, share), else_=0)).label("seconds"),
        func.sum(case((live, 1), else_=0)).label("lives"),
        type_coerce(func.min(case((live, s.c.started_at))), UTCDateTime()).label("first_live"),
        func.sum(case((s.c.voided_at.is_(None), 1), else_=0)).label("entries"),
        func.max(case((and_(counted, s.c.clock_timed == true(),
                            s.c.reach > s.c.started_at), 1), else_=0)).label("overlaps"),
    ).group_by(s.c.patient_id).subquery("figures"))


def _exact(f: Any) -> ColumnElement[bool]:
    """Where the statement's figures are billing.tally's (see the module's docstring)."""
    return and_(func.coalesce(f.c.overlaps, 0) == 0, covers_month())


def covers_month() -> ColumnElement[bool]:
    """`_exact`'s conditions on the patient row: the window covers the month, and consent
    covers it, is missing or is dated after it."""
    first, last = bindparam("first_day"), bindparam("last_day")
    return and_(
        or_(p.c.enrolled_on.is_(None), p.c.enrolled_on <= first),
        or_(p.c.ended_on.is_(None), p.c.ended_on >= last),
        or_(p.c.consent_on.is_(None), p.c.consent_on <= first, p.c.consent_on > last),
    )


@cache
def risk_statement(shape: str) -> Select[Any]:
    """One row per patient of the scope whose window overlaps the month (no order): who
    they are, the figures (zero when consent is dated after the month; a missing consent
    limits nothing in billing.tally, it is a warning of the report) and `exact`."""
    f = _figures(shape)
    consented = or_(p.c.consent_on.is_(None), p.c.consent_on <= bindparam("first_day"))
    return (select(
        p.c.id, p.c.clinic_id, p.c.initials, p.c.enrolled_on, p.c.ended_on, p.c.consent_on,
        case((p.c.enrolled_on.is_(None), p.c.created_at)).label("created_at"),
        _assigned.c.slack_user_id,
        case((consented, func.coalesce(f.c.seconds, 0)), else_=0),
        case((consented, func.coalesce(f.c.lives, 0)), else_=0),
        case((consented, f.c.first_live)),
        func.coalesce(f.c.entries, 0),
        case((_exact(f), 1), else_=0),
    ).select_from(p.outerjoin(f, f.c.patient_id == p.c.id)
                  .outerjoin(_assigned, _assigned.c.id == p.c.assigned_staff_id))
        .where(_window_overlaps_month(), *_on_patients(shape)))


def risk_figures(conn: Conn, *, month: Month, zone: ZoneInfo, min_live_seconds: int,
                 scope: Scope, page_size: int) -> Iterator[RiskFigures]:
    """The month's patients in its programme (billing.programme) with their risk figures,
    and every patient whose figures are not exact (the caller decides those), in no order;
    fetched `page_size` rows at a time."""
    if scope.shape not in ("clinic", "caseload", "page"):
        raise ValueError(f"no risk statement for shape {scope.shape}")
    params = {**_scan_params(month, zone, min_live_seconds), **scope.params()}
    rows = conn.execute(risk_statement(scope.shape), params,
                        execution_options={"yield_per": page_size})
    for (pk, clinic_id, initials, enrolled, ended, consent, created, assigned, seconds,
         lives, first_live, entries, exact) in rows:
        if exact and enrolled is None and not in_programme(
                month, Window(enrolled, ended), entries_in_window=entries,
                created_on=created.astimezone(zone).date()):
            continue
        yield RiskFigures(pk, clinic_id, initials, enrolled, ended, consent, assigned,
                          int(seconds), int(lives), first_live, int(entries), bool(exact))
