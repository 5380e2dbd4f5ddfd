"""Month totals per patient from one query (never a running total, never stored).

The query reads each patient's entries that touch the clinic month; the pure rules in
billing.tally count them and billing.programme decides who is in the month's programme.
Voiding an entry or changing a window changes every later answer because nothing is stored.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import groupby
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Select,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.sql import ColumnElement

from billing.months import Month, start_of_day_utc
from billing.programme import Enrolment, in_programme
from billing.tally import (
    EntryCount,
    EntryTime,
    MonthBounds,
    MonthTally,
    NotCounted,
    running_totals,
    tally_month,
)
from store.db import Conn
from store.episodes import episodes_column, overlaps_month, spans
from store.sql_time import epoch_seconds
from store.tables import (
    calls,
    device_readings,
    month_close_events,
    patients,
    staff,
    time_entries,
)

# A statement in this module runs on a Core connection (issue 14); during the transition a
# caller may still hand in an ORM session, whose connection it then uses.


@dataclass(frozen=True)
class Scope:
    """Which patients a month query covers: one patient, one staff member's caseload, a page
    of a clinic-wide scan, or (nothing set) the whole clinic. The filter goes into the SQL, so
    a caseload reply costs the caseload's rows, not the clinic's."""

    patient_pk: int | None = None
    assigned_staff_pk: int | None = None
    patient_pks: tuple[int, ...] | None = None  # a page of a month scan
    patient_key: str | None = None  # one patient by clinic key (a reply: no lookup first)
    staff_user: str | None = None  # a caseload by the staff member's Slack id (likewise)

    @property
    def shape(self) -> str:
        """What the statement filters on; the values go in as bound parameters."""
        if self.patient_pk is not None:
            return "patient"
        if self.patient_key is not None:
            return "key"
        if self.patient_pks is not None:
            return "page"
        if self.staff_user is not None:
            return "staff_user"
        return "caseload" if self.assigned_staff_pk is not None else "clinic"

    def params(self) -> dict[str, Any]:
        return {"patient_pk": self.patient_pk or 0, "staff_pk": self.assigned_staff_pk or 0,
                "patient_pks": list(self.patient_pks or ()), "key": self.patient_key or "",
                "user": self.staff_user or ""}


p, e = patients, time_entries
_assigned = staff.alias("assigned")
_provider = staff.alias("provider")
_author = staff.alias("author")
_other = time_entries.alias("other")


def _on_patients(shape: str) -> list[ColumnElement[bool]]:
    """Scope conditions on patient rows."""
    if shape == "patient":
        return [p.c.id == bindparam("patient_pk")]
    if shape == "key":
        return [p.c.clinic_key == bindparam("key")]
    if shape == "caseload":
        return [p.c.assigned_staff_id == bindparam("staff_pk")]
    if shape == "staff_user":  # only an active member's caseload (the caller's check)
        return [_assigned.c.slack_user_id == bindparam("user"), _assigned.c.active == true()]
    if shape == "page":
        return [p.c.id.in_(bindparam("patient_pks", expanding=True))]
    return []


def _on(patient_id: Any, shape: str) -> list[ColumnElement[bool]]:
    """Scope conditions on a table's patient id column (calls)."""
    if shape == "patient":
        return [patient_id == bindparam("patient_pk")]
    if shape == "caseload":
        return [patient_id.in_(select(p.c.id).where(
            p.c.assigned_staff_id == bindparam("staff_pk")))]
    if shape in ("key", "staff_user"):
        raise ValueError(f"no separate statement for shape {shape}: its month rows carry it")
    if shape == "page":
        return [patient_id.in_(bindparam("patient_pks", expanding=True))]
    return []


def _rows(conn: Conn, statement: Select[Any], params: dict[str, Any],
          options: dict[str, Any] | None = None) -> Any:
    """Plain Core rows on the transaction's connection."""
    return conn.execute(statement, params, execution_options=options or {})


CLINIC = Scope()

# Call states the billing office must look at before billing a month (see service/calls.py).
CALL_STATES_TO_REVIEW = ("unclaimed", "unconfirmed", "unmatched", "after_close")


