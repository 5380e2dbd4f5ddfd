"""Month summaries: store totals + the pure rules + warnings a billing office needs."""

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from billing.audit_checks import NO_ORDER, hold_reasons
from billing.codes import (
    ROLES_THAT_COUNT,
    MonthActivity,
    MonthAssessment,
    assess_month,
    format_codes,
)
from billing.devices import codes_in_month, days_through, month_period, period_verdict
from billing.durations import format_seconds
from billing.fees import amount_still_to_win, expected_amount
from billing.months import Month, clinic_day, start_of_day_utc
from billing.programme import Enrolment
from billing.risk import SEVERITY_ORDER, PatientWindow, RiskAssessment, assess_risk
from billing.tally import REASONS, EntryTime, MonthBounds, NotCounted, tally_month
from service.close_records import BilledRecords
from service.closes import signed
from service.context import Policy, ServiceContext
from service.devices import periods_of, short_of_readings
from service.errors import BadInput
from service.lookups import (
    clean_slack_user_id,
    find_staff,
    patient_key,
    require_active_staff,
    require_admin,
    require_patient,
)
from service.views import (
    CloseDifference,
    MonthSummary,
    MonthTotals,
    PatientRisk,
    StaffMinutes,
)
from store import devices as device_rows
from store.db import Conn
from store.month_reply import ReplyFigures, reply_figures
from store.month_risk import RiskFigures, risk_figures
from store.month_totals import (
    CLINIC,
    REPLY_SHAPES,
    CloseRecord,
    PatientMonthTotals,
    Scope,
    calls_to_review,
    close_record,
    month_totals,
)

# the report's note beside the consent one: what holds a month with codes (the close leaves it
# out of what is billed, billing.audit_checks.hold_reasons)
NO_ORDER_WARNING = ("no order on file (ordering provider and order date): do not bill until "
                    "the order is recorded")

# A caller's transaction: its Core connection (store.db.Conn).
Transaction = Any
_T = TypeVar("_T")
# (counted seconds, has a live contact) -> codes and dollars, per scan (`_priced`)
_Priced = dict[tuple[int, bool], tuple[MonthAssessment, Decimal]]


# A patient's month as a summary is built from it: tallied in full (store.month_totals) or,
# for a reply whose figures SQL states exactly, from store.month_reply
_Figures = PatientMonthTotals | ReplyFigures


def _warnings(
    totals: _Figures, month: Month, overlaps: Iterable[tuple[int, int]],
    min_live_seconds: int,
) -> tuple[str, ...]:
    notes: list[str] = []
    if totals.consent_on is None:
        notes.append("no consent on file: do not bill until consent is recorded")
    elif totals.consent_on > month.last_day:
        notes.append(f"consent dated {totals.consent_on}, after this month")
    if not totals.in_programme:
        notes.append(f"not enrolled in {month}")
    elif totals.enrolled_on is None and not totals.entries:
        notes.append(f"no enrolment date and no time logged yet in {month}: in the programme "
                     f"since added on {totals.created_on}; record the enrolment date")
    notes.extend(_not_counted_notes(totals.not_counted))
    for entry_id in totals.short_live:
        notes.append(f"entry #{entry_id} is under the clinic's {min_live_seconds} s floor for a "
                     "live interaction (MIN_LIVE_CALL_SECONDS): not live; its time counts")
    if totals.uncounted_seconds:
        notes.append(f"{format_seconds(totals.uncounted_seconds)} by non-clinical staff "
                     "not counted")
    if totals.voided_entries:
        notes.append(f"{totals.voided_entries} voided "
                     f"entr{'y' if totals.voided_entries == 1 else 'ies'} not counted")
    for entry_id, other_id in sorted(overlaps):
        notes.append(f"entry #{entry_id} overlaps entry #{other_id} (same staff member)")
    return tuple(notes)


def _not_counted_notes(not_counted: tuple[NotCounted, ...]) -> list[str]:
    """One line per reason: how many seconds did not count, and which entries they are."""
    notes = []
    for reason in REASONS:
        rows = [n for n in not_counted if n.reason == reason]
        if rows:
            ids = ", ".join(f"#{n.entry_id}" for n in rows)
            seconds = sum(n.seconds for n in rows)
            notes.append(f"{format_seconds(seconds)} not counted, {reason}: "
                         f"entr{'y' if len(rows) == 1 else 'ies'} {ids}")
    return notes


_CALL_ADVICE = {
    "unclaimed": "no staff member on record, not counted: claim with /rpm calls claim",
    "unconfirmed": "awaits the staff member's answer: was it a live conversation?",
    "after_close": "arrived after the month was closed: review before any amendment",
}


