"""The Slack App Home: what a staff member sees on opening the app, read as one use case."""

from dataclasses import dataclass
from typing import Any

from service.context import ServiceContext
from service.errors import InvalidInput
from service.lookups import require_active_staff
from service.months import MonthService
from service.timers import TimerService, TimerView
from service.views import PatientRisk
from store.db import Conn


@dataclass(frozen=True)
class HomeView:
    caseload: list[PatientRisk]  # the caller's assigned patients this month, worst first
    timer: TimerView | None  # the caller's running timer


@dataclass(frozen=True)
class HomeStart:
    """The home's Start button: the timer started, or why not, and the home it leaves."""

    started: TimerView | None
    refusal: InvalidInput | None  # set when `started` is None
    home: HomeView


class HomeService:
    def __init__(self, ctx: ServiceContext, months: MonthService, timers: TimerService) -> None:
        self.ctx, self.months, self.timers = ctx, months, timers

    def view(self, user_id: str) -> HomeView:
        """The caller's caseload (as `/rpm status` lists it) and running timer (as `/rpm
        timer` shows it), in one read transaction; a stranger or a leaver: NotStaff."""
        with self.ctx.db.read() as conn:
            staff = require_active_staff(conn, user_id, doing="read a caseload")
            return self._view_in(conn, user_id, staff)

    def start(self, user_id: str, patient_id: str) -> HomeStart:
        """The home's Start button: start the caller's timer for the patient (a clinic id)
        and read the home it leaves, in one write transaction. A refusal (a timer already
        running, an unknown patient) comes before anything is written, so the home is read
        in the same transaction all the same; a stranger or a leaver: NotStaff."""
        with self.ctx.db.write() as conn:
            staff = require_active_staff(conn, user_id, doing="log time")
            started: TimerView | None = None
            refusal: InvalidInput | None = None
            try:
                started = self.timers.start_in(conn, staff, patient_id, by_phone=False)
            except InvalidInput as exc:
                refusal = exc
            return HomeStart(started, refusal, self._view_in(conn, user_id, staff))

    def _view_in(self, conn: Conn, user_id: str, staff: Any) -> HomeView:
        return HomeView(self.months.caseload_in(conn, user_id),
                        self.timers.running_in(conn, staff.id))