@dataclass(frozen=True)
class PatientMonthTotals:
    """A patient's month: who they are and what the month counts (billing.tally)."""

    patient_pk: int
    patient_id: str
    initials: str | None
    consent_on: date | None
    conditions: list[str]
    provider_pk: int | None
    enrolled_on: date | None
    ended_on: date | None
    assigned_staff_pk: int | None
    tally: MonthTally
    in_programme: bool  # billing.programme.in_programme: the one definition
    created_on: date  # the clinic day the patient was added
    # with `day_cuts`: (counted seconds, live interactions) of the month up to each cut
    so_far: tuple[tuple[int, int], ...] = ()
    assigned_to: str | None = None  # the assigned staff member's Slack id
    provider_name: str | None = None
    provider_npi: str | None = None
    # (entry id, overlapped entry id): entries dated in the month flagged as overlapping
    # another of the same staff member, while both stand and both are clock-timed
    overlaps: tuple[tuple[int, int], ...] = ()
    # with `detail`: staff pk -> (Slack id, name) of everyone with an entry in the rows
    authors: dict[int, tuple[str, str]] = field(default_factory=dict)
    # (call pk, state) of the patient's calls to review in the month, by pk: read with the
    # rows in SHAPES_WITH_CALLS, else empty (the scan reads them with `calls_to_review`)
    calls: tuple[tuple[int, str], ...] = ()
    # in REPLY_SHAPES: the month's close record, read in the same statement
    close_record: "CloseRecord | None" = None
    # the order behind the monitoring (billing.audit_checks.hold_reasons): the last two
    # columns of every month row
    ordering_provider_pk: int | None = None
    order_on: date | None = None
    # the patient's enrolment episodes (billing.programme), read with the month rows
    enrolment: Enrolment | None = None
    # a reply's reading instants (UTC, oldest first), read with the rows; None: a scan's,
    # read per page by the service (store.devices.instants_of)
    readings: tuple[datetime, ...] | None = None

    @property
    def counted_seconds(self) -> int:
        return self.tally.counted_seconds

    @property
    def uncounted_seconds(self) -> int:
        return self.tally.uncounted_seconds

    @property
    def live_interactions(self) -> int:
        return self.tally.live_interactions

    @property
    def first_live_at(self) -> datetime | None:
        return self.tally.first_live_at

    @property
    def entries(self) -> int:
        return self.tally.entries

    @property
    def voided_entries(self) -> int:
        return self.tally.voided_entries

    @property
    def not_counted(self) -> tuple[NotCounted, ...]:
        return self.tally.not_counted

    @property
    def short_live(self) -> tuple[int, ...]:
        return self.tally.short_live

    @property
    def entry_counts(self) -> tuple[EntryCount, ...]:
        return self.tally.by_entry


def _in_month(started_at: Any) -> ColumnElement[bool]:
    return and_(started_at >= bindparam("start"), started_at < bindparam("end"))


def _touches_month(entry: Any = e) -> ColumnElement[bool]:
    """Entries with time in the month: those that started in it, and those that started
    before it (at most a day: no entry is longer) and end after its first instant."""
    return and_(entry.c.started_at >= bindparam("reach"),
                entry.c.started_at < bindparam("end"),
                entry.c.ended_at > bindparam("start"))


def _window_overlaps_month() -> ColumnElement[bool]:
    """A necessary condition of being in the month's programme, so a clinic scan reads only
    candidates: an enrolment episode overlaps the month (the latest one's dates are on the
    patient row; a patient with no episode row has those alone). The decision itself is
    billing.programme (in Python, over these rows)."""
    return or_(and_(
        or_(p.c.enrolled_on.is_(None), p.c.enrolled_on <= bindparam("last_day")),
        or_(p.c.ended_on.is_(None), p.c.ended_on >= bindparam("first_day")),
    ), overlaps_month())


_EVENT_COLUMNS = ("id", "month", "action", "at", "by", "reason", "record", "recorded_at",
                  "billed", "by_name")


@dataclass(frozen=True)
class CloseEvent:
    """A close or reopen of a month (month_close_events), as the month figures read it."""

    id: int
    month: str
    action: str  # close | reopen
    at: datetime
    by: str
    reason: str | None
    record: str | None
    recorded_at: datetime | None
    billed: bool | None  # a reopen: whether the close it undid had been billed
    by_name: str | None  # the staff member's name when `by` is one (service.closes.signed)


def _event_of(values: Any) -> CloseEvent | None:
    return CloseEvent(*values) if values[0] is not None else None


