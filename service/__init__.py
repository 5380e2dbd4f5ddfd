"""The one service layer: every adapter (CLI, Slack, Twilio, scheduler, web) calls this.

Adapters parse their own surface and render the returned views; they never touch tables.
"""

from service.admin import AdminService
from service.calls import CallService
from service.context import Policy, ServiceContext
from service.current_patient import CurrentPatientService
from service.dashboard import DashboardService
from service.entries import EntryService
from service.month_closing import MonthCloseService
from service.months import MonthService
from service.patients import PatientService
from service.quick import QuickService
from service.reminders import ReminderService
from service.staff import StaffService
from service.timers import TimerService


class Service:
    """The areas of work, sharing one database, policy and clock."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.staff = StaffService(ctx)
        self.patients = PatientService(ctx)
        self.entries = EntryService(ctx)
        self.months = MonthService(ctx)
        self.closes = MonthCloseService(ctx)
        self.dashboard = DashboardService(ctx)
        self.reminders = ReminderService(ctx, self.months)
        self.quick = QuickService(ctx)
        self.current_patient = CurrentPatientService(ctx)
        self.timers = TimerService(ctx)
        self.admin = AdminService(ctx)
        self.calls = CallService(ctx)


__all__ = ["Policy", "Service", "ServiceContext"]