def _call_warnings(calls: list[tuple[int, str]]) -> tuple[str, ...]:
    """One warning per call the billing office must settle before trusting the month."""
    return tuple(f"call C-{pk} {_CALL_ADVICE[state]}" for pk, state in calls
                 if state in _CALL_ADVICE)


_RiskKey = tuple[Any, int, bool]


def _assessed(summary: MonthSummary, month: Month, today: date,
              seen: dict[_RiskKey, RiskAssessment]) -> PatientRisk:
    """A summary with its risk verdict; `seen` keeps each distinct verdict of one scan."""
    enrolment = summary.enrolment or Enrolment.single(summary.enrolled_on, summary.ended_on)
    key = (enrolment, summary.total_seconds, summary.live_interactions > 0)
    if key not in seen:
        window = PatientWindow.over(month, enrolment)
        seen[key] = assess_risk(month, window, today, counted_seconds=summary.total_seconds,
                                has_live=summary.live_interactions > 0)
    return PatientRisk(summary, seen[key])


def _worst_first(rows: list[PatientRisk]) -> list[PatientRisk]:
    """The one order every risk list uses: severity, then time needed, live, clinic id."""
    rows.sort(key=lambda r: (SEVERITY_ORDER[r.risk.severity], -r.risk.seconds_needed,
                             not r.risk.needs_live, r.summary.patient_id))
    return rows


def _pages(totals: Iterator[PatientMonthTotals], size: int) -> Iterator[list[PatientMonthTotals]]:
    while page := list(islice(totals, size)):
        yield page


# Patients read per page of a month scan: the close's record for the page is read one page
# at a time, so memory follows the page, not the clinic's size.
PAGE_SIZE = 1000


@dataclass
class _MonthContext:
    """What the patient rows of one month share (the close record and the calls to review:
    read once per use case) and what one page of patients needs (contributions, live
    dates)."""

    month: Month
    month_text: str
    record: CloseRecord
    calls: dict[int | None, list[tuple[int, str]]]
    billed: BilledRecords  # the latest close's record, read a page at a time
    month_ended: bool  # `today` is past the month (read once, not per row)
    # the clinic day the rows are judged on: today, or a reminder plan's day (the device
    # half counts the readings measured by then and judges its period on that day)
    today: date
    contributions: dict[int, list[StaffMinutes]] = field(default_factory=dict)
    live_dates: dict[int, list[date]] = field(default_factory=dict)
    # the page's patients' reading instants (issue 28), read with detail only
    readings: dict[int, list[datetime]] = field(default_factory=dict)
    assessed: _Priced = field(default_factory=dict)

    @property
    def closed(self) -> Any:
        return self.record.closed


def _priced(cache: _Priced, month: Month, seconds: int, lives: int,
            policy: Policy) -> tuple[MonthAssessment, Decimal]:
    """Codes and dollars for a month's counted seconds and live contact, each distinct pair
    assessed once per scan (the rules are pure; a clinic repeats the same few values)."""
    key = (seconds, lives > 0)
    if key not in cache:
        assessment = assess_month(month, MonthActivity(seconds, lives),
                                  max_add_on_units=policy.max_99458_units)
        cache[key] = (assessment, expected_amount(assessment.codes, policy.fees))
    return cache[key]


def device_fields(instants: list[datetime] | None, enrolment: Enrolment,
                  consent_on: date | None, month: Month, today: date,
                  policy: Policy) -> dict[str, Any]:
    """A summary's device half (billing.devices): the month's device codes and dollars,
    the readings measured by `today` (a past day sees what was known then), the reading
    days of the month's period (billing.devices.month_period: once the month has
    ended, the last period it bills) up to the month's last day (today, in the running
    month), the periods with a day in the month and the month's period's verdict on
    `today`."""
    # the readings measured by `today` (a reminder plan's past day sees that day's)
    known = [i for i in instants or () if clinic_day(i, policy.zone) <= today]
    if not known:
        return {}
    cut = min(today, month.last_day)
    periods = periods_of(known, enrolment, consent_on, policy.zone, through=cut)
    current = month_period(periods, month, today)
    codes = codes_in_month(periods, month)
    return {"device_codes": codes,
            "device_amount": expected_amount(codes, policy.fees),
            "device_days": days_through(current, cut), "device_period": current,
            "device_period_runs": current is not None and current.contains(cut),
            "device_periods": tuple(p for p in periods if p.start <= month.last_day
                                    and p.end >= month.first_day),
            "device_verdict": period_verdict(current, today) if current else None}


