"""What the self-audit checks read besides the month's tally (issue 16, part 2).

The per patient-month totals are the report's (store.month_totals, read by the use case
through MonthService.report_in): nothing here counts time a second way. These statements read
the month's entries with their notes and calls, each patient's billing provider and order,
and the
new enrolments of the checked month and the months before it (a plain aggregate, in SQL).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import String, and_, bindparam, case, exists, func, or_, select, union_all

from billing.audit_checks import Banded
from store.db import Conn
from store.month_totals import LONGEST_ENTRY
from store.tables import (
    calls,
    enrolment_episodes,
    month_close_events,
    month_close_lines,
    patients,
    staff,
    time_entries,
)
from store.types import UTCDateTime

E = time_entries.c
_author = staff.alias("author")
_provider = staff.alias("provider")

_call_of_entry = calls.c.entry_id == E.id
_ENTRIES = (
    select(
        E.id, patients.c.clinic_id, _author.c.slack_user_id, E.staff_role, E.started_at,
        E.ended_at, E.created_at, E.voided_at.is_not(None).label("voided"), E.clock_timed,
        E.note,
        select(func.max(calls.c.note)).where(_call_of_entry).scalar_subquery()
        .label("call_note"),
        or_(E.source == "twilio", exists().where(_call_of_entry)).label("captured"),
        E.amendment_reason, E.void_amendment_reason,
    )
    .select_from(time_entries.join(patients, patients.c.id == E.patient_id)
                 .join(_author, _author.c.id == E.staff_id))
    .where(E.started_at >= bindparam("reach"), E.started_at < bindparam("end"),
           E.ended_at > bindparam("start"))
    .order_by(E.started_at, E.id)
)


def month_entries(conn: Conn, *, start: datetime, end: datetime) -> list[Any]:
    """Every entry with time in [start, end), voided ones too, oldest first: its patient's
    clinic id, its author's Slack id, its note and its call's note, and whether a Twilio call
    recorded it (webhook or reconciliation)."""
    return list(conn.execute(_ENTRIES, {"start": start, "end": end,
                                        "reach": start - LONGEST_ENTRY}))


@dataclass(frozen=True)
class BillingFacts:
    """What a claim needs of a patient besides the month's figures: the billing provider
    (Slack id and today's role) and the order (who ordered the monitoring, when)."""

    provider: str | None
    provider_role: str | None
    ordered_by: str | None
    order_on: date | None


_ordering = staff.alias("ordering")
_BILLING_FACTS = (
    select(patients.c.clinic_id, _provider.c.slack_user_id, _provider.c.role,
           _ordering.c.slack_user_id, patients.c.order_on)
    .select_from(patients
                 .outerjoin(_provider, _provider.c.id == patients.c.provider_id)
                 .outerjoin(_ordering, _ordering.c.id == patients.c.ordering_provider_id))
    .where(patients.c.clinic_id.in_(bindparam("ids", expanding=True)))
)


def billing_facts(conn: Conn, clinic_ids: Sequence[str]) -> dict[str, BillingFacts]:
    """Each listed patient's billing provider and order, by clinic id."""
    if not clinic_ids:
        return {}
    return {row[0]: BillingFacts(*row[1:])
            for row in conn.execute(_BILLING_FACTS, {"ids": list(clinic_ids)})}


@dataclass(frozen=True)
class MonthSpan:
    """A clinic month as dates (enrolment dates) and UTC instants (when a patient without
    an enrolment date was added: such a patient is in the programme from then)."""

    first_day: date
    last_day: date
    start: datetime
    end: datetime


def _enrolled_in(i: int) -> Any:
    """Enrolments starting in span `i`: every enrolment episode starting in it (a returning
    patient's too), a patient row with no episode on record by its enrolment date, and a
    patient without an enrolment date by the day they were added."""
    def within(day: Any) -> Any:
        return and_(day >= bindparam(f"first{i}"), day <= bindparam(f"last{i}"))
    episodes = (select(func.count()).select_from(enrolment_episodes)
                .where(within(enrolment_episodes.c.started_on)).scalar_subquery())
    enrolled = patients.c.enrolled_on
    bare = ~exists().where(enrolment_episodes.c.patient_id == patients.c.id)
    return func.coalesce(func.sum(case((or_(
        and_(bare, within(enrolled)),
        and_(enrolled.is_(None), patients.c.created_at >= bindparam(f"start{i}"),
             patients.c.created_at < bindparam(f"end{i}")),
    ), 1), else_=0)), 0) + episodes


SPANS = 4  # the checked month and the three before it
_NEW_ENROLMENTS = select(*(_enrolled_in(i) for i in range(SPANS))).select_from(patients)


def new_enrolments(conn: Conn, spans: Sequence[MonthSpan]) -> tuple[int, ...]:
    """New enrolments in each span (SPANS of them), in one statement."""
    assert len(spans) == SPANS
    params: dict[str, Any] = {}
    for i, span in enumerate(spans):
        params |= {f"first{i}": span.first_day, f"last{i}": span.last_day,
                   f"start{i}": span.start, f"end{i}": span.end}
    return tuple(int(n) for n in conn.execute(_NEW_ENROLMENTS, params).one())


# -- heaping's trailing window ---------------------------------------------------------------

_events = month_close_events
_lines = month_close_lines


def _spans(count: int) -> Any:
    """The window's months as rows (month text, UTC start, UTC end), from parameters."""
    rows = [select(bindparam(f"month{i}", type_=String()).label("month"),
                   bindparam(f"start{i}", type_=UTCDateTime()).label("start"),
                   bindparam(f"end{i}", type_=UTCDateTime()).label("end"))
            for i in range(count)]
    return union_all(*rows).cte("spans")


@lru_cache(maxsize=4)
def _band_statement(count: int) -> Any:
    spans = _spans(count)
    latest = (select(_events.c.month, func.max(_events.c.id).label("id"))
              .where(_events.c.action == "close", _events.c.month.in_(select(spans.c.month)))
              .group_by(_events.c.month).cte("latest"))
    minute = (_lines.c.total_seconds // 60).label("minute")
    lines = (select(_lines.c.patient_id, spans.c.start, spans.c.end, minute)
             .select_from(_lines.join(latest, latest.c.id == _lines.c.event_id)
                          .join(spans, spans.c.month == latest.c.month))
             .where(minute.in_(bindparam("minutes", expanding=True))).cte("banded"))
    main = (select(staff.c.slack_user_id)
            .select_from(time_entries.join(staff, staff.c.id == time_entries.c.staff_id))
            .where(time_entries.c.patient_id == lines.c.patient_id,
                   time_entries.c.voided_at.is_(None),
                   time_entries.c.staff_role.in_(bindparam("roles", expanding=True)),
                   time_entries.c.started_at >= lines.c.start,
                   time_entries.c.started_at < lines.c.end)
            .group_by(staff.c.slack_user_id)
            .order_by(func.sum(time_entries.c.duration_seconds).desc(), staff.c.slack_user_id)
            .limit(1).correlate(lines).scalar_subquery().label("staff"))
    per = select(lines.c.minute, main).subquery()
    return (select(per.c.minute, per.c.staff, func.count().label("months"))
            .group_by(per.c.minute, per.c.staff))


@dataclass(frozen=True)
class WindowMonth:
    """A month of the trailing window: its text and its UTC bounds in clinic time."""

    month: str
    start: datetime
    end: datetime


def heaping_bands(conn: Conn, window: Sequence[WindowMonth], minutes: Sequence[int],
                  roles: Sequence[str]) -> list[Banded]:
    """The months before the checked one, as their latest close recorded them (each
    patient's counted seconds at the close: the tally, never counted again here): how many
    patient-months landed in each of `minutes`, per main staff member (who logged the most
    standing time of `roles` for the patient that month). One aggregate statement."""
    if not window:
        return []
    params: dict[str, Any] = {"minutes": list(minutes), "roles": list(roles)}
    for i, span in enumerate(window):
        params |= {f"month{i}": span.month, f"start{i}": span.start, f"end{i}": span.end}
    return [Banded(int(m), s, int(n))
            for m, s, n in conn.execute(_band_statement(len(window)), params)]
