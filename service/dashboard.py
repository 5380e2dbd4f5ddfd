"""What the web dashboard shows: the month at a glance, one patient's page, the code chart.

Everything here is built from the same month report and at-risk rules that Slack, the CLI
and the reminders use, so the dashboard never tells a different story. Views carry clinic
ids and initials only; free text that might hold a phone number is redacted before it
leaves this module.
"""

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from billing.codes import CPT_99457, CPT_99458, CPT_99470, MonthActivity, assess_month
from billing.months import Month
from billing.risk import RiskAssessment
from service.access import (
    REFUSED,
    AccessView,
    Role,
    Viewer,
    access_log_in,
    default_month,
    sees_access_log,
    sees_month,
    sees_patient,
)
from service.closes import find_close, signed
from service.context import ServiceContext
from service.devices import PeriodReadings, period_readings
from service.entries import EntryService
from service.errors import NotAllowed
from service.lookups import StaffOnRecords, find_staff, require_patient
from service.months import MonthService
from service.patients import view_of as patient_view_of
from service.phones import redact_phones
from service.staff import StaffService, clean_slack_user_id
from service.staff import view_of as staff_view_of
from service.views import EntryView, MonthSummary, PatientView, StaffView
from store.dashboard import patient_audit
from store.db import Conn


@dataclass(frozen=True)
class PatientDayTotals:
    """What one clinic day (1-based) added to a patient's month: counted seconds and live
    interactions, by the month's tally (MonthService.running_totals)."""

    patient_id: str
    day: int
    counted_seconds: int
    live_interactions: int


def day_by_day(progress: dict[str, tuple[tuple[int, int], ...]]) -> list[PatientDayTotals]:
    """The days on which each patient's month so far grew, and by how much."""
    rows = []
    for pid, totals in sorted(progress.items()):
        seconds = live = 0
        for day, (so_far, live_so_far) in enumerate(totals, start=1):
            if (so_far, live_so_far) != (seconds, live):
                rows.append(PatientDayTotals(pid, day, so_far - seconds, live_so_far - live))
                seconds, live = so_far, live_so_far
    return rows


@dataclass(frozen=True)
class DashboardRow:
    """One patient's line on the dashboard: the month summary and its at-risk verdict."""

    summary: MonthSummary
    risk: RiskAssessment

    @property
    def minutes(self) -> int:
        """Whole minutes, floored: nothing reads as 20 minutes before 1,200 seconds."""
        return self.summary.total_seconds // 60


@dataclass(frozen=True)
class AuditView:
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    changes: tuple[tuple[str, str, str], ...]  # (field, before, after), phones masked
    actor_name: str | None = None  # when the actor is a staff member's Slack id


@dataclass(frozen=True)
class PatientPage:
    patient: PatientView
    provider: StaffView | None
    summary: MonthSummary
    entries: tuple[EntryView, ...]
    audit: tuple[AuditView, ...]
    assigned_to_name: str | None = None
    access: tuple[AccessView, ...] | None = None  # who viewed the patient: admins only
    # the summary's device periods (those with a day in the month, as `status --json`
    # lists them) with their readings' count and sources (issue 28)
    device_periods: tuple[PeriodReadings, ...] = ()


@dataclass(frozen=True)
class CodeSeries:
    """Per day of the month, how many patients the month's time supports a code for."""

    days: tuple[int, ...]  # 1..n, up to today for the current month
    patients: int
    at_99470: tuple[int, ...]
    at_99457: tuple[int, ...]
    with_99458: tuple[int, ...]


@dataclass(frozen=True)
class MonthOverview:
    """The dashboard's month page: its rows (at-risk first) and the code chart."""

    rows: list[DashboardRow]
    series: CodeSeries


@dataclass(frozen=True)
class MonthPage:
    """What the dashboard's month page shows, read in one transaction."""

    month: Month
    today: date  # the clinic's today, for the days left in the month
    rows: list[DashboardRow]  # at-risk first; with `staff_filter`, that member's patients
    series: CodeSeries
    staff: list[StaffView]  # every staff member, inactive too (the filter's choices)
    staff_filter: str | None  # the Slack id the rows are filtered by, cleaned
    closed_by: str | None  # who closed the month, while it is closed


# Free-text fields a person typed: the only audit fields that may hold an unmasked number.
_FREE_TEXT = frozenset({"note", "void_reason", "amendment_reason", "void_amendment_reason",
                        "reason"})


def _cell(key: str, value: Any, region: str) -> str:
    if value is None:
        return ""
    text = _readable(value)
    return (redact_phones(text, region=region) or "") if key in _FREE_TEXT else text