class _LightSummaries:
    """Summaries of a risk list from store.month_risk's figures: the numbers, codes and
    enrolment a risk list shows (`/rpm risk`, reminders), without the warnings, per-staff
    shares, per-entry counts and close comparison a report row carries (none of which a
    risk list shows). Codes and dollars are assessed once per distinct figure pair."""

    def __init__(self, service: "MonthService", month: Month, record: CloseRecord,
                 today: date) -> None:
        self.month, self.month_text = month, str(month)
        self.policy = service.ctx.policy
        self.today = today
        self.month_ended = month.last_day < self.today
        closed = record.closed
        self.closed_by = signed(closed) if closed else None
        self.assessed: _Priced = {}

    def of(self, f: RiskFigures, readings: list[datetime] | None = None) -> MonthSummary:
        """`readings`: the patient's reading instants, for the device half. An exact
        patient's latest episode covers the month (store.month_risk) and episodes never
        overlap, so that episode alone (the patient row's dates) holds every device period
        with a day in the month, as the full path's episodes would."""
        assessment, amount = _priced(self.assessed, self.month, f.counted_seconds,
                                     f.live_interactions, self.policy)
        devices = device_fields(readings, Enrolment.single(f.enrolled_on, f.ended_on),
                                f.consent_on, self.month, self.today, self.policy)
        return MonthSummary(
            **devices,
            patient_id=f.patient_id, initials=f.initials, month=self.month_text,
            total_seconds=f.counted_seconds, uncounted_seconds=0,
            live_interactions=f.live_interactions, first_live_at=f.first_live_at,
            codes=assessment.codes, next_code=assessment.next_code,
            seconds_to_next_code=assessment.seconds_to_next_code,
            needs_live_interaction=assessment.needs_live_interaction,
            entries=f.entries, assigned_to=f.assigned_to, enrolled_on=f.enrolled_on,
            ended_on=f.ended_on, consent_on=f.consent_on, month_ended=self.month_ended,
            expected_amount=amount, month_closed_by=self.closed_by,
        )


