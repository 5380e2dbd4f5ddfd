"""What chat adds around logging: late entries by day, double-submission warnings, undo,
and a staff member's caseload worst first. Adapters call these instead of deciding."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from billing.months import Month
from service.context import ServiceContext
from service.current_patient import patient_here
from service.entries import EntryService, LogRequest
from service.errors import BadInput, SaveUnconfirmed
from service.lookups import require_active_staff, require_patient
from service.months import MonthService
from service.patients import detail_view
from service.views import EntryView, LoggedEntry, MonthSummary, PatientRisk, PatientView
from store import entries as entry_rows
from store import patients as patient_rows

DOUBLE_SUBMISSION = timedelta(seconds=60)
# After a save whose outcome is unknown (store.db.SaveUnconfirmed), the author's next
# identical log within this time is checked against everything since that save: if it had
# been saved after all, the new one is flagged as its double (with Undo).
UNCONFIRMED_FOR = timedelta(hours=12)
UNDO_WINDOW = timedelta(minutes=10)
UNDO_REASON = "undone by the author from Slack (/rpm undo)"
DOUBLE_REASON = "double submission, undone by the author from Slack"


@dataclass(frozen=True)
class ChatLogged:
    logged: LoggedEntry
    duplicate_of: int | None  # an identical entry by the same person a moment before
    # duplicate_of was saved by a log the person was told could not be confirmed
    after_unconfirmed: bool = False


@dataclass(frozen=True)
class ChatPick:
    """A log with no patient typed and none set where it was typed: the caller's assigned
    patients still in the programme today, for the picker to complete it with."""

    patients: list[PatientView]


class ChatEntryService:
    def __init__(self, ctx: ServiceContext, entries: EntryService | None = None) -> None:
        self.ctx = ctx
        self.entries = entries or EntryService(ctx)
        self.months: MonthService = self.entries.months
        # author's Slack id -> when a log of theirs could not be confirmed (this process)
        self._unconfirmed: dict[str, datetime] = {}

    def log(self, request: LogRequest, *, day: date | None = None) -> ChatLogged:
        """Log (on `day` for a late entry: from 09:00 that day, or after the author's last
        entry that day) and say whether it repeats one from <60 s ago (or one saved by a
        log that could not be confirmed): one transaction."""
        window, unconfirmed = self._repeat_window(request.staff)
        with self._remembering_unconfirmed(request.staff):
            logged = self.entries.log(request, repeat_window=window, day=day, reply=True)
        return self._chat_logged(logged, unconfirmed)

    def _repeat_window(self, author: str) -> tuple[timedelta, bool]:
        """How far back an identical entry of the author counts as this log's double, and
        whether that reaches back to a save that could not be confirmed."""
        now = self.ctx.now()
        for who, at in list(self._unconfirmed.items()):
            if now - at > UNCONFIRMED_FOR:
                self._unconfirmed.pop(who, None)
        since = self._unconfirmed.get(author)
        if since is None:
            return DOUBLE_SUBMISSION, False
        return max(DOUBLE_SUBMISSION, now - since + DOUBLE_SUBMISSION), True

    @contextmanager
    def _remembering_unconfirmed(self, author: str) -> Iterator[None]:
        try:
            yield
        except SaveUnconfirmed:
            self._unconfirmed.setdefault(author, self.ctx.now())
            raise

    @staticmethod
    def _chat_logged(logged: LoggedEntry, unconfirmed: bool) -> ChatLogged:
        return ChatLogged(logged, logged.repeats,
                          after_unconfirmed=unconfirmed and logged.repeats is not None)

    def log_here(self, request: LogRequest, *, channel_id: str, day: date | None = None,
                 yesterday: bool = False) -> ChatLogged | ChatPick:
        """`/rpm log` as typed in `channel_id`, in one write transaction: for the typed
        patient (`log`), else for the conversation's patient (`/rpm use`, read in the same
        transaction), else the caller's patients for the picker. `yesterday`: a late entry
        for the clinic's yesterday. The caller is checked first (a stranger or a leaver:
        NotStaff), then the log's fields (before the picker too)."""
        if yesterday:  # the day before the one it was asked on (a replay: not today)
            asked = request.asked_at or self.ctx.now()
            day = asked.astimezone(self.ctx.policy.zone).date() - timedelta(days=1)
        if request.patient:
            return self.log(request, day=day)
        window, unconfirmed = self._repeat_window(request.staff)
        with self._remembering_unconfirmed(request.staff), self.ctx.db.write() as conn:
            here = patient_here(conn, channel_id=channel_id, user_id=request.staff,
                                doing="read a conversation's patient")
            if here.patient is None:
                self.entries.check(request, late=day is not None)
                today = self.months.today()
                return ChatPick([
                    view for view in map(detail_view, patient_rows.details(
                        conn, assigned_pk=here.staff.id))
                    if view.ended_on is None or view.ended_on >= today])
            logged = self.entries.log_within(
                conn, replace(request, patient=here.patient.clinic_id),
                repeat_window=window, day=day, reply=True)
        return self._chat_logged(logged, unconfirmed)

    def clinic_id(self, ref: str) -> str:
        """The patient by clinic id only: chat never resolves a phone number (PHI is not
        typed into Slack), even though the shared resolver accepts one."""
        with self.ctx.db.read() as conn:
            return str(require_patient(conn, ref or "", region=self.ctx.policy.phone_region,
                                       by_phone=False).clinic_id)

    def undo(self, user_id: str) -> EntryView:
        """Void the caller's most recent entry, once, within 10 minutes of saving it.

        Undo reverses the last save and nothing else: once that entry is voided (or too
        old), a second undo must not reach back to an older entry; that is
        `/rpm void ID REASON`, with a reason of its own."""
        with self.ctx.db.write() as conn:
            staff = require_active_staff(conn, user_id, doing="undo entries")
            last = entry_rows.latest_authored(conn, staff_pk=staff.id,
                                              author=staff.slack_user_id)
            if last is None or last.voided_at is not None or \
                    last.created_at < self.ctx.now() - UNDO_WINDOW:
                raise BadInput("There is nothing left to undo: undo reverses your last entry "
                               "once, within 10 minutes of saving it. `/rpm void ENTRY_ID "
                               "REASON` voids older ones.")
            return self.entries.void_in(conn, last, actor=staff, reason=UNDO_REASON)

    def undo_double(self, user_id: str, entry_id: int | str) -> EntryView:
        """The 'Undo' button under a double-submission warning (author or admin only)."""
        return self.entries.void(entry_id, reason=DOUBLE_REASON, by=user_id)

    def status_here(self, user_id: str, *, channel_id: str,
                    patient_ref: str | None) -> MonthSummary | list[PatientRisk]:
        """`/rpm status` as typed in `channel_id`: the typed patient's month, else the
        conversation's patient's (`/rpm use`, as `log` and `start` honour it: clinic finding,
        issue 26 item 11), else the caller's caseload; one read transaction."""
        if patient_ref:
            return self.months.summary(patient_ref, by_phone=False, actor=user_id, reply=True)
        with self.ctx.db.read() as conn:
            here = patient_here(conn, channel_id=channel_id, user_id=user_id,
                                doing="read patients' months")
            if here.patient is not None:
                return self.months.reply_in(conn, self.months.current(), here.patient.id)
            return self.months.caseload_in(conn, user_id)

    def caseload(self, user_id: str, month: Month | None = None) -> list[PatientRisk]:
        """The caller's assigned patients this month with the at-risk verdict, worst first."""
        return self.months.caseload(user_id, month)
