"""Telephony: every Twilio call leg kept as a call record; a real conversation becomes one
live time entry.

The rules (issue #4, README "Telephony"):
- Only a finished, answered, human conversation counts; machines, fax, busy, no-answer,
  failed and canceled legs are attempts (kept, never minutes).
- A leg we placed to a patient counts with AnsweredBy=human; unknown or missing AnsweredBy
  makes it *unconfirmed* until the staff member says it was live.
- A leg placed to staff by the clinic's `/incoming` bridge counts only once the staff member
  accepted the screening prompt (so a staff voicemail can never take it).
- A <Dial> bridge has a parent and a child leg: the conversation is counted once, on the
  child (its duration is the conversation); the parent is a `leg`.
- Calls shorter than `min_live_call_seconds` never count.
- No patient: `unmatched` until an admin attaches one. No staff: `unclaimed` until a staff
  member claims it.

Deliveries are idempotent by CallSid: the row is locked (FOR UPDATE on PostgreSQL, BEGIN
IMMEDIATE on SQLite), events older than the applied SequenceNumber are ignored, and a racing
insert of the same CallSid (or of the same entry reference) rolls back and is retried, so
concurrent duplicates leave one row and at most one entry.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import bindparam
from sqlmodel import Session, select

from billing.errors import quoted
from billing.months import Month
from service import audit
from service.closes import check_open, find_close
from service.context import ServiceContext
from service.entries import EntryService
from service.errors import BadInput, NotAllowed, NotFound, StoreConflict, parse_row_id
from service.patients import require_patient
from service.patients import view_of as patient_view
from service.phones import mask_phone, try_normalize_phone
from service.staff import require_staff
from service.views import PatientView
from store.models import Call, Contact, Patient, PatientPhone, Staff, StaffPhone

FINAL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")
ATTEMPT_STATUSES = ("busy", "no-answer", "failed", "canceled")
INTERMEDIATE_STATUSES = ("queued", "initiated", "ringing", "in-progress")
KNOWN_STATUSES = FINAL_STATUSES + INTERMEDIATE_STATUSES
# states a later fact (attach, claim, confirm, a parent leg) may still change
OPEN_STATES = ("in_progress", "unmatched", "unclaimed", "unconfirmed")
CONFLICT_RETRIES = 8

# The lookups every status callback makes, built once and run with bound values (building
# a statement costs more CPU than running it).
_CALL_BY_SID = select(Call).where(Call.call_sid == bindparam("sid"))
_CALL_BY_SID_LOCKED = _CALL_BY_SID.with_for_update()
_CHILD_OF = select(Call.id).where(Call.parent_call_sid == bindparam("sid"))
_STAFF_BY_CLIENT = select(Staff).where(Staff.twilio_client == bindparam("name"))
_STAFF_PHONE = select(StaffPhone).where(StaffPhone.e164 == bindparam("e164"))
_PATIENT_PHONE = select(PatientPhone).where(PatientPhone.e164 == bindparam("e164"))


def _call_by_sid(session: Session, call_sid: str | None) -> Call | None:
    """The stored call with this CallSid (a leg's parent, a lookup), or None."""
    if not call_sid:
        return None
    return session.exec(_CALL_BY_SID, params={"sid": call_sid}).first()
T = TypeVar("T")


@dataclass(frozen=True)
class CallEvent:
    """One status callback (or one call listed by reconciliation), as the adapter parsed it."""

    call_sid: str
    status: str
    account_sid: str | None = None
    direction: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    parent_call_sid: str | None = None
    duration_seconds: int | None = None  # CallDuration: only on final statuses
    answered_by: str | None = None
    sequence_number: int | None = None
    timestamp: datetime | None = None  # when the event happened (Twilio's Timestamp)
    source: str = "webhook"  # webhook | reconcile | click


@dataclass(frozen=True)
class SmsEvent:
    message_sid: str
    from_number: str | None
    to_number: str | None
    account_sid: str | None = None


@dataclass(frozen=True)
class CallView:
    """A call as people see it: short id, masked numbers, patient as clinic id + initials."""

    call_id: str  # "C-12": what people type, never the CallSid
    call_sid: str
    state: str
    state_reason: str | None
    status: str
    direction: str | None
    from_masked: str | None
    to_masked: str | None
    answered_by: str | None
    duration_seconds: int | None
    started_at: datetime
    ended_at: datetime | None
    patient: PatientView | None
    staff: str | None  # Slack user id
    entry_id: int | None
    note: str | None
    after_close: bool
    parent_call_sid: str | None = None

    @property
    def patient_label(self) -> str:
        return self.patient.label if self.patient else "an unknown number"


@dataclass(frozen=True)
class CallOutcome:
    """The call after a write, and whether this write changed its state (so adapters send a
    DM once per change, never once per retried delivery)."""

    call: CallView
    changed: bool
    previous_state: str | None

    @property
    def became(self) -> str | None:
        return self.call.state if self.changed else None


@dataclass(frozen=True)
class IncomingRoute:
    """Where the clinic bridge dials a caller, and how the whisper names the caller."""

    dial_to: str | None  # E.164 of the staff phone, or the fallback; None: nobody to dial
    caller_label: str  # clinic id (+ initials) or "an unknown number"
    staff: str | None


@dataclass(frozen=True)
class ClickToCall:
    staff_phone: str
    patient_phone: str
    patient: PatientView
    staff: str


@dataclass(frozen=True)
class ContactView:
    id: int
    kind: str
    patient: PatientView | None
    from_masked: str | None
    received_at: datetime


@dataclass(frozen=True)
class Party:
    """What one side of a call is: a staff member (how), a patient (as whom), or nothing."""

    raw: str | None
    staff: Staff | None = None
    staff_kind: str | None = None  # phone | twilio_number | client
    patient: Patient | None = None
    patient_kind: str | None = None  # patient | caregiver


def format_call_id(pk: int) -> str:
    return f"C-{pk}"


def parse_call_id(text: str | int) -> int:
    """Call ids as people type them: C-12, c12, #12 or 12."""
    raw = str(text).strip().lstrip("#").upper().removeprefix("C").lstrip("-")
    number = parse_row_id(raw)
    if number is None:
        raise BadInput(f"{quoted(str(text))} is not a call id (such as C-12).")
    return number


def _mask(number: str | None) -> str | None:
    if number is None or number.startswith("client:"):
        return number
    return mask_phone(number)


def _stored_number(raw: str | None, region: str) -> str | None:
    """E.164 when it is a phone number; a client identity or anything else kept as is."""
    if not raw:
        return None
    raw = raw.strip()
    if raw.startswith("client:"):
        return raw[:140]
    return try_normalize_phone(raw, region=region) or raw[:140]


def _snapshot(call: Call) -> dict[str, Any]:
    data = call.model_dump(exclude={"created_at", "updated_at"})
    data["from_number"] = _mask(call.from_number)
    data["to_number"] = _mask(call.to_number)
    return data


def month_is_closed(session: Session, month: Month) -> bool:
    """Calls dated in a billed month are kept but flagged, never counted into it. Asked
    right before a call becomes an entry, so it takes the month's lock (shared) like any
    writer: a close running at the same time sees the entry, or this call sees the close."""
    return find_close(session, month, for_write=True) is not None


class CallService:
    def __init__(self, ctx: ServiceContext,
                 month_closed: Callable[[Session, Month], bool] = month_is_closed,
                 entries: EntryService | None = None) -> None:
        self.ctx = ctx
        self.entries = entries or EntryService(ctx)
        self.month_closed = month_closed

    # -- plumbing -------------------------------------------------------------------------

    def _retrying(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a write transaction, retrying when a racing write won a unique key."""
        for attempt in range(CONFLICT_RETRIES):
            try:
                with self.ctx.db.write_session() as session:
                    return work(session)
            except StoreConflict:
                if attempt == CONFLICT_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _region(self) -> str:
        return self.ctx.policy.phone_region

    def _party(self, session: Session, raw: str | None) -> Party:
        """Who a number is, resolved once per transaction: matching and the verdict ask about
        the same numbers, and phones do not change under a transaction's feet."""
        if not raw:
            return Party(raw)
        known: dict[str, Party] = session.info.setdefault("call_parties", {})
        if raw not in known:
            known[raw] = self._resolve_party(session, raw)
        return known[raw]

    def _resolve_party(self, session: Session, raw: str) -> Party:
        if raw.startswith("client:"):
            name = raw.removeprefix("client:")
            staff = session.exec(_STAFF_BY_CLIENT, params={"name": name}).first()
            return Party(raw, staff, "client" if staff else None)
        e164 = try_normalize_phone(raw, region=self._region())
        if e164 is None:
            return Party(raw)
        staff_phone = session.exec(_STAFF_PHONE, params={"e164": e164}).first()
        if staff_phone is not None:
            return Party(raw, session.get(Staff, staff_phone.staff_id), staff_phone.kind)
        phone = session.exec(_PATIENT_PHONE, params={"e164": e164}).first()
        if phone is not None:
            return Party(raw, patient=session.get(Patient, phone.patient_id),
                         patient_kind=phone.kind)
        return Party(raw)

    def _view(self, session: Session, call: Call) -> CallView:
        assert call.id is not None
        patient = session.get(Patient, call.patient_id) if call.patient_id else None
        staff = session.get(Staff, call.staff_id) if call.staff_id else None
        return CallView(
            format_call_id(call.id), call.call_sid, call.state, call.state_reason, call.status,
            call.direction, _mask(call.from_number), _mask(call.to_number), call.answered_by,
            call.duration_seconds, call.started_at, call.ended_at,
            patient_view(session, patient) if patient else None,
            staff.slack_user_id if staff else None, call.entry_id, call.note, call.after_close,
            call.parent_call_sid,
        )

    def _locked(self, session: Session, call_sid: str) -> Call | None:
        return session.exec(_CALL_BY_SID_LOCKED, params={"sid": call_sid}).first()

    def _get_or_create(self, session: Session, event: CallEvent) -> tuple[Call, bool]:
        call = self._locked(session, event.call_sid)
        if call is not None:
            return call, False
        now = self.ctx.now()
        started = event.timestamp or now
        if event.status in FINAL_STATUSES and event.duration_seconds:
            started -= timedelta(seconds=event.duration_seconds)  # first seen at its end
        call = Call(call_sid=event.call_sid, status=event.status or "queued",
                    started_at=started, source=event.source,
                    created_at=now, updated_at=now)
        session.add(call)
        session.flush()  # a racing insert of the same CallSid fails here -> retried
        return call, True

    # -- status callbacks -----------------------------------------------------------------

    def record_status(self, event: CallEvent) -> CallOutcome:
        """Store one delivery of a call's status; exactly once however often it arrives."""
        if not event.call_sid:
            raise BadInput("A call event needs a CallSid.")
        return self._retrying(lambda session: self._record(session, event))

    def _lock_parent(self, session: Session, parent_sid: str | None, source: str) -> None:
        """Lock (or create as a placeholder) a child's parent row before the child's.

        A parent and its child decide about each other (count once, on one leg); locking
        the parent first, always, serialises their racing deliveries on PostgreSQL.
        """
        if not parent_sid:
            return
        parent, created = self._get_or_create(
            session, CallEvent(call_sid=parent_sid, status="queued", source=source))
        if created:
            audit.record(session, at=self.ctx.now(), actor="twilio", action="call.parent_seen",
                         entity="call", entity_id=format_call_id(parent.id or 0),
                         after=_snapshot(parent))

    def _record(self, session: Session, event: CallEvent) -> CallOutcome:
        self._lock_parent(session, event.parent_call_sid, event.source)
        call, created = self._get_or_create(session, event)
        before = None if created else _snapshot(call)
        previous = None if created else call.state
        # one UPDATE at the end instead of one per lookup (the lookups never read this row)
        with session.no_autoflush:
            if created or self._is_newer(call, event):
                self._apply_event(call, event)
            self._match(session, call)
            self._decide(session, call)
        return self._finish(session, call, before, previous, created, "call.status",
                            actor="twilio")

    @staticmethod
    def _is_newer(call: Call, event: CallEvent) -> bool:
        """Out-of-order deliveries: a final status is never replaced; otherwise the higher
        SequenceNumber wins, and a final status beats any intermediate one."""
        stored_final = call.status in FINAL_STATUSES
        event_final = event.status in FINAL_STATUSES
        if stored_final:
            # a reconciled listing (no sequence) may only fill in what is missing
            return False
        if event_final:
            return True
        sequence = event.sequence_number if event.sequence_number is not None else -1
        return sequence > call.sequence_number

    def _apply_event(self, call: Call, event: CallEvent) -> None:
        region = self._region()
        call.status = event.status or call.status
        if event.sequence_number is not None:
            call.sequence_number = max(call.sequence_number, event.sequence_number)
        call.account_sid = event.account_sid or call.account_sid
        call.direction = event.direction or call.direction
        call.from_number = _stored_number(event.from_number, region) or call.from_number
        call.to_number = _stored_number(event.to_number, region) or call.to_number
        call.parent_call_sid = event.parent_call_sid or call.parent_call_sid
        call.answered_by = event.answered_by or call.answered_by
        if event.duration_seconds is not None:
            call.duration_seconds = event.duration_seconds
        if event.timestamp is not None:
            call.event_at = event.timestamp
        if call.status in FINAL_STATUSES:
            call.ended_at = event.timestamp or self.ctx.now()
        if event.source != "webhook" and call.source == "webhook" and call.sequence_number < 0:
            call.source = event.source

    def _finish(self, session: Session, call: Call, before: dict[str, Any] | None,
                previous: str | None, created: bool, action: str, *, actor: str) -> CallOutcome:
        after = _snapshot(call)
        changed = created or before != after
        if changed:
            call.updated_at = self.ctx.now()
            session.add(call)
            session.flush()
            audit.record(session, at=call.updated_at, actor=actor, action=action,
                         entity="call", entity_id=format_call_id(call.id or 0),
                         before=before, after=after)
            if call.state != previous and call.state in ("counted", "leg"):
                self._settle_relatives(session, call)
        return CallOutcome(self._view(session, call), created or call.state != previous,
                           previous)

    def _settle_relatives(self, session: Session, call: Call) -> None:
        """A leg's fate can depend on its parent or children: re-decide open relatives."""
        relatives = list(session.exec(select(Call).where(
            Call.parent_call_sid == call.call_sid, Call.state.in_(OPEN_STATES))))  # type: ignore[attr-defined]
        parent = _call_by_sid(session, call.parent_call_sid)
        if parent is not None and parent.state in OPEN_STATES:
            relatives.append(parent)
        for other in relatives:
            before = _snapshot(other)
            self._match(session, other)
            self._decide(session, other)
            if _snapshot(other) != before:
                other.updated_at = self.ctx.now()
                session.add(other)
                session.flush()
                audit.record(session, at=other.updated_at, actor="twilio", action="call.settle",
                             entity="call", entity_id=format_call_id(other.id or 0),
                             before=before, after=_snapshot(other))

    # -- matching -------------------------------------------------------------------------

    def _match(self, session: Session, call: Call) -> None:
        """Fill in patient and staff, never replacing a person's choice.

        Staff: whoever answered this leg (its To), else the staff member the parent leg is
        on record for (click-to-call rings them first), else any other number of either leg
        (a shared caller id assigned to someone comes last). Patient: any number of either
        leg (the patient's number may be on the parent only).
        """
        parent = _call_by_sid(session, call.parent_call_sid)
        others = [call.from_number]
        if parent is not None:
            others += [parent.from_number, parent.to_number]
        answered = self._party(session, call.to_number)
        parties = [answered] + [self._party(session, n) for n in others if n]
        if call.patient_id is None:
            found = next((p for p in parties if p.patient is not None), None)
            if found is not None and found.patient is not None:
                call.patient_id, call.matched_kind = found.patient.id, found.patient_kind
        if call.staff_id is None:
            if answered.staff is not None:
                call.staff_id = answered.staff.id
            elif parent is not None and parent.staff_id is not None:
                call.staff_id = parent.staff_id
            else:
                found = next((p for p in parties if p.staff is not None), None)
                call.staff_id = found.staff.id if found and found.staff else None

    # -- the counting rules ---------------------------------------------------------------

    def _decide(self, session: Session, call: Call) -> None:
        if call.state not in OPEN_STATES:
            return  # counted, attempt, short, leg, not_live, refused, after_close: settled
        state, reason = self._verdict(session, call)
        call.state, call.state_reason = state, reason
        if state == "counted":
            self._count(session, call)

    def _verdict(self, session: Session, call: Call) -> tuple[str, str | None]:
        if call.status not in FINAL_STATUSES:
            return "in_progress", None
        if call.bridged or self._has_children(session, call):
            return "leg", "bridged: the conversation is on the dialed leg"
        if self._parent_counted(session, call):
            return "leg", "the conversation was counted on the parent leg"
        if call.status in ATTEMPT_STATUSES:
            return "attempt", call.status
        answered_by = (call.answered_by or "").lower()
        if answered_by.startswith("machine") or answered_by == "fax":
            return "attempt", f"answered by {answered_by}"
        seconds = call.duration_seconds or 0
        minimum = self.ctx.policy.min_live_call_seconds
        if seconds < minimum or seconds <= 0:
            return "short", f"{seconds} s is under the {minimum} s of a live conversation"
        who = self._answering_verdict(session, call, answered_by)
        if who is not None:
            return who
        if call.patient_id is None:
            return "unmatched", "no patient or caregiver has this number"
        if call.staff_id is None:
            return "unclaimed", "no staff member on this call"
        return "counted", None

    def _answering_verdict(self, session: Session, call: Call,
                           answered_by: str) -> tuple[str, str | None] | None:
        """Who picked up this leg: a person on our side, a patient, or something else."""
        to = self._party(session, call.to_number)
        placed_by_us = (call.direction or "").startswith("outbound")
        if placed_by_us and to.staff is not None:  # a bridge rang a staff member
            if to.staff_kind == "client" or call.screened == "accepted":
                return None  # a client has no voicemail; "accepted" = pressed 1
            if call.screened == "refused" or self._screening_expected(session, call):
                return "attempt", "the staff member did not accept the call (screening)"
            return None
        if placed_by_us:  # a leg we placed to the patient: the machine detector decides
            if answered_by == "human" or call.confirmed_by:
                return None
            return "unconfirmed", "no answering-machine verdict: the staff member confirms"
        caller = self._party(session, call.from_number)
        if caller.staff is not None:
            # a staff phone or client calling in to reach a patient: Twilio <Dial>s the
            # patient on a child leg, which carries (and is judged on) the conversation
            why = "a staff member's outgoing call: the conversation is on the dialed leg"
            if not call.direction:  # say so: the billing office may want to look at it
                why = f"Twilio sent no Direction: from a staff number, so {why}"
            return "leg", why
        return None  # the patient called a staff Twilio number/client, or nobody on staff

    @staticmethod
    def _screening_expected(session: Session, call: Call) -> bool:
        """Legs our /incoming bridge dialed carry a screening prompt."""
        parent = _call_by_sid(session, call.parent_call_sid)
        return parent is not None and parent.bridged and parent.source == "incoming"

    @staticmethod
    def _has_children(session: Session, call: Call) -> bool:
        return session.exec(_CHILD_OF, params={"sid": call.call_sid}).first() is not None

    @staticmethod
    def _parent_counted(session: Session, call: Call) -> bool:
        parent = _call_by_sid(session, call.parent_call_sid)
        return parent is not None and parent.state == "counted"

    def _count(self, session: Session, call: Call) -> None:
        patient = session.get(Patient, call.patient_id)
        staff = session.get(Staff, call.staff_id)
        assert patient is not None and staff is not None
        ended = call.ended_at or call.event_at or self.ctx.now()
        start = ended - timedelta(seconds=call.duration_seconds or 0)
        if self.month_closed(session, Month.containing(start, self.ctx.policy.zone)):
            call.after_close = True
            call.state = "after_close"
            call.state_reason = "arrived after its month was closed: billing office to review"
            return
        try:
            entry = self.entries.record_external_in(
                session, patient=patient, staff=staff, seconds=call.duration_seconds or 0,
                ended_at=ended, activity="call", live=True, source="twilio",
                external_ref=call.call_sid, actor="twilio", note=call.note,
            )
        except BadInput as exc:  # e.g. outside the enrolment: kept, explained, not counted
            call.state, call.state_reason = "refused", str(exc)[:200]
            return
        call.entry_id = entry.id

    # -- what people do with calls --------------------------------------------------------

    def _by_id(self, session: Session, call_id: str | int) -> Call:
        number = parse_call_id(call_id)
        call = session.exec(select(Call).where(Call.id == number).with_for_update()).first()
        if call is None:
            raise NotFound(f"No call {format_call_id(number)}.")
        return call

    def _person_write(self, call_id: str | int, by: str, action: str,
                      change: Callable[[Session, Call, Staff], None]) -> CallOutcome:
        def work(session: Session) -> CallOutcome:
            actor = require_staff(session, by)
            call = self._by_id(session, call_id)
            before, previous = _snapshot(call), call.state
            change(session, call, actor)
            self._match(session, call)
            self._decide(session, call)
            return self._finish(session, call, before, previous, False, action,
                                actor=actor.slack_user_id)
        return self._retrying(work)

    def confirm(self, call_id: str | int, *, live: bool, by: str) -> CallOutcome:
        """The staff member's answer to "was this a live conversation?": Yes counts it."""
        def change(session: Session, call: Call, actor: Staff) -> None:
            if call.state != "unconfirmed":
                raise BadInput(f"{format_call_id(call.id or 0)} is {call.state}, not waiting "
                               "for a confirmation.")
            if call.staff_id != actor.id and not actor.is_admin:
                raise NotAllowed("Only the staff member on the call (or an admin) confirms it.")
            call.confirmed_by = actor.slack_user_id
            if not live:
                call.state, call.state_reason = "not_live", f"not live ({actor.slack_user_id})"
        return self._person_write(call_id, by, "call.confirm" if live else "call.reject", change)

    def add_note(self, call_id: str | int, note: str, *, by: str) -> CallView:
        """What was discussed, kept on the call record (the entry itself never changes)."""
        text = (note or "").strip()
        if not text:
            raise BadInput("The note is empty.")
        if len(text) > 2000:
            raise BadInput("The note is over 2000 characters.")

        def change(session: Session, call: Call, actor: Staff) -> None:
            if call.staff_id not in (actor.id, None) and not actor.is_admin:
                raise NotAllowed("Only the staff member on the call (or an admin) adds notes.")
            call.note = f"{call.note}\n{text}" if call.note else text
        return self._person_write(call_id, by, "call.note", change).call

    def attach(self, call_id: str | int, patient_ref: str, *, by: str) -> CallOutcome:
        """An admin names the patient of an unmatched call; the month then includes it."""
        def change(session: Session, call: Call, actor: Staff) -> None:
            if not actor.is_admin:
                raise NotAllowed("Only an admin attaches a call to a patient.")
            if call.state != "unmatched":
                raise BadInput(f"{format_call_id(call.id or 0)} is {call.state}, not unmatched.")
            patient = require_patient(session, patient_ref, region=self._region())
            # attaching would change a billed month
            zone = self.ctx.policy.zone
            check_open(session, Month.containing(call.started_at, zone), None, zone=zone)
            call.patient_id, call.matched_kind = patient.id, "attached"
        return self._person_write(call_id, by, "call.attach", change)

    def claim(self, call_id: str | int, *, by: str) -> CallOutcome:
        """A staff member says "that was me" on a call nobody on staff could be matched to."""
        def change(session: Session, call: Call, actor: Staff) -> None:
            if call.staff_id is not None:
                raise BadInput(f"{format_call_id(call.id or 0)} is already on record for a "
                               "staff member.")
            if not actor.active:
                raise NotAllowed(f"{actor.slack_user_id} is inactive.")
            call.staff_id = actor.id
        return self._person_write(call_id, by, "call.claim", change)

    def get(self, call_id: str | int) -> CallView:
        number = parse_call_id(call_id)
        with self.ctx.db.read_session() as session:
            call = session.get(Call, number)
            if call is None:
                raise NotFound(f"No call {format_call_id(number)}.")
            return self._view(session, call)

    def by_sid(self, call_sid: str) -> CallView | None:
        with self.ctx.db.read_session() as session:
            call = _call_by_sid(session, call_sid)
            return self._view(session, call) if call else None

    def in_states(self, states: Iterable[str] = (), limit: int = 200) -> list[CallView]:
        """Calls in the given states (all when none), newest first."""
        with self.ctx.db.read_session() as session:
            query = select(Call).order_by(
                Call.started_at.desc(), Call.id.desc())  # type: ignore[attr-defined,union-attr]
            wanted = tuple(states)
            if wanted:
                query = query.where(Call.state.in_(wanted))  # type: ignore[attr-defined]
            return [self._view(session, c) for c in session.exec(query.limit(limit))]

    def unmatched(self) -> list[CallView]:
        return self.in_states(("unmatched",))

    def unclaimed(self) -> list[CallView]:
        return self.in_states(("unclaimed",))

    # -- the clinic bridge (/incoming) and its screening ----------------------------------

    def route_incoming(self, event: CallEvent, *, fallback: str | None) -> IncomingRoute:
        """Record the caller's leg as a bridge parent and pick whom to dial: the patient's
        assigned staff member, else the staff member owning the dialed Twilio number, else
        the clinic's fallback number."""
        if not event.call_sid:
            raise BadInput("A call event needs a CallSid.")

        def work(session: Session) -> IncomingRoute:
            call, created = self._get_or_create(session, replace(event, source="incoming"))
            before = None if created else _snapshot(call)
            previous = None if created else call.state
            if created or self._is_newer(call, event):
                self._apply_event(call, event)
            call.bridged, call.source = True, "incoming"
            caller = self._party(session, call.from_number)
            dialed = self._party(session, call.to_number)
            staff = self._staff_for(session, caller.patient) or dialed.staff
            phone = self._phone_of(session, staff) if staff else None
            self._match(session, call)
            self._decide(session, call)
            self._finish(session, call, before, previous, created, "call.incoming",
                         actor="twilio")
            label = patient_view(session, caller.patient).label if caller.patient \
                else "an unknown number"
            return IncomingRoute(phone or _stored_number(fallback, self._region()), label,
                                 staff.slack_user_id if staff and phone else None)
        return self._retrying(work)

    @staticmethod
    def _staff_for(session: Session, patient: Patient | None) -> Staff | None:
        if patient is None or patient.assigned_staff_id is None:
            return None
        staff = session.get(Staff, patient.assigned_staff_id)
        return staff if staff is not None and staff.active else None

    @staticmethod
    def _phone_of(session: Session, staff: Staff) -> str | None:
        row = session.exec(select(StaffPhone).where(
            StaffPhone.staff_id == staff.id, StaffPhone.kind == "phone")
            .order_by(StaffPhone.id)).first()  # type: ignore[arg-type]
        return row.e164 if row else None

    def record_screening(self, call_sid: str, *, parent_call_sid: str | None,
                         accepted: bool) -> CallOutcome:
        """The staff member's answer to the whisper on the dialed leg (pressed 1 or not)."""
        event = CallEvent(call_sid=call_sid, status="in-progress",
                          parent_call_sid=parent_call_sid, direction="outbound-dial")

        def work(session: Session) -> CallOutcome:
            self._lock_parent(session, parent_call_sid, "webhook")
            call, created = self._get_or_create(session, event)
            before = None if created else _snapshot(call)
            previous = None if created else call.state
            if created:
                self._apply_event(call, event)
            if call.screened != "accepted":
                call.screened = "accepted" if accepted else "refused"
            self._match(session, call)
            self._decide(session, call)
            return self._finish(session, call, before, previous, created, "call.screen",
                                actor="twilio")
        return self._retrying(work)

    def screening_label(self, parent_call_sid: str | None) -> str:
        """How the whisper names the caller of a bridged call: clinic id + initials only."""
        if not parent_call_sid:
            return "an unknown number"
        with self.ctx.db.read_session() as session:
            parent = _call_by_sid(session, parent_call_sid)
            if parent is None or parent.patient_id is None:
                return "an unknown number"
            patient = session.get(Patient, parent.patient_id)
            return patient_view(session, patient).label if patient else "an unknown number"

    # -- click-to-call --------------------------------------------------------------------

    def prepare_click_to_call(self, patient_ref: str, *, by: str) -> ClickToCall:
        """Whom to ring first (the staff member's phone) and whom to bridge (the patient)."""
        with self.ctx.db.read_session() as session:
            staff = require_staff(session, by)
            if not staff.active:
                raise NotAllowed(f"{staff.slack_user_id} is inactive.")
            patient = require_patient(session, patient_ref, region=self._region())
            phone = self._phone_of(session, staff)
            if phone is None:
                raise BadInput(f"{staff.slack_user_id} has no phone on record: add one with "
                               "`rpm-logger staff update --phone`.")
            patient_phone = session.exec(select(PatientPhone).where(
                PatientPhone.patient_id == patient.id)
                .order_by(PatientPhone.kind.desc(), PatientPhone.id)  # type: ignore[attr-defined,arg-type]
            ).first()
            if patient_phone is None:
                raise BadInput(f"{patient.clinic_id} has no phone number on record.")
            return ClickToCall(phone, patient_phone.e164, patient_view(session, patient),
                               staff.slack_user_id)

    def record_placed(self, call_sid: str, plan: ClickToCall, *,
                      from_number: str | None) -> CallOutcome:
        """The staff leg Twilio accepted: a bridge parent, so it never counts itself."""
        event = CallEvent(call_sid=call_sid, status="queued", direction="outbound-api",
                          from_number=from_number, to_number=plan.staff_phone, source="click")

        def work(session: Session) -> CallOutcome:
            call, created = self._get_or_create(session, event)
            before = None if created else _snapshot(call)
            if created:
                self._apply_event(call, event)
            call.bridged = True
            staff = require_staff(session, plan.staff)
            patient = require_patient(session, plan.patient.patient_id, region=self._region())
            call.staff_id = call.staff_id or staff.id
            call.patient_id = call.patient_id or patient.id
            self._decide(session, call)
            return self._finish(session, call, before, None if created else call.state,
                                created, "call.place", actor=plan.staff)
        return self._retrying(work)

    # -- reconciliation -------------------------------------------------------------------

    def reconcile(self, events: Iterable[CallEvent]) -> list[CallOutcome]:
        """Store calls listed by the REST API that webhooks missed, through the same path.

        Children first, so a bridge parent is known as one before it could be counted.
        """
        ordered = sorted(events, key=lambda e: e.parent_call_sid is None)
        outcomes = [self.record_status(replace(e, source="reconcile")) for e in ordered]
        # a parent stored after its child may settle the child: report the final states
        return [CallOutcome(self.by_sid(o.call.call_sid) or o.call, o.changed,
                            o.previous_state) for o in outcomes]

    # -- SMS ------------------------------------------------------------------------------

    def record_sms(self, event: SmsEvent) -> ContactView:
        """An inbound text: a non-qualifying contact, kept once per MessageSid."""
        if not event.message_sid:
            raise BadInput("An SMS event needs a MessageSid.")

        def work(session: Session) -> ContactView:
            contact = session.exec(select(Contact).where(
                Contact.external_ref == event.message_sid)).first()
            if contact is None:
                sender = self._party(session, event.from_number)
                receiver = self._party(session, event.to_number)
                contact = Contact(
                    kind="sms", external_ref=event.message_sid,
                    from_number=_stored_number(event.from_number, self._region()),
                    to_number=_stored_number(event.to_number, self._region()),
                    patient_id=sender.patient.id if sender.patient else None,
                    matched_kind=sender.patient_kind,
                    staff_id=receiver.staff.id if receiver.staff else None,
                    received_at=self.ctx.now(),
                )
                session.add(contact)
                session.flush()
                audit.record(session, at=contact.received_at, actor="twilio",
                             action="contact.sms", entity="contact", entity_id=contact.id,
                             after={"kind": "sms", "from_number": _mask(contact.from_number),
                                    "patient_id": contact.patient_id})
            patient = session.get(Patient, contact.patient_id) if contact.patient_id else None
            assert contact.id is not None
            return ContactView(contact.id, contact.kind,
                               patient_view(session, patient) if patient else None,
                               _mask(contact.from_number), contact.received_at)
        return self._retrying(work)

