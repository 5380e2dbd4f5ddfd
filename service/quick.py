"""What chat adds around logging: late entries by day, double-submission warnings, undo,
and a staff member's caseload worst first. Adapters call these instead of deciding."""

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import func
from sqlmodel import select

from billing.durations import parse_duration
from billing.months import Month, start_of_day_utc
from service.context import ServiceContext
from service.entries import EntryService, LogRequest
from service.errors import BadInput
from service.months import MonthService
from service.patients import require_patient
from service.staff import require_staff
from service.views import EntryView, LoggedEntry, PatientRisk
from store.latest_entry import latest_authored
from store.models import TimeEntry

DOUBLE_SUBMISSION = timedelta(seconds=60)
UNDO_WINDOW = timedelta(minutes=10)
LATE_ENTRY_START = time(9, 0)  # late entries are placed from 09:00 clinic time on
UNDO_REASON = "undone by the author from Slack (/rpm undo)"
DOUBLE_REASON = "double submission, undone by the author from Slack"


@dataclass(frozen=True)
class QuickLogged:
    logged: LoggedEntry
    duplicate_of: int | None  # an identical entry by the same person a moment before


class QuickService:
    def __init__(self, ctx: ServiceContext, entries: EntryService | None = None) -> None:
        self.ctx = ctx
        self.entries = entries or EntryService(ctx)
        self.months: MonthService = self.entries.months

    def log(self, request: LogRequest, *, day: date | None = None) -> QuickLogged:
        """Log (on `day` for a late entry) and say whether it repeats one from <60 s ago."""
        if day is not None:
            request = self._on_day(request, day)
        logged = self.entries.log(request, repeat_window=DOUBLE_SUBMISSION)
        return QuickLogged(logged, logged.repeats)

    def _on_day(self, request: LogRequest, day: date) -> LogRequest:
        """Late entries start at 09:00 that day, or after the author's last entry that day,
        so two late entries never read as overlapping work. Today means 'ends now'."""
        today = self.months.today()
        if day > today:
            raise BadInput(f"{day} is in the future: time can be logged only once it has "
                           "been spent.")
        if day == today:
            return request
        seconds = parse_duration(request.duration, max_seconds=self.ctx.policy.max_entry_seconds)
        zone = self.ctx.policy.zone
        day_start, day_end = start_of_day_utc(day, zone), start_of_day_utc(
            day + timedelta(days=1), zone)
        start = datetime.combine(day, LATE_ENTRY_START, tzinfo=zone)
        with self.ctx.db.read_session() as session:
            staff = require_staff(session, request.staff)
            latest = session.exec(select(func.max(TimeEntry.ended_at)).where(
                TimeEntry.staff_id == staff.id, TimeEntry.voided_at.is_(None),  # type: ignore[union-attr]
                TimeEntry.started_at >= day_start, TimeEntry.started_at < day_end)).one()
        if latest is not None and latest > start and latest + timedelta(seconds=seconds) <= day_end:
            start = latest
        # placed at 09:00 by convention, not a time anyone gave: estimated, not clock-timed
        return replace(request, started_at=start, clock_timed=False)

    def clinic_id(self, ref: str) -> str:
        """The patient by clinic id only: chat never resolves a phone number (PHI is not
        typed into Slack), even though the shared resolver accepts one."""
        with self.ctx.db.read_session() as session:
            return require_patient(session, ref or "", region=self.ctx.policy.phone_region,
                                   by_phone=False).clinic_id

    def undo(self, user_id: str) -> EntryView:
        """Void the caller's most recent entry, once, within 10 minutes of saving it.

        Undo reverses the last save and nothing else: once that entry is voided (or too
        old), a second undo must not reach back to an older entry; that is
        `/rpm void ID REASON`, with a reason of its own."""
        with self.ctx.db.read_session() as session:
            staff = require_staff(session, user_id)
            assert staff.id is not None
            last = latest_authored(session, staff_pk=staff.id, author=staff.slack_user_id)
        if last is None or last.voided or last.created_at < self.ctx.now() - UNDO_WINDOW:
            raise BadInput("There is nothing left to undo: undo reverses your last entry once, "
                           "within 10 minutes of saving it. `/rpm void ENTRY_ID REASON` voids "
                           "older ones.")
        return self.entries.void(last.id, reason=UNDO_REASON, by=user_id)

    def undo_double(self, user_id: str, entry_id: int | str) -> EntryView:
        """The 'Undo' button under a double-submission warning (author or admin only)."""
        return self.entries.void(entry_id, reason=DOUBLE_REASON, by=user_id)

    def caseload(self, user_id: str, month: Month | None = None) -> list[PatientRisk]:
        """The caller's assigned patients this month with the at-risk verdict, worst first."""
        return self.months.caseload(user_id, month)


def require_staff_id(service: QuickService, user_id: str) -> str:
    with service.ctx.db.read_session() as session:
        return require_staff(session, user_id).slack_user_id