@dataclass(frozen=True)
class CloseRecord:
    """The month's close history as the month figures read it: its newest event (the month
    is closed when it is a close) and the close that was billed (`_billed_close`), reopened
    since or not."""

    latest_event: CloseEvent | None
    billed_close: CloseEvent | None

    @property
    def closed(self) -> CloseEvent | None:
        """The close while the month is closed (None when open or reopened since)."""
        event = self.latest_event
        return event if event is not None and event.action == "close" else None


_events = month_close_events
_event = month_close_events.alias("latest_event")
_close = month_close_events.alias("billed_close")


def _newest_id(*where: Any) -> Any:
    """The newest event id of the month matching `where` (its own alias: never correlated
    with the statement it sits in)."""
    events = month_close_events.alias()
    return select(func.max(events.c.id)).where(
        events.c.month == bindparam("month"), *(w(events) for w in where)).scalar_subquery()


_newest = _newest_id()
# What was billed: the close undone by the month's newest reopen marked billed (a reopen
# only ever follows a close, so it is the newest close before that reopen); with no such
# reopen, the month's newest close, reopened since or not (a reopen marked not billed, or
# one from before reopens said, leaves the next close as the base).
_newest_billed_reopen = _newest_id(lambda t: t.c.action == "reopen", lambda t: t.c.billed == true())
_billed_close = func.coalesce(
    _newest_id(lambda t: t.c.action == "close", lambda t: t.c.id < _newest_billed_reopen),
    _newest_id(lambda t: t.c.action == "close"))
_CLOSE_RECORD = select(*(_events.c[name] for name in _EVENT_COLUMNS),
                       (_events.c.id == _billed_close).label("billed_base")).where(
    _events.c.id.in_([_newest, _billed_close])).order_by(_events.c.id)


def close_record(conn: Conn, month: str) -> CloseRecord:
    """The month's newest event and its billed close in one statement (one or two rows)."""
    rows = list(_rows(conn, _CLOSE_RECORD, {"month": month}))
    events = [CloseEvent(*row[:-1]) for row in rows]
    billed = [event for event, row in zip(events, rows, strict=True) if row[-1]]
    return CloseRecord(events[-1] if events else None, billed[0] if billed else None)


# Each statement below is built once per shape and run with bound parameters: building a
# statement of this size costs several times more CPU than running it, and every Slack
# reply runs it.

# Column positions of a month row: the patient's (with created_at), the entry's, then what
# the reply shows beside the figures (overlap, assigned staff, provider, the entry's author).
_ENTRY = 10
_OVERLAPPED, _ASSIGNED, _PROVIDER_NAME, _PROVIDER_NPI, _CALLS = range(18, 23)
_AUTHOR, _AUTHOR_NAME = 23, 24

# Reply shapes: their month statement also carries each patient's calls to review and the
# month's close record (a reply's one statement says everything); a scan reads those once
# in `calls_to_review` and `close_record`, not on each of its rows.
REPLY_SHAPES = frozenset({"patient", "key", "caseload", "staff_user"})
_CLOSE_AT = 25  # with detail (2 more columns: the author) the record starts at 25, else 23


def _calls_column() -> Any:
    """The patient's calls to review in the month, as "id:state,id:state" (any order). The
    states are bound one by one and the separator is written into the SQL: a plain list
    (an expanding parameter) or a string separator (a literal-execute one) would make
    SQLAlchemy rewrite the compiled SQL on every execution of every reply."""
    states = [literal(state) for state in CALL_STATES_TO_REVIEW]
    return select(func.aggregate_strings(
        cast(calls.c.id, String) + ":" + calls.c.state, literal_column("','"))).where(
        calls.c.patient_id == p.c.id, calls.c.state.in_(states),
        _in_month(calls.c.started_at)).scalar_subquery()


def _readings_column() -> Any:
    """A reply's patient's reading instants (store/devices.py) as whole epoch seconds
    joined by commas, so a reply's month figures stay one statement (a scan reads its
    page's readings with `store.devices.instants_of`)."""
    found = select(func.aggregate_strings(
        cast(epoch_seconds(device_readings.c.measured_at), String), literal_column("','"))
    ).where(device_readings.c.patient_id == p.c.id).scalar_subquery()
    return func.coalesce(found, "")  # '': read, none


def readings_of(text: str | None) -> tuple[datetime, ...] | None:
    """`_readings_column`'s text as UTC instants, oldest first; None: not read."""
    if text is None:
        return None
    return tuple(sorted(datetime.fromtimestamp(int(n), UTC) for n in text.split(",") if n))


