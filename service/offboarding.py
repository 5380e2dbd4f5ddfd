"""Offboarding: a member who leaves stops being reachable, in one transaction (issue 24).

`offboard` records the instant they became inactive (`staff.inactive_from`: from then on no
call is routed to their phones or credited to them, service/calls.py), moves their patients
to another active member, ends their running timer (its time up to now logged as an entry
with a note saying so; one past MAX_ENTRY_MINUTES, or asked to, dropped with a note and the
admins told), removes their voice PIN, and records why: one audit record per write. Their
Twilio numbers stay the clinic's, still on their record, until `staff update --twilio-number`
gives them to someone else; calls to them go to the caller's new assignee, else the clinic's
fallback number. `preview` says all of this before anything changes.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from billing.months import clinic_time
from service import audit, lookups
from service.context import ServiceContext
from service.entries import MAX_NOTE_CHARS, EntryService, LogRequest
from service.errors import BadInput
from service.sessions import OFFBOARDED, STAFF, end_all_in
from service.staff import snapshot, view_of
from service.timers import TimerService, TimerView
from service.views import StaffView
from store import patients as patient_rows
from store import staff as staff_rows
from store import timers as timer_rows
from store.db import Conn

MAX_REASON_CHARS = 500

# what becomes of a running timer
LOGGED, OVER_LIMIT, DROPPED = "logged", "over_limit", "dropped"


@dataclass(frozen=True)
class OffboardPlan:
    """What offboarding `member` does (a preview), or did (in `Offboarded`)."""

    member: StaffView
    successor: StaffView
    patients: tuple[str, ...]  # clinic id (initials): what Slack may name
    timer: TimerView | None
    timer_fate: str | None  # LOGGED, OVER_LIMIT, DROPPED; None: no timer
    voice_pin: bool  # a voice PIN is set (it is removed)
    twilio_numbers: int  # clinic Twilio numbers still on their record (they stay the clinic's)
    inactive_from: datetime  # from this instant (the preview's: now)
    already_inactive: bool  # inactive before: their earlier instant, if recorded, is kept


@dataclass(frozen=True)
class TimerDropped:
    """A leaver's running timer dropped unlogged: who, which patient (clinic id and initials
    only), since when, how long, why; and the admins to tell (Slack ids)."""

    member: str
    member_name: str
    patient: str
    started_at: datetime
    elapsed_seconds: int
    why: str
    admins: tuple[str, ...]


@dataclass(frozen=True)
class Offboarded:
    plan: OffboardPlan
    entry_id: int | None  # the timer's entry, when it was logged
    dropped: TimerDropped | None  # the timer dropped: tell `dropped.admins`


def _label(row: Any) -> str:
    return f"{row.clinic_id} ({row.initials})" if row.initials else row.clinic_id


class OffboardingService:
    def __init__(self, ctx: ServiceContext, entries: EntryService | None = None,
                 timers: TimerService | None = None) -> None:
        self.ctx = ctx
        self.entries = entries or EntryService(ctx)
        self.timers = timers or TimerService(ctx, self.entries)

    def preview(self, member: str, *, reassign_to: str, drop_timer: bool = False,
                admin: str | None = None) -> OffboardPlan:
        """What `offboard` would do now; nothing changes (chat: `admin` must be an active
        admin, checked in the same read)."""
        with self.ctx.db.read() as conn:
            if admin is not None:
                lookups.require_admin(conn, admin)
            return self._plan(conn, member, reassign_to, drop_timer)[0]

    def offboard(self, member: str, *, reassign_to: str, reason: str | None = None,
                 drop_timer: bool = False, actor: str | None = None,
                 admin: str | None = None) -> Offboarded:
        """Offboard `member` to `reassign_to` in one transaction. `actor`: the CLI's
        operator; `admin`: a chat admin (checked in the same transaction, recorded as the
        actor)."""
        why = (reason or "").strip() or None
        if why is not None and len(why) > MAX_REASON_CHARS:
            raise BadInput(f"The reason is over {MAX_REASON_CHARS} characters.")
        with self.ctx.db.write() as conn:
            if admin is not None:
                actor = lookups.require_admin(conn, admin)
            assert actor is not None, "an actor: the operator or a chat admin"
            plan, row, successor = self._plan(conn, member, reassign_to, drop_timer)
            now = self.ctx.now()
            since = row.inactive_from if (not row.active and row.inactive_from) else now
            entry_id, dropped = self._end_timer(conn, plan, row, actor, why)
            moved = patient_rows.assigned_to(conn, row.id)
            patient_rows.reassign_all(conn, row.id, successor.id)
            for patient in moved:
                audit.record(conn, at=now, actor=actor, action="patient.reassign",
                             entity="patient", entity_id=patient.clinic_id,
                             before={"assigned_to": row.slack_user_id},
                             after={"assigned_to": successor.slack_user_id,
                                    "why": f"{row.slack_user_id} offboarded"})
            after = staff_rows.update_staff(conn, row.id, {
                "active": False, "inactive_from": since, "voice_pin_hash": None,
                "voice_locked_until": None})
            numbers = staff_rows.phones(conn, row.id)
            audit.record(conn, at=now, actor=actor, action="staff.offboard", entity="staff",
                         entity_id=row.slack_user_id, before=snapshot(row, numbers),
                         after={**snapshot(after, numbers),
                                "reassigned_to": successor.slack_user_id,
                                "patients_moved": len(moved), "timer": plan.timer_fate,
                                "timer_entry": entry_id, "voice_pin_removed": plan.voice_pin,
                                "reason": why})
            # her dashboard sessions end too: a copied cookie is refused even if she is
            # made active again later
            end_all_in(conn, STAFF, row.slack_user_id, now=now, actor=actor, why=OFFBOARDED)
            if dropped is not None:
                dropped = replace(dropped, admins=tuple(staff_rows.admin_ids(conn)))
            return Offboarded(plan, entry_id, dropped)

    def _plan(self, conn: Conn, member: str, reassign_to: str,
              drop_timer: bool) -> tuple[OffboardPlan, Any, Any]:
        """The plan, the member's row and the successor's row; every refusal first."""
        row = lookups.require_staff(conn, member)
        successor = lookups.require_staff(conn, reassign_to)
        if successor.id == row.id:
            raise BadInput(f"{row.slack_user_id} cannot take over their own patients: name "
                           "another active staff member with --reassign-to.")
        if not successor.active:
            raise BadInput(f"{successor.slack_user_id} ({successor.name}) is inactive: "
                           "name an active staff member with --reassign-to.")
        timer = self.timers.running_in(conn, row.id)
        assigned = patient_rows.assigned_to(conn, row.id)
        if not row.active and row.inactive_from is not None and not assigned \
                and timer is None and row.voice_pin_hash is None:
            since = clinic_time(row.inactive_from, self.ctx.policy.zone)
            raise BadInput(f"{row.slack_user_id} is offboarded already (inactive since "
                           f"{since}): nothing left to do.")
        fate = None
        if timer is not None:
            fate = DROPPED if drop_timer else OVER_LIMIT if timer.over_limit else LOGGED
        if fate == LOGGED and timer is not None and timer.elapsed_seconds < 1:
            fate = DROPPED  # nothing to log: under a second
        numbers = staff_rows.phones(conn, row.id)
        plan = OffboardPlan(
            member=view_of(conn, row), successor=view_of(conn, successor),
            patients=tuple(_label(p) for p in assigned),
            timer=timer, timer_fate=fate, voice_pin=row.voice_pin_hash is not None,
            twilio_numbers=sum(1 for kind in numbers.values() if kind == "twilio_number"),
            inactive_from=(row.inactive_from if not row.active and row.inactive_from
                           else self.ctx.now()),
            already_inactive=not row.active)
        return plan, row, successor

    def _end_timer(self, conn: Conn, plan: OffboardPlan, row: Any, actor: str,
                   why: str | None) -> tuple[int | None, TimerDropped | None]:
        """Log the running timer's time up to now with a note saying so, or drop it with an
        audit record that says why (never silently)."""
        timer = timer_rows.running(conn, row.id)
        if timer is None or plan.timer is None:
            return None, None
        view = plan.timer
        when = clinic_time(self.ctx.now(), self.ctx.policy.zone)
        if plan.timer_fate == LOGGED:
            note = (f"Timer running when {row.name} ({row.slack_user_id}) was offboarded "
                    f"at {when}: logged up to then by {actor}.")[:MAX_NOTE_CHARS]
            request = LogRequest(patient=view.patient_id, duration=f"{view.elapsed_seconds}s",
                                 activity=view.activity, staff=row.slack_user_id,
                                 source="slack", note=note, started_at=view.started_at)
            try:
                logged = self.entries.log_in(
                    conn, request, staff=row, patient=timer, started_at=view.started_at,
                    actor=actor,
                    external_ref=f"timer:{row.slack_user_id}:{view.started_at.timestamp():.0f}")
            except BadInput as exc:
                raise BadInput(f"Their running timer for {view.label} cannot be logged "
                               f"({exc}); --drop-timer drops it with a note instead. "
                               "Nothing changed.") from None
            timer_rows.remove(conn, timer.timer_id)
            audit.record(conn, at=self.ctx.now(), actor=actor, action="timer.stop_offboard",
                         entity="timer", entity_id=row.slack_user_id,
                         before=_timer_state(view),
                         after={"entry_id": logged.entry.id, "note": note})
            return logged.entry.id, None
        reason = ("it ran past MAX_ENTRY_MINUTES, so its length is not known"
                  if plan.timer_fate == OVER_LIMIT else "dropped on request (--drop-timer)")
        note = (f"Timer dropped unlogged when {row.name} ({row.slack_user_id}) was offboarded "
                f"at {when}: {reason}; log the real time with `rpm-logger log --staff "
                f"{row.slack_user_id} --at ...` if it is known.")
        timer_rows.remove(conn, timer.timer_id)
        audit.record(conn, at=self.ctx.now(), actor=actor, action="timer.drop_offboard",
                     entity="timer", entity_id=row.slack_user_id, before=_timer_state(view),
                     after={"note": note, "reason": why})
        return None, TimerDropped(row.slack_user_id, row.name, view.label, view.started_at,
                                  view.elapsed_seconds, reason, ())


def _timer_state(view: TimerView) -> dict[str, Any]:
    return {"patient_id": view.patient_id, "activity": view.activity,
            "started_at": view.started_at, "elapsed_seconds": view.elapsed_seconds}
