"""Running timers: `start` now, `stop` later logs the elapsed time as one entry.

Stored (one per staff member) so a restart loses nothing. A timer left running past the
longest allowed entry is never logged silently: `stop` drops it and asks for the real
duration, since nobody reviews one patient for five hours straight.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from billing.activities import REVIEW, is_live_by_default, parse_activity
from billing.months import clinic_clock
from service import audit
from service.context import ServiceContext
from service.entries import MAX_NOTE_CHARS, EntryService, LogRequest
from service.errors import BadInput, NotAllowed, StoreConflict, StoreUnavailable
from service.patients import require_patient
from service.staff import require_staff
from service.views import LoggedEntry
from store.models import Patient, RunningTimer, Staff, TimeEntry


@dataclass(frozen=True)
class TimerView:
    patient_id: str
    initials: str | None
    activity: str
    started_at: datetime
    elapsed_seconds: int
    max_seconds: int

    @property
    def label(self) -> str:
        return f"{self.patient_id} ({self.initials})" if self.initials else self.patient_id

    @property
    def over_limit(self) -> bool:
        return self.elapsed_seconds > self.max_seconds


@dataclass(frozen=True)
class TimerStop:
    """What `stop` did: logged the entry, or (over the limit) dropped the timer unlogged."""

    timer: TimerView
    logged: LoggedEntry | None
    cleared: bool = True  # False: logged, but removing the timer failed (stop again clears)


class TimerService:
    def __init__(self, ctx: ServiceContext, entries: EntryService | None = None) -> None:
        self.ctx = ctx
        self.entries = entries or EntryService(ctx)

    def _staff(self, session: Session, user_id: str) -> Staff:
        staff = require_staff(session, user_id)
        if not staff.active:
            raise NotAllowed(f"{staff.slack_user_id} is inactive and cannot log time.")
        return staff

    @staticmethod
    def _row(session: Session, staff: Staff) -> RunningTimer | None:
        return session.exec(select(RunningTimer).where(RunningTimer.staff_id == staff.id)).first()

    def _view(self, session: Session, row: RunningTimer) -> TimerView:
        patient = session.get(Patient, row.patient_id)
        assert patient is not None
        elapsed = int((self.ctx.now() - row.started_at).total_seconds())
        return TimerView(patient.clinic_id, patient.initials, row.activity, row.started_at,
                         max(elapsed, 0), self.ctx.policy.max_entry_seconds)

    def start(self, user_id: str, patient_ref: str, activity: str | None = None) -> TimerView:
        kind = parse_activity(activity) if activity else REVIEW
        with self.ctx.db.write_session() as session:
            staff = self._staff(session, user_id)
            running = self._row(session, staff)
            if running is not None:
                view = self._view(session, running)
                since = clinic_clock(view.started_at, self.ctx.policy.zone)
                raise BadInput(f"Your timer for {view.label} is already running (since "
                               f"{since}): `/rpm stop` logs it, "
                               "`/rpm cancel` drops it.")
            patient = require_patient(session, patient_ref, region=self.ctx.policy.phone_region)
            assert patient.id is not None and staff.id is not None
            row = RunningTimer(staff_id=staff.id, patient_id=patient.id, activity=kind,
                               started_at=self.ctx.now())
            session.add(row)
            session.flush()
            audit.record(session, at=self.ctx.now(), actor=staff.slack_user_id,
                         action="timer.start", entity="timer", entity_id=staff.slack_user_id,
                         after={"patient_id": patient.clinic_id, "activity": kind,
                                "started_at": row.started_at})
            return self._view(session, row)

    def current(self, user_id: str) -> TimerView | None:
        with self.ctx.db.read_session() as session:
            row = self._row(session, require_staff(session, user_id))
            return self._view(session, row) if row else None

    def cancel(self, user_id: str) -> TimerView:
        with self.ctx.db.write_session() as session:
            staff = self._staff(session, user_id)
            row = self._require(session, staff)
            view = self._view(session, row)
            session.delete(row)
            self._audit(session, staff, "timer.cancel", view)
            return view

    def stop(self, user_id: str, note: str | None = None) -> TimerStop:
        """Log the elapsed time as an entry starting when the timer did, then remove the
        timer; over the limit, remove it and log nothing.

        The entry carries the timer as its external reference (unique), so a second stop of
        the same timer (a double click, or a retry after the removal failed) can never log
        it twice: it only finishes the removal.
        """
        text = (note or "").strip() or None
        if text and len(text) > MAX_NOTE_CHARS:
            raise BadInput(f"The note is over {MAX_NOTE_CHARS} characters.")
        with self.ctx.db.read_session() as session:
            staff = self._staff(session, user_id)
            row = self._require(session, staff)
            view = self._view(session, row)
            user, started = staff.slack_user_id, row.started_at
        if view.over_limit:
            self._remove(user, started, "timer.stop_over_limit", view)
            return TimerStop(view, None)
        if view.elapsed_seconds < 1:
            raise BadInput("The timer ran for less than a second: nothing to log.")
        ref = f"timer:{user}:{started.timestamp():.0f}"
        request = LogRequest(patient=view.patient_id, duration=f"{view.elapsed_seconds}s",
                             activity=view.activity, staff=user, source="slack", note=text,
                             started_at=started)
        try:
            logged = self.entries._write(
                request, seconds=view.elapsed_seconds, activity=view.activity, note=text,
                start=started, live=is_live_by_default(view.activity), actor=user,
                clock_timed=True, external_ref=ref)
        except StoreConflict:
            self._remove(user, started, "timer.stop", view)
            raise BadInput(f"That timer was already logged as entry #{self._entry_id(ref)}; "
                           "it is stopped now.") from None
        try:
            self._remove(user, started, "timer.stop", view)
        except (StoreUnavailable, StoreConflict):
            return TimerStop(view, logged, cleared=False)  # saved: never report it unsaved
        return TimerStop(view, logged)

    def _remove(self, user: str, started: datetime, action: str, view: TimerView) -> None:
        """Remove this timer (not one started since), with its audit event."""
        with self.ctx.db.write_session() as session:
            staff = require_staff(session, user)
            row = self._row(session, staff)
            if row is not None and row.started_at == started:
                session.delete(row)
                self._audit(session, staff, action, view)

    def _entry_id(self, ref: str) -> int | None:
        with self.ctx.db.read_session() as session:
            return session.exec(select(TimeEntry.id).where(TimeEntry.external_ref == ref)).first()

    @staticmethod
    def _require(session: Session, staff: Staff) -> RunningTimer:
        row = TimerService._row(session, staff)
        if row is None:
            raise BadInput("You have no timer running: `/rpm start PATIENT [ACTIVITY]` "
                           "starts one.")
        return row

    def _audit(self, session: Session, staff: Staff, action: str, view: TimerView) -> None:
        audit.record(session, at=self.ctx.now(), actor=staff.slack_user_id, action=action,
                     entity="timer", entity_id=staff.slack_user_id,
                     before={"patient_id": view.patient_id, "activity": view.activity,
                             "started_at": view.started_at,
                             "elapsed_seconds": view.elapsed_seconds})
