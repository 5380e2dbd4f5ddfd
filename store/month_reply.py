"""A reply's month figures for one patient from one aggregate statement (issue 25).

`/rpm log` and `/rpm status PATIENT` show one patient's month: counted time, live contact,
codes, what is still needed and the warnings. Tallying the month in Python costs ~25 us an
entry, so a busy month's reply grew with the month. This statement states the figures in SQL,
GROUP BY over the patient's entries touching the month, with everything else the reply shows
(the patient, the calls to review, the month's close record, the order behind the
monitoring), so a reply costs the same on day 1 and day 31.

billing.tally stays the definition. The figures are store.month_risk's (its module docstring
says when they are billing.tally's), and a patient is `exact` here only under month_risk's
conditions and two more, so that nothing the reply shows needs the tally's per-entry work:

- consent is missing or dated on or before the month's first day (consent dated after the
  month makes every entry's time "not counted, before the consent date", a per-entry note);
- no standing clinical live entry started in the month is under MIN_LIVE_CALL_SECONDS (the
  warning names each such entry).

Under them the tally's warnings reduce to figures this statement reads: the non-clinical
seconds (the tally sums their shares in microseconds and floors the sum: `micros`), the voided
entries, and the overlap flags shown (entries dated in the month flagged as overlapping another
of the same staff member's, both standing and clock-timed, as store.month_totals reads them).
Any other patient comes back with `exact` false and the caller tallies the month in full.
tests/service/test_risk_equivalence.py holds the reply built from these figures equal to the
reply built from the full tally, on generated months, on both databases.
"""

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    not_,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.sql import ColumnElement

from billing.months import Month
from billing.programme import Enrolment, in_programme
from billing.tally import EntryCount, NotCounted
from store.db import Conn
from store.episodes import episodes_column
from store.month_risk import _roles, _touches_month, covers_month, earlier, later
from store.month_totals import (
    _EVENT_COLUMNS,
    CloseRecord,
    Scope,
    _assigned,
    _billed_close,
    _calls_column,
    _close,
    _event,
    _event_of,
    _newest,
    _provider,
    _scan_params,
    enrolment_of,
)
from store.sql_time import micros, whole_seconds
from store.tables import patients, time_entries
from store.types import UTCDateTime

p, e = patients, time_entries
_flagged = time_entries.alias("flagged")
_keyed = patients.alias("keyed")


@dataclass(frozen=True, slots=True)
class ReplyFigures:
    """One patient's month as a reply shows it. With `exact` false only the patient's
    identity (`patient_pk`, `patient_id`) is meaningful: the caller tallies the month."""

    patient_pk: int
    patient_id: str
    initials: str | None
    consent_on: date | None
    conditions: list[str]
    provider_pk: int | None
    enrolled_on: date | None
    ended_on: date | None
    assigned_staff_pk: int | None
    created_on: date
    counted_seconds: int
    uncounted_seconds: int
    live_interactions: int
    first_live_at: datetime | None
    entries: int  # standing entries with time in the month
    voided_entries: int
    overlaps: tuple[tuple[int, int], ...]
    assigned_to: str | None
    provider_name: str | None
    provider_npi: str | None
    calls: tuple[tuple[int, str], ...]
    close_record: CloseRecord
    ordering_provider_pk: int | None
    order_on: date | None
    enrolment: Enrolment
    in_programme: bool
    exact: bool

    # what only the full tally lists, none of which an exact month's reply shows: the
    # non-clinical shares not counted (the reply says their sum), each entry's count
    not_counted: tuple[NotCounted, ...] = ()
    short_live: tuple[int, ...] = ()  # none where exact
    entry_counts: tuple[EntryCount, ...] = ()


def _on_entries(shape: str) -> ColumnElement[bool]:
    if shape == "patient":
        return e.c.patient_id == bindparam("patient_pk")
    if shape == "key":
        return e.c.patient_id == select(_keyed.c.id).where(
            _keyed.c.clinic_key == bindparam("key")).scalar_subquery()
    raise ValueError(f"no reply statement for shape {shape}")


def _on_patient(shape: str) -> ColumnElement[bool]:
    return (p.c.id == bindparam("patient_pk") if shape == "patient"
            else p.c.clinic_key == bindparam("key"))


def _overlapping(shape: str) -> Any:
    """How many of the patient's standing clinical clock-timed entries touching the month
    start before an earlier one ends (store.month_risk's `overlaps`, the same order), the
    window run over those entries only: a month of estimated entries has none to order."""
    timed = (select(e.c.started_at, type_coerce(func.max(e.c.ended_at).over(
        order_by=e.c.started_at, rows=(None, -1)), UTCDateTime()).label("reach"))
        .where(*_touches_month(e.c.started_at), _on_entries(shape), e.c.voided_at.is_(None),
               e.c.staff_role.in_(_roles()), e.c.clock_timed == true())
        .subquery("clock_timed"))
    return (select(func.count()).select_from(timed)
            .where(timed.c.reach > timed.c.started_at).scalar_subquery())


def _entry_rows(shape: str) -> Any:
    """The patient's entries touching the month, with the entry each is flagged as
    overlapping when that one stands and is clock-timed (store.month_totals)."""
    return (select(e.c.id, e.c.patient_id, e.c.started_at, e.c.ended_at, e.c.live,
                   e.c.clock_timed, e.c.staff_role, e.c.voided_at,
                   _flagged.c.id.label("flagged"))
            .select_from(e.outerjoin(_flagged, and_(
                _flagged.c.id == e.c.overlaps_entry_id, _flagged.c.voided_at.is_(None),
                _flagged.c.clock_timed == true())))
            .where(*_touches_month(e.c.started_at), _on_entries(shape))
            .subquery("month_entries"))