@cache
def _month_rows_statement(shape: str, detail: bool = True) -> Select[Any]:
    """Each patient of the scope with every entry touching the month (one row per entry, a
    row of NULLs for a patient with none), in clinic-id then time order; on each row the
    entry it overlaps (when that entry stands and both are clock-timed), the assigned staff
    member's Slack id and the provider; with `detail`, the entry's author (Slack id, name).
    One statement: a reply's month figures never take a second read."""
    columns = [
        p.c.id, p.c.clinic_id, p.c.initials, p.c.consent_on, p.c.conditions, p.c.provider_id,
        p.c.enrolled_on, p.c.ended_on, p.c.assigned_staff_id, p.c.created_at,
        e.c.id, e.c.staff_id, e.c.staff_role, e.c.started_at, e.c.ended_at,
        e.c.live, e.c.clock_timed, e.c.voided_at.is_not(None),
        _other.c.id, _assigned.c.slack_user_id, _provider.c.name, _provider.c.npi,
        _calls_column() if shape in REPLY_SHAPES else null(),
    ]
    joined = (
        p.outerjoin(e, and_(e.c.patient_id == p.c.id, _touches_month()))
        .outerjoin(_other, and_(_other.c.id == e.c.overlaps_entry_id,
                                _other.c.voided_at.is_(None), _other.c.clock_timed == true()))
        .outerjoin(_assigned, _assigned.c.id == p.c.assigned_staff_id)
        .outerjoin(_provider, _provider.c.id == p.c.provider_id)
    )
    if detail:
        columns += [_author.c.slack_user_id, _author.c.name]
        joined = joined.outerjoin(_author, _author.c.id == e.c.staff_id)
    if shape in REPLY_SHAPES:  # the month's newest event and newest close, joined once
        columns += [_event.c[name] for name in _EVENT_COLUMNS]
        columns += [_close.c[name] for name in _EVENT_COLUMNS]
        joined = (joined.outerjoin(_event, _event.c.id == _newest)
                  .outerjoin(_close, _close.c.id == _billed_close))
    # last: read as first[-4:] (the episodes as text: store.episodes; a reply's reading
    # instants as text: `_readings_column`)
    columns += [p.c.ordering_provider_id, p.c.order_on, episodes_column(),
                _readings_column() if shape in REPLY_SHAPES else null()]
    query = (select(*columns).select_from(joined).where(*_on_patients(shape))
             .order_by(p.c.clinic_key, e.c.started_at, e.c.id))
    if shape not in ("patient", "key"):
        query = query.where(_window_overlaps_month())
    return query


# The longest entry the settings allow (MAX_ENTRY_MINUTES is at most 24 h): how far before
# the month an entry that runs into it may have started.
LONGEST_ENTRY = timedelta(days=1)


def _patient_totals(rows: list[Any], month: Month, zone: ZoneInfo, min_live_seconds: int,
                    day_cuts: tuple[datetime, ...] = (), detail: bool = True,
                    record: "CloseRecord | None" = None,
                    month_bounds: tuple[datetime, datetime] | None = None,
                    ) -> PatientMonthTotals:
    """One patient's rows turned into totals (whether in the month's programme or not)."""
    first = rows[0]
    enrolment = enrolment_of(first[-2], first[6], first[7])
    start, end = month_bounds or month.bounds_utc(zone)
    consent = start_of_day_utc(first[3], zone) if first[3] else None
    entries = [EntryTime(int(r[10]), int(r[11]), r[12], r[13], r[14], bool(r[15]),
                         bool(r[16]), bool(r[17])) for r in rows if r[10] is not None]
    bounds = MonthBounds(start, end, consent_start=consent, windows=enrolment.instants(zone))
    tally = tally_month(entries, bounds, min_live_seconds=min_live_seconds)
    so_far = running_totals(entries, bounds, day_cuts,
                            min_live_seconds=min_live_seconds) if day_cuts else ()
    created_on = first[9].astimezone(zone).date()
    enrolled = in_programme(month, enrolment, entries_in_window=tally.entries_in_window,
                            created_on=created_on)
    # an overlap flag counts while both entries stand, both clock-timed (the join checks
    # the other entry), for entries dated in the month
    overlaps = tuple((int(r[10]), int(r[_OVERLAPPED])) for r in rows
                     if r[_OVERLAPPED] is not None and not r[17] and r[16]
                     and start <= r[13] < end)
    authors = {int(r[11]): (r[_AUTHOR], r[_AUTHOR_NAME]) for r in rows
               if r[10] is not None} if detail else {}
    review = tuple(sorted((int(pk), state) for pk, state in (
        call.split(":", 1) for call in (first[_CALLS] or "").split(",") if call)))
    return PatientMonthTotals(*first[:9], tally=tally, in_programme=enrolled,
                              created_on=created_on, so_far=so_far,
                              assigned_to=first[_ASSIGNED], provider_name=first[_PROVIDER_NAME],
                              provider_npi=first[_PROVIDER_NPI], overlaps=overlaps,
                              authors=authors, calls=review, close_record=record,
                              ordering_provider_pk=first[-4], order_on=first[-3],
                              enrolment=enrolment, readings=readings_of(first[-1]))