def _readable(value: Any) -> str:
    """A stored value as a person reads it, not as Python writes it (outside auditor:
    `{'file': 'x.csv', 'sha256': ...}`, `['2026-10-01', None]`): a mapping as "key value"
    pairs (a digest cut to 12 characters), a [start, end] pair as "start to end" (no end:
    "open"), a list joined, yes / no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(
            f"{key.replace('_', ' ')} "
            + (f"{str(item)[:12]}…" if key == "sha256" and len(str(item)) > 12
               else _readable(item) or "none")
            for key, item in value.items())
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (list, tuple)) and len(v) == 2 for v in value):
            return "; ".join(f"{_readable(a)} to {_readable(b) or 'open'}" for a, b in value)
        if len(value) == 2 and isinstance(value[0], str) and _DAY.fullmatch(value[0]) and (
                value[1] is None or (isinstance(value[1], str) and _DAY.fullmatch(value[1]))):
            return f"{value[0]} to {value[1] or 'open'}"
        return ", ".join(_readable(v) for v in value)
    return str(value)


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# Fields of entry snapshots that are row bookkeeping, not something an auditor reads.
_HIDDEN_FIELDS = frozenset({"id", "patient_id", "staff_id"})


def audit_changes(before: dict[str, Any] | None, after: dict[str, Any] | None, *,
                  region: str) -> tuple[tuple[str, str, str], ...]:
    """The fields that differ (all fields of a creation), as text with phones masked."""
    old, new = before or {}, after or {}
    rows = []
    for key in sorted(set(old) | set(new)):
        if key in _HIDDEN_FIELDS or old.get(key) == new.get(key):
            continue
        rows.append((key, _cell(key, old.get(key), region), _cell(key, new.get(key), region)))
    return tuple(rows)


def codes_by_day(month: Month, days: int, daily: Iterable[PatientDayTotals],
                 patients: Iterable[str], *, max_add_on_units: int) -> CodeSeries:
    """Pure: for each day 1..days, the codes each patient's time so far supports.

    Running sums of counted seconds and live interactions per patient, each day assessed
    with the same rule as the month report (`assess_month`), so the last day of a finished
    month matches the report.
    """
    per_day: dict[str, dict[int, PatientDayTotals]] = defaultdict(dict)
    for row in daily:
        per_day[row.patient_id][row.day] = row
    ids = sorted(set(patients))
    seconds = dict.fromkeys(ids, 0)
    live = dict.fromkeys(ids, 0)
    counts: dict[str, list[int]] = {CPT_99470: [], CPT_99457: [], CPT_99458: []}
    for day in range(1, days + 1):
        reached = {code: 0 for code in counts}
        for pid in ids:
            today = per_day[pid].get(day)
            if today is not None:
                seconds[pid] += today.counted_seconds
                live[pid] += today.live_interactions
            assessment = assess_month(month, MonthActivity(seconds[pid], live[pid]),
                                      max_add_on_units=max_add_on_units)
            for code in counts:
                if assessment.units_of(code):
                    reached[code] += 1
        for code, value in reached.items():
            counts[code].append(value)
    return CodeSeries(tuple(range(1, days + 1)), len(ids), tuple(counts[CPT_99470]),
                      tuple(counts[CPT_99457]), tuple(counts[CPT_99458]))


class DashboardService:
    def __init__(self, ctx: ServiceContext, entries: EntryService | None = None) -> None:
        self.ctx = ctx
        self.entries = entries or EntryService(ctx)
        self.months: MonthService = self.entries.months

    def overview(self, month: Month | None = None, *,
                 assigned_to: str | None = None) -> "MonthOverview":
        """The month page's rows and code chart: `rows` and `code_series` from one month scan
        (the rows of one staff member are those of the clinic's scan assigned to them)."""
        month = month or self.months.current()
        staff = clean_slack_user_id(assigned_to) if assigned_to else None
        with self.ctx.db.read() as conn:
            return self._overview_in(conn, month, staff)

    def month_page(self, month: Month | None = None, *, assigned_to: str | None = None,
                   viewer: Viewer | None = None) -> MonthPage:
        """Everything the dashboard's month page shows, in one read transaction: the
        overview (`overview`), every staff member for the filter (inactive too) and who
        closed the month, if it is closed. A `viewer` who is not an admin sees their scope
        only (service/access.py): staff their assigned patients, an auditor the grant's
        months and patients, in the rows and the chart alike, and no staff filter."""
        if month is None:
            current = self.months.current()
            month = default_month(viewer, current) if viewer is not None else current
        staff = clean_slack_user_id(assigned_to) if assigned_to else None
        scoped = viewer is not None and not viewer.is_admin
        if viewer is not None and scoped:
            if not sees_month(viewer, month):
                raise NotAllowed(REFUSED)
            staff = viewer.staff_id if viewer.role is Role.STAFF else None
        with self.ctx.db.read() as conn:
            if viewer is not None and scoped:
                overview = self._scoped_overview_in(conn, month, viewer)
                members = []
            else:
                overview = self._overview_in(conn, month, staff)
                members = StaffService.list_in(conn, include_inactive=True,
                                               now=self.ctx.now())
            closed = find_close(conn, month)
        return MonthPage(month, self.months.today(), overview.rows, overview.series, members,
                         staff, signed(closed) if closed is not None else None)

    def _overview_in(self, conn: Conn, month: Month, staff: str | None) -> MonthOverview:
        report, progress = self.months.report_with_progress_in(conn, month)
        mine = [s for s in report if s.in_programme and s.assigned_to == staff] \
            if staff else report
        rows = [DashboardRow(r.summary, r.risk) for r in self.months.risks_of(mine, month)]
        return MonthOverview(rows, self._series(month, report, progress))

    def _scoped_overview_in(self, conn: Conn, month: Month, viewer: Viewer) -> MonthOverview:
        """The rows and the chart of the patients `viewer` may see, and no other."""
        report, progress = self.months.report_with_progress_in(conn, month)
        mine = [s for s in report if s.in_programme
                and sees_patient(viewer, s.patient_id, s.assigned_to, month)]
        ids = {s.patient_id for s in mine}
        rows = [DashboardRow(r.summary, r.risk) for r in self.months.risks_of(mine, month)]
        return MonthOverview(rows, self._series(
            month, mine, {pid: days for pid, days in progress.items() if pid in ids}))

    def rows(self, month: Month | None = None, *,
             assigned_to: str | None = None) -> list[DashboardRow]:
        """Every patient enrolled in the month with their risk verdict, at-risk first."""
        month = month or self.months.current()
        staff = clean_slack_user_id(assigned_to) if assigned_to else None
        return [DashboardRow(r.summary, r.risk)
                for r in self.months.with_risk(month, assigned_to=staff)]

    def patient(self, patient_ref: str, month: Month | None = None, *,
                viewer: Viewer | None = None) -> PatientPage:
        """The patient's month: entries (voided too), audit history, provider with NPI, and
        for an admin `viewer` who viewed the patient (the access log)."""
        month = month or self.months.current()
        region = self.ctx.policy.phone_region
        with self.ctx.db.read() as conn:
            patient = require_patient(conn, patient_ref, region=region)
            view = patient_view_of(conn, patient)
            provider = None
            if view.provider:
                found = find_staff(conn, view.provider)
                provider = staff_view_of(conn, found) if found else None
            people = StaffOnRecords(conn)
            summary = self.months.summary_in(conn, month, patient.id)
            listed = self.entries.month_entries_in(conn, month, patient.id)
            # the month's page: the patient's own events and those of the month's entries
            # (an auditor granted October saw a December entry's note here)
            shown = {str(e.id) for e in listed}
            audit = tuple(
                AuditView(row.at, row.actor, row.action, row.entity, row.entity_id,
                          audit_changes(row.before, row.after, region=region),
                          people.name(row.actor))
                for row in patient_audit(conn, patient.id, patient.clinic_id)
                if (row.entity != "entry" or row.entity_id in shown)
                and (viewer is None or _in_grant(viewer, row.at, self.ctx.policy.zone))
            )
            assigned_name = people.name(view.assigned_to)
            access = access_log_in(conn, patient.clinic_id) \
                if viewer is not None and sees_access_log(viewer) else None
            devices = period_readings(conn, patient.id, summary.device_periods,
                                      self.ctx.policy.zone) if summary.device_periods else ()
        entries = tuple(e.masked(region) for e in listed)
        return PatientPage(view, provider, summary, entries, audit, assigned_name,
                           access, devices)

    def code_series(self, month: Month | None = None) -> CodeSeries:
        """Patients reaching 99470 / 99457 / 99458 per day (today is the last day shown)."""
        month = month or self.months.current()
        report, progress = self.months.report_with_progress(month)  # one month scan
        return self._series(month, report, progress)

    def _series(self, month: Month, report: list[MonthSummary],
                progress: dict[str, tuple[tuple[int, int], ...]]) -> CodeSeries:
        shown = _days_shown(month, self.months.today())
        return codes_by_day(month, shown, day_by_day(progress),
                            [s.patient_id for s in report],
                            max_add_on_units=self.ctx.policy.max_99458_units)


def _in_grant(viewer: Viewer, at: datetime, zone: ZoneInfo) -> bool:
    """Whether an audit record written `at` is the viewer's to see: an auditor's only within
    the grant's months (outside auditor: a December reassignment shown to an October-November
    grant); everyone else's always."""
    return sees_month(viewer, Month.containing(at, zone))


def _days_shown(month: Month, today: date) -> int:
    if today > month.last_day:
        return month.days
    if today < month.first_day:
        return 0
    return today.day