class MonthService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def current(self) -> Month:
        """The month it is now in the clinic's zone."""
        return Month.containing(self.ctx.now(), self.ctx.policy.zone)

    def today(self) -> date:
        return self.ctx.now().astimezone(self.ctx.policy.zone).date()

    def summary(self, patient_ref: str, month: Month | None = None, *,
                by_phone: bool = True, actor: str | None = None,
                reply: bool = False) -> MonthSummary:
        """One patient's month, whether or not they were enrolled in it (`by_phone=False`:
        chat, where the patient is named by clinic id only). One read transaction: the
        actor (chat: `actor` must be active staff), the patient, the month's rows, its
        close record and its calls to review. `reply`: only what a chat reply shows
        (`reply_in`)."""
        month = month or self.current()
        with self.ctx.db.read() as conn:
            if actor is not None:
                require_active_staff(conn, actor, doing="read patients' months")
            # by clinic id, the month statement finds the patient itself (no lookup first)
            scope = Scope(patient_key=patient_key(patient_ref or ""))
            found = (self._reply(conn, month, scope) if reply
                     else next(self._summaries(conn, month, scope), None))
            if found is not None:
                return found
            patient = require_patient(conn, patient_ref, region=self.ctx.policy.phone_region,
                                      by_phone=by_phone)  # a phone, or refused with hints
            return next(self._summaries(conn, month, Scope(patient.id)))

    def report(self, month: Month | None = None) -> list[MonthSummary]:
        """Every patient enrolled in the month, ordered by clinic id."""
        return list(self.report_rows(month))

    def report_rows(self, month: Month | None = None, *,
                    admin: str | None = None) -> Iterator[MonthSummary]:
        """The report one row at a time, for writers that stream (the CSV): a clinic of any
        size is read page by page in one read transaction and never held whole (chat:
        `admin` must be an active admin, checked when the first row is asked for)."""
        with self.ctx.db.read() as conn:
            if admin is not None:
                require_admin(conn, admin)
            yield from self._summaries(conn, month or self.current(), CLINIC)

    def with_risk(self, month: Month | None = None, today: date | None = None,
                  *, assigned_to: str | None = None) -> list[PatientRisk]:
        """The report's patients with the at-risk verdict, worst first (the same rows: one
        definition of the month's programme, so a count never differs between screens).
        Each summary has the month's numbers, codes and warnings; its per-staff shares and
        live dates are left empty (see `report` or `summary` for those).
        """
        return _worst_first(list(self._risks(month, today, assigned_to)))

    def risks_of(self, summaries: Iterable[MonthSummary], month: Month,
                 today: date | None = None) -> list[PatientRisk]:
        """Summaries already read (e.g. a report) with the at-risk verdict, worst first:
        the verdicts `with_risk` gives for the same rows, without a second scan."""
        seen: dict[_RiskKey, RiskAssessment] = {}
        today = today or self.today()
        return _worst_first([_assessed(s, month, today, seen) for s in summaries])

    def caseload(self, user_id: str, month: Month | None = None) -> list[PatientRisk]:
        """A staff member's assigned patients this month with the at-risk verdict, worst
        first (`/rpm status`): one read transaction, one statement. The month statement
        selects the caseload by the caller's Slack id, active staff only, so the actor is
        checked by it; only when it finds no patient is the caller read, to refuse a
        stranger or a leaver (NotStaff) or to answer an empty caseload."""
        with self.ctx.db.read() as conn:
            rows = self.caseload_in(conn, user_id, month)
            if not rows:
                require_active_staff(conn, user_id, doing="read a caseload")
            return rows

    def caseload_in(self, conn: Conn, user_id: str,
                    month: Month | None = None) -> list[PatientRisk]:
        """`caseload` inside the caller's transaction (the voice menu's at-risk walk); an
        unreadable id or a caller who is not active staff gets no rows."""
        try:
            user = clean_slack_user_id(user_id)
        except BadInput:
            return []
        return _worst_first(list(self._assessed_rows(conn, month or self.current(),
                                                     self.today(), Scope(staff_user=user))))

    def _risks(self, month: Month | None, today: date | None, assigned_to: str | None,
               actor: str | None = None, *, at_risk_only: bool = False,
               ) -> Iterator[PatientRisk]:
        """Each patient's verdict; with `at_risk_only` (the at-risk list) from the per-patient
        figures of store.month_risk, with light summaries, and only the rows still to win
        for the exact ones (`_figure_risks`)."""
        with self.ctx.db.read() as conn:
            if actor is not None:
                require_active_staff(conn, actor, doing="read the at-risk list")
            scope = CLINIC
            if assigned_to is not None:  # a caseload: filtered in SQL, not after the scan
                staff = find_staff(conn, assigned_to)
                if staff is None:
                    return
                scope = Scope(assigned_staff_pk=staff.id)
            month, today = month or self.current(), today or self.today()
            if at_risk_only:
                yield from self._figure_risks(conn, month, today, scope)
            else:
                yield from self._assessed_rows(conn, month, today, scope)

    def _figure_risks(self, conn: Conn, month: Month, today: date,
                      scope: Scope) -> Iterator[PatientRisk]:
        """The verdicts of a risk scan from one aggregate statement (store.month_risk):
        patients whose figures SQL states exactly get a light summary (`_LightSummaries`);
        the rest (overlapping clock-timed time, a window or consent starting or ending in
        the month) are tallied in full, a page at a time, as the report tallies them. While
        the month has a close, patients billed at it and gone from the scan are shown too."""
        record = close_record(conn, str(month))
        light = _LightSummaries(self, month, record, today)
        whole = PatientWindow.of(month, None, None)  # an exact patient's window
        verdicts: dict[tuple[int, bool], RiskAssessment] = {}
        shown: set[int] = set()
        tally: dict[str, int] = {}
        listed: list[tuple[RiskFigures, RiskAssessment]] = []
        for figures in risk_figures(conn, month=month, zone=self.ctx.policy.zone,
                                    min_live_seconds=self.ctx.policy.min_live_call_seconds,
                                    scope=scope, page_size=PAGE_SIZE):
            if not figures.exact:
                tally[figures.patient_id] = figures.patient_pk
                continue
            shown.add(figures.patient_pk)
            key = (figures.counted_seconds, figures.live_interactions > 0)
            if key not in verdicts:
                verdicts[key] = assess_risk(month, whole, today, counted_seconds=key[0],
                                            has_live=key[1])
            if verdicts[key].still_to_win:  # the list's rows: no summary for the others
                listed.append((figures, verdicts[key]))
        # their device half: the reading instants of a page of them in one statement, read
        # once the scan's cursor is done (as the tallied patients are)
        for first in range(0, len(listed), PAGE_SIZE):
            page_rows = listed[first:first + PAGE_SIZE]
            readings = device_rows.instants_of(conn, [f.patient_pk for f, _ in page_rows])
            for figures, verdict in page_rows:
                yield PatientRisk(light.of(figures, readings.get(figures.patient_pk)), verdict)
        pks = sorted(tally.values())
        for first in range(0, len(pks), PAGE_SIZE):
            page = Scope(patient_pks=tuple(pks[first:first + PAGE_SIZE]))
            for risk in self._assessed_rows(conn, month, today, page):
                shown.add(tally[risk.summary.patient_id])
                yield risk
        if scope.shape == "clinic" and record.billed_close is not None:
            context = self._context(conn, month, scope, record, today=today)
            for pk in context.billed.unseen(conn, shown):  # as `_scan` shows them
                yield from self._assessed_rows(conn, month, today, Scope(pk), context)

    def _assessed_rows(self, conn: Conn, month: Month, today: date, scope: Scope,
                       context: "_MonthContext | None" = None) -> Iterator[PatientRisk]:
        """`context`: the clinic scan's, for a patient billed at close and gone from it (a
        one-patient scope would otherwise read the month as of the clock's today)."""
        seen: dict[_RiskKey, RiskAssessment] = {}
        if context is None and scope.shape not in REPLY_SHAPES:
            context = self._context(conn, month, scope, today=today)
        for summary in self._summaries(conn, month, scope, detail=False, context=context):
            yield _assessed(summary, month, today, seen)

    def summary_in(self, conn: Transaction, month: Month, patient_pk: int) -> MonthSummary:
        """The same summary inside a caller's transaction (e.g. right after a write in
        `/rpm log`): its Core connection."""
        return next(self._summaries(conn, month, Scope(patient_pk)))

    def reply_in(self, conn: Conn, month: Month, patient_pk: int,
                 entry: EntryTime | None = None) -> MonthSummary:
        """What a chat reply shows of the patient's month (`/rpm log`, `/rpm status`),
        inside the caller's transaction: `summary_in`'s figures, codes, still needed and
        warnings, at the same cost on day 1 and day 31 (`_reply`). The per-staff shares, live
        dates and per-entry counts, which no reply shows, may be left empty; with `entry`
        (the entry just logged) its count is kept (the reply says when a live entry is not a
        live interaction)."""
        found = self._reply(conn, month, Scope(patient_pk), entry)
        assert found is not None  # the caller has read the patient
        return found

    def _reply(self, conn: Conn, month: Month, scope: Scope,
               entry: EntryTime | None = None) -> MonthSummary | None:
        """A reply's summary (None: no patient in scope) from one statement
        (store.month_reply) when SQL states the month's figures exactly, else tallied in full
        as `summary_in` does: billing.tally stays the definition
        (tests/service/test_risk_equivalence.py holds the two replies equal)."""
        policy = self.ctx.policy
        figures = reply_figures(conn, month=month, zone=policy.zone,
                                min_live_seconds=policy.min_live_call_seconds, scope=scope)
        if figures is None:
            return None
        if not figures.exact:
            return next(self._summaries(conn, month, Scope(figures.patient_pk)))
        context = self._context(conn, month, Scope(figures.patient_pk), figures.close_record)
        context.billed.read_page(conn, [figures.patient_pk])
        # the device half: the month statement of an exact reply does not carry readings
        context.readings = device_rows.instants_of(conn, [figures.patient_pk])
        summary = self._summary(figures, context)
        if entry is None:
            return summary
        # exact: the window and consent cover the month and no clock-timed time overlaps, so
        # the entry counts as it would alone (billing.tally on that one entry)
        start, end = month.bounds_utc(policy.zone)
        alone = tally_month([entry], MonthBounds(start, end),
                            min_live_seconds=policy.min_live_call_seconds)
        return replace(summary, entry_counts=alone.by_entry)

    def summary_with_progress_in(
        self, conn: Conn, month: Month, patient_pk: int,
    ) -> tuple[MonthSummary, tuple[tuple[int, int], ...]]:
        """`summary_in` with the month so far at the end of each clinic day (the same scan
        the dashboard chart reads): when the month first supported a code (the packet's
        date of service)."""
        return next(self._scan(conn, month, Scope(patient_pk),
                               day_cuts=self._day_cuts(month)))

    def _context(self, conn: Conn, month: Month, scope: Scope,
                 record: CloseRecord | None = None, today: date | None = None
                 ) -> _MonthContext:
        """The month's close record (one statement, unless the month statement of a reply
        carried it) and, for a scan, its calls to review (one; a reply's month statement
        carries its patients' calls itself)."""
        start, end = month.bounds_utc(self.ctx.policy.zone)
        record = record or close_record(conn, str(month))
        today = today or self.today()
        context = _MonthContext(
            month=month, month_text=str(month), record=record, calls=defaultdict(list),
            billed=BilledRecords(record.billed_close, start=start, end=end,
                                 fees=self.ctx.policy.fees,
                                 region=self.ctx.policy.phone_region),
            month_ended=month.last_day < today, today=today,
        )
        if scope.shape not in REPLY_SHAPES:
            for owner, call_pk, state in calls_to_review(conn, start=start, end=end,
                                                         scope=scope):
                context.calls[owner].append((call_pk, state))
        return context

    def _summaries(
        self, conn: Conn, month: Month, scope: Scope,
        *, detail: bool = True, context: _MonthContext | None = None,
        day_cuts: tuple[datetime, ...] = (),
    ) -> Iterator[MonthSummary]:
        """The month's summaries in clinic-id order: the close record, the calls to review
        and one month statement (patients, entries, overlaps, staff names) read a page at a
        time; while the month has a close, its record per page.

        Without `detail` (risk lists) the per-staff shares and live dates stay empty: no
        risk list shows them. With `day_cuts`, each summary's month so far at each cut is
        kept in `progress` (the dashboard chart), keyed by clinic id.
        """
        for summary, _ in self._scan(conn, month, scope, detail=detail, context=context,
                                     day_cuts=day_cuts):
            yield summary

    def _scan(
        self, conn: Conn, month: Month, scope: Scope,
        *, detail: bool = True, context: _MonthContext | None = None,
        day_cuts: tuple[datetime, ...] = (),
    ) -> Iterator[tuple[MonthSummary, tuple[tuple[int, int], ...]]]:
        """`_summaries` with each row's month so far at `day_cuts` (empty without cuts)."""
        if context is None and scope.shape not in REPLY_SHAPES:
            context = self._context(conn, month, scope)
        totals = month_totals(
            conn, month=month, zone=self.ctx.policy.zone,
            min_live_seconds=self.ctx.policy.min_live_call_seconds, scope=scope,
            # a reply's rows (one caseload at most) in one fetch: a server-side cursor costs
            # PostgreSQL three more round trips (bench/RESULTS.md, issue 14)
            page_size=None if scope.shape in REPLY_SHAPES else PAGE_SIZE,
            day_cuts=day_cuts, detail=detail,
        )
        seen: set[int] = set()
        for page in _pages(totals, PAGE_SIZE):
            if context is None:  # a reply: its month statement read the close record
                context = self._context(conn, month, scope, page[0].close_record)
            self._read_page(conn, context, page, detail)
            for row in page:
                seen.add(row.patient_pk)
                yield self._summary(row, context), row.so_far
        if scope.shape == "clinic" and context is not None:  # billed at close, gone from
            for pk in context.billed.unseen(conn, seen):  # the month since: shown
                yield from self._scan(conn, month, Scope(pk), detail=detail, context=context,
                                      day_cuts=day_cuts)

    def _read_page(self, conn: Conn, context: _MonthContext,
                   page: list[PatientMonthTotals], detail: bool = True) -> None:
        """The close's record for one page (no statement while the month has no close);
        with `detail`, per-staff shares and live dates from the page's tallies."""
        context.billed.read_page(conn, [t.patient_pk for t in page])
        # the device half on every row (a risk list's and the dashboard's too): one statement
        # a page, none for a reply (its month statement read them)
        unread = [t.patient_pk for t in page if t.readings is None]
        context.readings = device_rows.instants_of(conn, unread) if unread else {}
        for totals in page:
            if totals.readings is not None:
                context.readings[totals.patient_pk] = list(totals.readings)
        if not detail:
            return
        zone = self.ctx.policy.zone
        context.contributions = defaultdict(list)
        context.live_dates = defaultdict(list)
        for totals in page:
            pk = totals.patient_pk
            for share in totals.tally.staff:
                author = totals.authors.get(share.staff_pk)
                if author is not None:
                    context.contributions[pk].append(StaffMinutes(
                        author[0], author[1], share.role, share.seconds,
                        share.role in ROLES_THAT_COUNT, share.logged_seconds))
            for started in totals.tally.live_starts:
                day = started.astimezone(zone).date()
                if day not in context.live_dates[pk]:
                    context.live_dates[pk].append(day)

    def _devices(self, totals: _Figures, context: "_MonthContext") -> dict[str, Any]:
        """The month's device fields of a row, from the page's reading instants."""
        enrolment = totals.enrolment or Enrolment.single(totals.enrolled_on, totals.ended_on)
        return device_fields(context.readings.get(totals.patient_pk), enrolment,
                             totals.consent_on, context.month, context.today, self.ctx.policy)

    def _summary(self, totals: _Figures, context: "_MonthContext") -> MonthSummary:
        month = context.month
        assessment, amount = _priced(context.assessed, month, totals.counted_seconds,
                                     totals.live_interactions, self.ctx.policy)
        closed = context.closed
        devices = self._devices(totals, context)
        # a month's device codes need consent and an order as its time codes do
        held = tuple(hold_reasons(totals.consent_on, totals.ordering_provider_pk,
                                  totals.order_on)) \
            if assessment.codes or devices.get("device_codes") else ()
        return MonthSummary(
            **devices,
            patient_id=totals.patient_id, initials=totals.initials, month=context.month_text,
            total_seconds=totals.counted_seconds, uncounted_seconds=totals.uncounted_seconds,
            live_interactions=totals.live_interactions, first_live_at=totals.first_live_at,
            codes=assessment.codes, next_code=assessment.next_code,
            seconds_to_next_code=assessment.seconds_to_next_code,
            needs_live_interaction=assessment.needs_live_interaction,
            entries=totals.entries, assigned_to=totals.assigned_to,
            warnings=_warnings(totals, month, totals.overlaps,
                               self.ctx.policy.min_live_call_seconds)
            + _call_warnings(list(totals.calls) or context.calls.get(totals.patient_pk, []))
            + ((NO_ORDER_WARNING,) if NO_ORDER in held else ()),
            held=held,
            not_counted=totals.not_counted,
            in_programme=totals.in_programme, entry_counts=totals.entry_counts,
            month_ended=context.month_ended,
            enrolled_on=totals.enrolled_on, ended_on=totals.ended_on,
            enrolment=totals.enrolment,
            live_interaction_dates=tuple(context.live_dates.get(totals.patient_pk, ())),
            staff=tuple(context.contributions.get(totals.patient_pk, ())),
            consent_on=totals.consent_on, conditions=tuple(totals.conditions or ()),
            provider=totals.provider_name, provider_npi=totals.provider_npi,
            expected_amount=amount,  # what the codes earn; a held month's is counted apart
            month_closed_by=signed(closed) if closed else None,
            billed_at_close=context.billed.compare(
                totals.patient_pk, assessment.codes, seconds=totals.counted_seconds,
                live=totals.live_interactions, held=bool(held),
                device_codes=devices.get("device_codes", ())),
        )

    def at_risk(self, month: Month | None = None, today: date | None = None,
                *, assigned_to: str | None = None,
                actor: str | None = None) -> list[PatientRisk]:
        """Patients of the month who may miss 99457 and still can be saved (a day left in
        their window), worst first: the one at-risk list every screen counts (the verdicts
        and figures of `with_risk`; summaries are light where SQL states the figures, see
        `_figure_risks`; chat: `actor` must be active staff)."""
        return _worst_first([r for r in self._risks(month, today, assigned_to, actor,
                                                    at_risk_only=True)
                             if r.risk.still_to_win])

    def totals(self, month: Month | None = None, today: date | None = None, *,
               admin: str | None = None) -> MonthTotals:
        """The clinic's month in numbers and dollars, as the billing office reads it first:
        one read transaction and one scan (the report's rows are the risk list's rows;
        chat: `admin` must be an active admin)."""
        month = month or self.current()
        with self.ctx.db.read() as conn:
            if admin is not None:
                require_admin(conn, admin)
            tally = self._totals_tally(conn, month, today)
            for summary in self._summaries(conn, month, CLINIC, detail=False,
                                           context=tally.context):
                tally.add(summary)
        return tally.result()

    def report_file(self, month: Month | None, write: Callable[[Iterator[MonthSummary]], _T],
                    *, admin: str | None = None,
                    today: date | None = None) -> tuple[_T, MonthTotals]:
        """The report's rows handed to `write` (a CSV writer, `list` for a table) and the
        totals of those same rows, in one read transaction: a log landing meanwhile is in
        both or in neither, so a report never disagrees with its totals line. The totals
        are counted as the rows pass, so memory follows `write`, not the clinic (chat:
        `admin` must be an active admin, checked before any row is read)."""
        month = month or self.current()
        with self.ctx.db.read() as conn:
            if admin is not None:
                require_admin(conn, admin)
            tally = self._totals_tally(conn, month, today)
            written = write(tally.counted(self._summaries(conn, month, CLINIC,
                                                          context=tally.context)))
        return written, tally.result()

    def _totals_tally(self, conn: Conn, month: Month, today: date | None) -> "_TotalsTally":
        return _TotalsTally(month, today or self.today(),
                            self._context(conn, month, CLINIC, today=today),
                            self.ctx.policy.fees, self.ctx.policy.zone)

    def _day_cuts(self, month: Month) -> tuple[datetime, ...]:
        zone = self.ctx.policy.zone
        return tuple(start_of_day_utc(month.first_day + timedelta(days=day), zone)
                     for day in range(1, month.days + 1))

    def running_totals(self, month: Month) -> dict[str, tuple[tuple[int, int], ...]]:
        """Per patient in the month's programme, (counted seconds, live interactions) of the
        month up to the end of each clinic day: the report's month query and tally, cut at
        each midnight, so the chart's days add up to the report (window, consent, split and
        clock-timed overlap included)."""
        with self.ctx.db.read() as conn:
            return {t.patient_id: t.so_far for t in month_totals(
                conn, month=month, zone=self.ctx.policy.zone,
                min_live_seconds=self.ctx.policy.min_live_call_seconds,
                page_size=PAGE_SIZE, day_cuts=self._day_cuts(month), detail=False)}

    def report_with_progress(
        self, month: Month,
    ) -> tuple[list[MonthSummary], dict[str, tuple[tuple[int, int], ...]]]:
        """The report and `running_totals` from one scan (the dashboard's chart): the
        report's rows, and the month so far per clinic day of those in the programme."""
        with self.ctx.db.read() as conn:
            return self.report_with_progress_in(conn, month)

    def report_with_progress_in(
        self, conn: Transaction, month: Month,
    ) -> tuple[list[MonthSummary], dict[str, tuple[tuple[int, int], ...]]]:
        """`report_with_progress` inside the caller's transaction (the dashboard's page)."""
        summaries: list[MonthSummary] = []
        progress: dict[str, tuple[tuple[int, int], ...]] = {}
        for summary, so_far in self._scan(conn, month, CLINIC, detail=False,
                                          day_cuts=self._day_cuts(month)):
            summaries.append(summary)
            if summary.in_programme:
                progress[summary.patient_id] = so_far
        return summaries, progress

    def report_in(self, conn: Transaction, month: Month) -> Iterator[MonthSummary]:
        """The report inside a caller's transaction (a close records it as it commits)."""
        return self._summaries(conn, month, CLINIC)


