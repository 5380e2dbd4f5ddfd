"""Running timers: `start` now, `stop` later logs the elapsed time as one entry.

Stored (one per staff member) so a restart loses nothing. A timer left running past the
longest allowed entry is never logged silently: `stop` drops it and asks for the real
duration, since nobody reviews one patient for five hours straight.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from billing.activities import REVIEW, parse_activity
from billing.months import clinic_clock
from service import audit
from service.context import ServiceContext
from service.current_patient import patient_here
from service.entries import MAX_NOTE_CHARS, EntryService, LogRequest
from service.errors import BadInput, StoreConflict, StoreUnavailable
from service.lookups import require_active_staff, require_patient, require_staff
from service.views import LoggedEntry
from store import entries as entry_rows
from store import timers as timer_rows
from store.db import Conn


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

    def _view(self, timer: Any) -> TimerView:
        """`timer`: a store.timers.running row (the patient's columns and the timer's)."""
        elapsed = int((self.ctx.now() - timer.timer_started_at).total_seconds())
        return TimerView(timer.clinic_id, timer.initials, timer.timer_activity,
                         timer.timer_started_at, max(elapsed, 0),
                         self.ctx.policy.max_entry_seconds)

    def start(self, user_id: str, patient_ref: str, activity: str | None = None, *,
              by_phone: bool = True) -> TimerView:
        """Start the caller's timer (`by_phone=False`: chat, where the patient is named by
        clinic id only)."""
        kind = parse_activity(activity) if activity else REVIEW
        with self.ctx.db.write() as conn:
            staff = require_active_staff(conn, user_id, doing="log time")
            return self.start_in(conn, staff, patient_ref, kind, by_phone=by_phone)

    def start_here(self, user_id: str, *, channel_id: str, patient_ref: str | None,
                   activity: str | None = None) -> TimerView | None:
        """`/rpm start` as typed in `channel_id` (chat: clinic ids only), in one write
        transaction: for the typed patient, else for the conversation's (`/rpm use`, read in
        the same transaction); None when neither is there. The caller is checked first (a
        stranger or a leaver: NotStaff), the activity once a patient is known."""
        if patient_ref:
            return self.start(user_id, patient_ref, activity, by_phone=False)
        with self.ctx.db.write() as conn:
            here = patient_here(conn, channel_id=channel_id, user_id=user_id,
                                doing="read a conversation's patient")
            if here.patient is None:
                return None
            kind = parse_activity(activity) if activity else REVIEW
            staff = require_active_staff(conn, user_id, doing="log time")
            return self.start_in(conn, staff, here.patient.clinic_id, kind, by_phone=False)

    def start_in(self, conn: Conn, staff: Any, patient_ref: str, kind: str = REVIEW, *,
                 by_phone: bool) -> TimerView:
        """Start `staff`'s timer (active staff, read in the caller's write transaction) for
        an activity already parsed. Every refusal (a timer already running, an unknown
        patient) comes before anything is written."""
        running = timer_rows.running(conn, staff.id)
        if running is not None:
            view = self._view(running)
            since = clinic_clock(view.started_at, self.ctx.policy.zone)
            raise BadInput(f"Your timer for {view.label} is already running (since "
                           f"{since}): `/rpm stop` logs it, "
                           "`/rpm cancel` drops it.")
        patient = require_patient(conn, patient_ref, region=self.ctx.policy.phone_region,
                                  by_phone=by_phone)
        now = self.ctx.now()
        timer_rows.start(conn, staff_pk=staff.id, patient_pk=patient.id, activity=kind,
                         started_at=now)
        audit.record(conn, at=now, actor=staff.slack_user_id,
                     action="timer.start", entity="timer", entity_id=staff.slack_user_id,
                     after={"patient_id": patient.clinic_id, "activity": kind,
                            "started_at": now})
        return TimerView(patient.clinic_id, patient.initials, kind, now, 0,
                         self.ctx.policy.max_entry_seconds)

    def current(self, user_id: str) -> TimerView | None:
        with self.ctx.db.read() as conn:
            staff = require_active_staff(conn, user_id, doing="use timers")
            return self.running_in(conn, staff.id)

    def running_in(self, conn: Conn, staff_pk: int) -> TimerView | None:
        """The staff member's running timer, inside the caller's transaction."""
        timer = timer_rows.running(conn, staff_pk)
        return self._view(timer) if timer is not None else None

    def cancel(self, user_id: str) -> TimerView:
        with self.ctx.db.write() as conn:
            staff = require_active_staff(conn, user_id, doing="log time")
            timer = self._require(conn, staff)
            view = self._view(timer)
            if timer_rows.remove(conn, timer.timer_id):
                self._audit(conn, staff.slack_user_id, "timer.cancel", view)
            return view

    def stop(self, user_id: str, note: str | None = None) -> TimerStop:
        """Log the elapsed time as an entry starting when the timer did, then remove the
        timer; over the limit, remove it and log nothing.

        The entry carries the timer as its external reference (unique), so a second stop of
        the same timer (a double click, or a retry after the removal failed) can never log
        it twice: it only finishes the removal. The removal is its own transaction after
        the entry's commit: when it fails the entry is still saved and the reply says so.
        """
        text = (note or "").strip() or None
        if text and len(text) > MAX_NOTE_CHARS:
            raise BadInput(f"The note is over {MAX_NOTE_CHARS} characters.")
        ref: str | None = None
        try:
            with self.ctx.db.write() as conn:
                staff = require_active_staff(conn, user_id, doing="log time")
                timer = self._require(conn, staff)
                view = self._view(timer)
                user, started = staff.slack_user_id, timer.timer_started_at
                if view.over_limit:  # dropped, nothing logged: one transaction
                    if timer_rows.remove(conn, timer.timer_id):
                        self._audit(conn, user, "timer.stop_over_limit", view)
                    return TimerStop(view, None)
                if view.elapsed_seconds < 1:
                    raise BadInput("The timer ran for less than a second: nothing to log.")
                ref = f"timer:{user}:{started.timestamp():.0f}"
                request = LogRequest(patient=view.patient_id,
                                     duration=f"{view.elapsed_seconds}s",
                                     activity=view.activity, staff=user, source="slack",
                                     note=text, started_at=started)
                logged = self.entries.log_in(conn, request, staff=staff, patient=timer,
                                             started_at=started, actor=user,
                                             external_ref=ref)
        except StoreConflict:
            if ref is None:
                raise
            entry_id = self._remove(user, started, "timer.stop", view, ref=ref)
            raise BadInput(f"That timer was already logged as entry #{entry_id}; "
                           "it is stopped now.") from None
        try:
            self._remove(user, started, "timer.stop", view)
        except (StoreUnavailable, StoreConflict):
            return TimerStop(view, logged, cleared=False)  # saved: never report it unsaved
        return TimerStop(view, logged)

    def _remove(self, user: str, started: datetime, action: str, view: TimerView,
                ref: str | None = None) -> int | None:
        """Remove this timer (not one started since), with its audit event; with `ref`, the
        id of the entry already logged under it."""
        with self.ctx.db.write() as conn:
            staff = require_staff(conn, user)
            timer = timer_rows.running(conn, staff.id)
            if timer is not None and timer.timer_started_at == started and \
                    timer_rows.remove(conn, timer.timer_id):
                self._audit(conn, staff.slack_user_id, action, view)
            return entry_rows.id_by_external_ref(conn, ref) if ref is not None else None

    @staticmethod
    def _require(conn: Conn, staff: Any) -> Any:
        timer = timer_rows.running(conn, staff.id)
        if timer is None:
            raise BadInput("You have no timer running: `/rpm start PATIENT [ACTIVITY]` "
                           "starts one.")
        return timer

    def _audit(self, conn: Conn, user: str, action: str, view: TimerView) -> None:
        audit.record(conn, at=self.ctx.now(), actor=user, action=action,
                     entity="timer", entity_id=user,
                     before={"patient_id": view.patient_id, "activity": view.activity,
                             "started_at": view.started_at,
                             "elapsed_seconds": view.elapsed_seconds})