def _figures(shape: str) -> Any:
    """store.month_risk's figures, and what the reply's warnings read besides."""
    s = _entry_rows(shape)
    standing = s.c.voided_at.is_(None)
    clinical = s.c.staff_role.in_(_roles())
    counted = and_(standing, clinical)
    start = bindparam("start", type_=UTCDateTime())
    end = bindparam("end", type_=UTCDateTime())
    in_month = and_(s.c.started_at >= start, s.c.started_at < end)
    lasted = whole_seconds(s.c.started_at, s.c.ended_at)
    live = and_(counted, s.c.live == true(), in_month, lasted >= bindparam("min_live"))
    short = and_(counted, s.c.live == true(), in_month, lasted < bindparam("min_live"))
    share_start, share_end = later(s.c.started_at, start), earlier(s.c.ended_at, end)
    # an entry inside the month is its own share: no clipping (half the statement's CPU)
    inside = and_(s.c.started_at >= start, s.c.ended_at <= end)
    share = case((inside, lasted), else_=whole_seconds(share_start, share_end))
    flag = case((and_(standing, s.c.clock_timed == true(), s.c.flagged.is_not(None), in_month),
                 cast(s.c.id, String) + ":" + cast(s.c.flagged, String)))
    return (select(  # one patient's rows: no GROUP BY (none to sort or hash)
        func.max(s.c.patient_id).label("patient_id"),
        func.sum(case((counted, share), else_=0))
        .label("seconds"),
        func.sum(case((live, 1), else_=0)).label("lives"),
        type_coerce(func.min(case((live, s.c.started_at))), UTCDateTime()).label("first_live"),
        func.sum(case((standing, 1), else_=0)).label("entries"),
        func.sum(case((standing, 0), else_=1)).label("voided"),
        func.sum(case((and_(standing, not_(clinical)), micros(share_start, share_end)),
                      else_=0)).label("uncounted"),
        func.sum(case((short, 1), else_=0)).label("short"),
        func.aggregate_strings(flag, literal_column("','")).label("flags"),
    ).subquery("figures"))


@cache
def reply_statement(shape: str) -> Select[Any]:
    """One row for the patient (none: no such patient), in the month's programme or not."""
    f = _figures(shape)
    first = bindparam("first_day")
    exact = and_(_overlapping(shape) == 0, covers_month(),
                 or_(p.c.consent_on.is_(None), p.c.consent_on <= first),
                 func.coalesce(f.c.short, 0) == 0)
    return (select(
        p.c.id, p.c.clinic_id, p.c.initials, p.c.consent_on, p.c.conditions, p.c.provider_id,
        p.c.enrolled_on, p.c.ended_on, p.c.assigned_staff_id, p.c.created_at,
        func.coalesce(f.c.seconds, 0), func.coalesce(f.c.lives, 0), f.c.first_live,
        func.coalesce(f.c.entries, 0), func.coalesce(f.c.voided, 0),
        func.coalesce(f.c.uncounted, 0), f.c.flags,
        case((exact, 1), else_=0),
        _assigned.c.slack_user_id, _provider.c.name, _provider.c.npi, _calls_column(),
        *(_event.c[name] for name in _EVENT_COLUMNS),
        *(_close.c[name] for name in _EVENT_COLUMNS),
        p.c.ordering_provider_id, p.c.order_on, episodes_column(),
    ).select_from(p.outerjoin(f, f.c.patient_id == p.c.id)
                  .outerjoin(_assigned, _assigned.c.id == p.c.assigned_staff_id)
                  .outerjoin(_provider, _provider.c.id == p.c.provider_id)
                  .outerjoin(_event, _event.c.id == _newest)
                  .outerjoin(_close, _close.c.id == _billed_close))
        .where(_on_patient(shape)))


_MICROS = 1_000_000
_WIDTH = len(_EVENT_COLUMNS)


def _pairs(text: str | None) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in (item.split(":", 1)
                                          for item in (text or "").split(",") if item)]


def _review(text: str | None) -> tuple[tuple[int, str], ...]:
    """The calls to review, "id:state,..." as store.month_totals reads them."""
    return tuple(sorted((int(pk), state) for pk, state in (
        item.split(":", 1) for item in (text or "").split(",") if item)))


def reply_figures(conn: Conn, *, month: Month, zone: ZoneInfo, min_live_seconds: int,
                  scope: Scope) -> ReplyFigures | None:
    """The patient's month figures for a reply (scope: a patient by pk or by clinic key);
    None when no patient matches."""
    params = {**_scan_params(month, zone, min_live_seconds), **scope.params()}
    row = conn.execute(reply_statement(scope.shape), params).first()
    if row is None:
        return None
    (pk, clinic_id, initials, consent, conditions, provider_pk, enrolled, ended, assigned_pk,
     created, seconds, lives, first_live, entries, voided, uncounted, flags, exact,
     assigned, provider_name, provider_npi, calls) = row[:22]
    events = row[22:22 + 2 * _WIDTH]
    ordering_pk, order_on, episodes = row[22 + 2 * _WIDTH:]
    enrolment = enrolment_of(episodes, enrolled, ended)
    created_on = created.astimezone(zone).date()
    return ReplyFigures(
        int(pk), clinic_id, initials, consent, conditions, provider_pk, enrolled, ended,
        assigned_pk, created_on, int(seconds), int(uncounted) // _MICROS, int(lives),
        first_live, int(entries), int(voided), tuple(_pairs(flags)), assigned,
        provider_name, provider_npi, _review(calls),
        CloseRecord(_event_of(events[:_WIDTH]), _event_of(events[_WIDTH:])),
        ordering_pk, order_on, enrolment,
        # exact: every standing entry with time in the month is inside the window
        in_programme(month, enrolment, entries_in_window=int(entries), created_on=created_on),
        bool(exact))
