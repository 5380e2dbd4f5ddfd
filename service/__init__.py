"""The one service layer: every adapter (CLI, Slack, Twilio, scheduler, web) calls this.

Adapters parse their own surface and render the returned views; they never touch tables.
"""

from service.access import AccessService
from service.admin import AdminService
from service.audit_checks import AuditCheckService
from service.audit_packets import AuditPacketService
from service.audit_trail import AuditTrailService
from service.auditors import AuditorService
from service.backups import BackupService
from service.calls import CallService
from service.chat_entries import ChatEntryService
from service.context import Policy, ServiceContext
from service.current_patient import CurrentPatientService
from service.dashboard import DashboardService
from service.devices import DeviceService
from service.entries import EntryService
from service.home import HomeService
from service.imports import ImportService
from service.month_closing import MonthCloseService
from service.months import MonthService
from service.notices import NoticeService
from service.offboarding import OffboardingService
from service.patients import PatientService
from service.reminders import ReminderService
from service.sessions import KeyRing, SessionService
from service.staff import StaffService
from service.timers import TimerService
from service.voice_access import VoiceAccessService
from service.voice_menu import VoiceMenuService


class Service:
    """The areas of work, sharing one database, policy and clock."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.staff = StaffService(ctx)
        self.access = AccessService(ctx)
        self.keys = KeyRing(ctx)
        self.sessions = SessionService(ctx, self.keys)
        self.auditors = AuditorService(ctx, self.keys)
        self.patients = PatientService(ctx)
        self.imports = ImportService(ctx, self.patients, self.staff)
        # one MonthService (and one EntryService) shared by every area that needs them
        self.months = MonthService(ctx)
        self.entries = EntryService(ctx, self.months)
        self.audit_checks = AuditCheckService(ctx, self.months)
        self.closes = MonthCloseService(ctx, self.months, self.audit_checks)
        self.dashboard = DashboardService(ctx, self.entries)
        self.reminders = ReminderService(ctx, self.months)
        self.chat_entries = ChatEntryService(ctx, self.entries)
        self.current_patient = CurrentPatientService(ctx)
        self.timers = TimerService(ctx, self.entries)
        self.home = HomeService(ctx, self.months, self.timers)
        self.offboarding = OffboardingService(ctx, self.entries, self.timers)
        self.admin = AdminService(ctx)
        self.calls = CallService(ctx, entries=self.entries)
        self.notices = NoticeService(ctx, self.calls)
        self.voice_access = VoiceAccessService(ctx)
        self.voice_menu = VoiceMenuService(ctx, self.calls, self.entries, self.months)
        self.audit_packets = AuditPacketService(ctx, self.months, self.entries)
        self.audit_trail = AuditTrailService(ctx)
        self.backups = BackupService(ctx)
        self.devices = DeviceService(ctx)


__all__ = ["Policy", "Service", "ServiceContext"]