def _difference(summary: MonthSummary) -> CloseDifference:
    billed = summary.billed_at_close
    assert billed is not None
    devices = billed.device_differs
    return CloseDifference(summary.label, billed.codes_text,
                           format_codes(summary.codes) or "none", billed.cause,
                           billed.follow_up, billed.amount_delta,
                           billed_codes=billed.codes, supported_codes=summary.codes,
                           follow_up_in_words=billed.follow_up_in_words,
                           device_billed=(format_codes(billed.device_codes or ()) or "none")
                           if devices else "",
                           device_supported=(format_codes(billed.device_now) or "none")
                           if devices else "",
                           device_billed_codes=billed.device_codes or () if devices else (),
                           device_supported_codes=billed.device_now if devices else ())


def _reopened(event: Any, zone: ZoneInfo) -> str | None:
    """How a reopened month says so: when, by whom, why, and whether the close it undid
    had been billed (what the report compares with)."""
    if event is None or event.action != "reopen":
        return None
    billed = {True: " (it had been billed)", False: " (not billed yet)"}.get(event.billed, "")
    return f"reopened on {clinic_day(event.at, zone)} by {signed(event)}: {event.reason}{billed}"


class _TotalsTally:
    """The month's totals counted row by row: the one way totals are computed, whether the
    rows are only counted (`totals`) or also written out (`report_file`)."""

    def __init__(self, month: Month, today: date, context: _MonthContext,
                 fees: Mapping[str, Decimal], zone: ZoneInfo) -> None:
        self.month, self.today, self.context = month, today, context
        self.fees, self.zone = fees, zone
        self.patients = self.billable = self.held = self.at_risk = 0
        self.units: dict[str, int] = defaultdict(int)
        self.expected = self.at_risk_amount = Decimal("0.00")
        self.changed: list[CloseDifference] = []
        self.seen: dict[_RiskKey, RiskAssessment] = {}
        self.device_units: dict[str, int] = defaultdict(int)
        self.device_amount = Decimal("0.00")
        self.short_of_readings: dict[str, int] = defaultdict(int)  # by the code aimed at

    def counted(self, summaries: Iterable[MonthSummary]) -> Iterator[MonthSummary]:
        """The summaries unchanged, each one counted as it passes."""
        for summary in summaries:
            self.add(summary)
            yield summary

    def add(self, summary: MonthSummary) -> None:
        self.patients += 1
        self.held += bool(summary.held)  # supported but not to be billed, as the close does
        self.billable += summary.billable
        self.expected += summary.billable_amount
        if summary.billable:
            for code in summary.codes:
                self.units[code.code] += code.units
        risk = _assessed(summary, self.month, self.today, self.seen).risk
        if risk.still_to_win:
            self.at_risk += 1
            self.at_risk_amount += amount_still_to_win(summary.codes, self.fees)
        if summary.changed_since_close:
            self.changed.append(_difference(summary))
        if not summary.held:
            for code in summary.device_codes:
                self.device_units[code.code] += code.units
            self.device_amount += summary.device_amount
        short = short_of_readings(summary)
        if short is not None and short.aim is not None:
            self.short_of_readings[short.aim] += 1

    def result(self) -> MonthTotals:
        context = self.context
        close = context.closed
        unmatched = sum(1 for states in context.calls.values() for _, state in states
                        if state == "unmatched")
        return MonthTotals(
            month=str(self.month), patients=self.patients, billable=self.billable,
            held=self.held,
            units=dict(self.units), expected_amount=self.expected, at_risk=self.at_risk,
            at_risk_amount=self.at_risk_amount, closed_by=signed(close) if close else None,
            unmatched_calls=unmatched, changed_since_close=tuple(self.changed),
            reopened=_reopened(context.record.latest_event, self.zone),
            device_units=dict(self.device_units), device_amount=self.device_amount,
            short_of_readings=sum(self.short_of_readings.values()),
            short_of_readings_for=dict(self.short_of_readings),
        )