def enrolment_of(text: str | None, enrolled_on: date | None,
                 ended_on: date | None) -> Enrolment:
    """The episodes of `episodes_column`'s text; with none on record, the patient row's own
    window (the latest episode's dates)."""
    found = spans(text)
    return Enrolment.of(found) if found else Enrolment.single(enrolled_on, ended_on)


def _record_of(row: Any, detail: bool) -> CloseRecord:
    """The month's close record carried by a reply's month row."""
    at = _CLOSE_AT if detail else _CLOSE_AT - 2
    width = len(_EVENT_COLUMNS)
    return CloseRecord(_event_of(row[at:at + width]), _event_of(row[at + width:at + 2 * width]))


def month_totals(
    conn: Conn,
    *,
    month: Month,
    zone: ZoneInfo,
    min_live_seconds: int,
    scope: Scope = CLINIC,
    page_size: int | None = None,
    day_cuts: tuple[datetime, ...] = (),
    detail: bool = True,
) -> Iterator[PatientMonthTotals]:
    """Totals for one patient (in the programme or not) or for every patient of the scope in
    the month's programme: the report, the risk lists and the dashboard read the same rows.

    One statement reads the entries touching the month; billing.tally counts them (split at
    midnight, window, consent, live floor, clock-timed union) and billing.programme decides
    who is in the month's programme. With `day_cuts`, each row also carries the month so far
    at each cut (billing.tally.running_totals: the dashboard chart). With `page_size`, rows
    come from the database that many at a time (a server-side cursor on PostgreSQL), so a
    large clinic is never fetched whole. Without `detail`, the entries' authors are not read
    (risk lists show no per-staff shares).
    """
    start, end = month.bounds_utc(zone)
    params = {**_scan_params(month, zone, min_live_seconds), **scope.params()}
    options = {"yield_per": page_size} if page_size else {}
    rows = _rows(conn, _month_rows_statement(scope.shape, detail), params, options)
    record: CloseRecord | None = None
    for _, group in groupby(rows, key=itemgetter(0)):
        patient_rows = list(group)
        if record is None and scope.shape in REPLY_SHAPES:  # on every row: read it once
            record = _record_of(patient_rows[0], detail)
        totals = _patient_totals(patient_rows, month, zone, min_live_seconds, day_cuts,
                                 detail, record, (start, end))
        if scope.shape in ("patient", "key") or totals.in_programme:
            yield totals


def _scan_params(month: Month, zone: ZoneInfo, min_live_seconds: int) -> dict[str, Any]:
    """The bound values of a month statement."""
    start, end = month.bounds_utc(zone)
    return {"start": start, "end": end, "reach": start - LONGEST_ENTRY,
            "first_day": month.first_day, "last_day": month.last_day, "month": str(month),
            "min_live": min_live_seconds}


def _month_params(start: datetime, end: datetime, scope: Scope) -> dict[str, Any]:
    return {"start": start, "end": end, **scope.params()}


@cache
def _calls_statement(shape: str) -> Select[Any]:
    return select(calls.c.patient_id, calls.c.id, calls.c.state).where(
        calls.c.state.in_(CALL_STATES_TO_REVIEW), _in_month(calls.c.started_at),
        *_on(calls.c.patient_id, shape),
    ).order_by(calls.c.id)


def calls_to_review(
    conn: Conn, *, start: datetime, end: datetime, scope: Scope = CLINIC
) -> list[tuple[int | None, int, str]]:
    """(patient pk or None, call pk, state) of the month's calls that are not settled."""
    rows = _rows(conn, _calls_statement(scope.shape), _month_params(start, end, scope))
    return [(p, int(c), s) for p, c, s in rows]
