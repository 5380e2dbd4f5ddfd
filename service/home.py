"""The Slack App Home: what a staff member sees on opening the app, read as one use case."""

from dataclasses import dataclass

from service.context import ServiceContext
from service.lookups import require_active_staff
from service.months import MonthService
from service.timers import TimerService, TimerView
from service.views import PatientRisk


@dataclass(frozen=True)
class HomeView:
    caseload: list[PatientRisk]  # the caller's assigned patients this month, worst first
    timer: TimerView | None  # the caller's running timer


class HomeService:
    def __init__(self, ctx: ServiceContext, months: MonthService, timers: TimerService) -> None:
        self.ctx, self.months, self.timers = ctx, months, timers

    def view(self, user_id: str) -> HomeView:
        """The caller's caseload (as `/rpm status` lists it) and running timer (as `/rpm
        timer` shows it), in one read transaction; a stranger or a leaver: NotStaff."""
        with self.ctx.db.read() as conn:
            staff = require_active_staff(conn, user_id, doing="read a caseload")
            return HomeView(self.months.caseload_in(conn, user_id),
                            self.timers.running_in(conn, staff.id))
