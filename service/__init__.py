"""The one service layer: every adapter (CLI, Slack, Twilio, scheduler, web) calls this.

Adapters parse their own surface and render the returned views; they never touch tables.
"""

from service.calls import CallService
from service.context import Policy, ServiceContext
from service.entries import EntryService
from service.months import MonthService
from service.patients import PatientService
from service.staff import StaffService


class Service:
    """The areas of work, sharing one database, policy and clock."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.staff = StaffService(ctx)
        self.patients = PatientService(ctx)
        self.entries = EntryService(ctx)
        self.months = MonthService(ctx)
        self.calls = CallService(ctx)


__all__ = ["Policy", "Service", "ServiceContext"]
