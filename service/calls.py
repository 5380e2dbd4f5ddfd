"""Telephony: every Twilio call leg kept as a call record; a real conversation becomes one
live time entry.

The counting rules are billing/call_verdict.py (a pure function of the leg, its parent, its
children and who its numbers belong to); this module orders the store calls around it.

Deliveries are idempotent by CallSid: the row is locked (FOR UPDATE on PostgreSQL, BEGIN
IMMEDIATE on SQLite), events older than the applied SequenceNumber are ignored, and a racing
insert of the same CallSid (or of the same entry reference) rolls back and is retried, so
concurrent duplicates leave one row and at most one entry.

Each use case runs in one transaction. What it reads (a leg, its parent, its children, who a
number is, a patient, a staff member) is read once into a `_Work` and changed in memory; a
leg is written once, at the end, with one audit record per write.
"""

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from billing import call_verdict
from billing.call_verdict import (
    ATTEMPT_STATUSES,
    FINAL_STATUSES,
    INTERMEDIATE_STATUSES,
    KNOWN_STATUSES,
    OPEN_STATES,
)
from billing.errors import quoted
from billing.months import Month, clinic_time
from service import audit, call_notices
from service.closes import check_open, find_close
from service.context import ServiceContext
from service.entries import EntryService
from service.errors import (
    BadInput,
    NotAllowed,
    NotFound,
    StoreConflict,
    StoreUnavailable,
    parse_row_id,
)
from service.lookups import require_active_staff, require_admin, require_patient, require_staff
from service.phones import mask_number as _mask
from service.phones import try_normalize_phone
from service.staff import active_at
from service.views import PatientView
from store import calls as call_rows
from store.db import Conn

__all__ = ["ATTEMPT_STATUSES", "FINAL_STATUSES", "INTERMEDIATE_STATUSES", "KNOWN_STATUSES",
           "OPEN_STATES", "CallEvent", "CallOutcome", "CallService", "CallView", "ClickToCall",
           "ContactView", "IncomingRoute", "SmsEvent", "format_call_id", "parse_call_id"]

CONFLICT_RETRIES = 8
MAX_CALL_NOTE_CHARS = 2000
MENU_STATE = call_verdict.MENU_STATE
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
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
    direction: str | None  # Twilio's, of this leg
    way: str  # inbound | outbound | unknown: which way the call went for the clinic
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
    entry_voided: bool = False  # its entry was voided since: the time no longer counts
    month: str | None = None  # the clinic month the call started in (YYYY-MM)
    staff_name: str | None = None  # the staff member's name, beside the id outside Slack

    @property
    def shown_state(self) -> str:
        """The state a person reads: a counted call whose entry was voided says 'voided', as
        the billing office must not bill it (the stored state keeps the call's history)."""
        return "voided" if self.state == "counted" and self.entry_voided else self.state

    @property
    def why(self) -> str | None:
        """Why it does not count, if it does not: the void, or the verdict's reason."""
        if self.shown_state == "voided":
            return f"entry #{self.entry_id} was voided"
        if self.state == "after_close":
            return after_close_advice(self)
        return self.state_reason

    @property
    def patient_label(self) -> str:
        return self.patient.label if self.patient else "an unknown number"


def after_close_advice(call: CallView) -> str:
    """What an after_close call is and the one way to count it, with the commands to type."""
    month = call.month or "its month"
    patient = call.patient.patient_id if call.patient else "PATIENT_ID"
    return (f"arrived after {month} was closed, so its time is not counted; to count it, "
            f"reopen {month} (rpm-logger month reopen {month} --reason \"...\" --billed, or "
            "--not-billed if its claims were not sent yet), then "
            f"attach it (rpm-logger calls attach {call.call_id} {patient} --staff ADMIN_ID), "
            "and close the month again")



@dataclass(frozen=True)
class CallOutcome:
    """The call after a write, and whether this write changed its state (so adapters send a
    DM once per change, never once per retried delivery)."""

    call: CallView
    changed: bool
    previous_state: str | None
    # a screening answer: False when the dialed phone is an inactive member's (issue 24), so
    # the leg is hung up whatever key was pressed
    connect: bool = True
    # the DM this write queued for the staff member on the call (service/call_notices.py)
    notice: str | None = None

    @property
    def became(self) -> str | None:
        return self.call.state if self.changed else None


@dataclass(frozen=True)
class IncomingRoute:
    """Where the clinic bridge dials a caller, and how the whisper names the caller."""

    dial_to: str | None  # E.164 of the staff phone, or the fallback; None: nobody to dial
    caller_label: str  # clinic id (+ initials) or "an unknown number"
    staff: str | None
    menu: Any = None  # a staff menu call: what the voice menu answered (no dialing)


class MenuAnswer(Protocol):
    """What the voice menu answers a staff caller with: it names the staff member."""

    @property
    def staff_pk(self) -> int: ...


# (transaction, CallSid, caller's number as stored) -> the menu's answer, or None: not staff
StaffMenu = Callable[[Conn, str, str | None], MenuAnswer | None]


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
    staff: Any = None  # store.calls.StaffRow
    staff_kind: str | None = None  # phone | twilio_number | client
    patient: Any = None  # store.calls.PatientRow
    patient_kind: str | None = None  # patient | caregiver


@dataclass
class Leg:
    """A call leg being worked on: the stored row's values, changed in memory and written
    once at the end of the use case (`id` None: not stored yet)."""

    call_sid: str
    id: int | None = None
    parent_call_sid: str | None = None
    account_sid: str | None = None
    direction: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    status: str = "queued"
    answered_by: str | None = None
    duration_seconds: int | None = None
    sequence_number: int = -1
    event_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    patient_id: int | None = None
    matched_kind: str | None = None
    staff_id: int | None = None
    bridged: bool = False
    screened: str | None = None
    state: str = "in_progress"
    state_reason: str | None = None
    confirmed_by: str | None = None
    after_close: bool = False
    entry_id: int | None = None
    note: str | None = None
    source: str = "webhook"
    created_at: datetime | None = None
    updated_at: datetime | None = None


_LEG_FIELDS = tuple(f.name for f in fields(Leg))
_SNAPSHOT_FIELDS = tuple(f for f in _LEG_FIELDS if f not in ("created_at", "updated_at"))


def _values(leg: Leg) -> dict[str, Any]:
    """The leg's columns as a dict (dataclasses.asdict deep-copies: too slow here)."""
    return {name: getattr(leg, name) for name in _LEG_FIELDS}


def _leg_of(row: Any) -> Leg:
    values = row._mapping
    return Leg(**{name: values[name] for name in _LEG_FIELDS})


@dataclass
class _Work:
    """What one use case has read inside its transaction, so nothing is read twice."""

    conn: Conn
    legs: dict[str, Leg] = field(default_factory=dict)  # by CallSid
    kids: dict[str, bool] = field(default_factory=dict)  # stored legs naming it as parent
    children_loaded: set[str] = field(default_factory=set)
    parties: dict[str, Party] = field(default_factory=dict)  # by stored number
    staff: dict[int, Any] = field(default_factory=dict)
    patients: dict[int, Any] = field(default_factory=dict)  # PatientRow: with view extras
    voided_entries: set[int] = field(default_factory=set)  # entries of kept legs, voided
    # legs found on a member who was inactive when they started (by CallSid): not theirs
    inactive: dict[str, Any] = field(default_factory=dict)

    def keep(self, row: Any) -> Leg:
        """The leg of a stored row, the one already in hand if it was read before."""
        leg = self.legs.get(row.call_sid)
        if leg is None:
            leg = self.legs[row.call_sid] = _leg_of(row)
            self.kids[row.call_sid] = bool(row.has_children)
            if row.entry_voided:
                self.voided_entries.add(row.entry_id)
        return leg

    def leg(self, call_sid: str | None) -> Leg | None:
        """A leg by CallSid (a parent, say): in hand, else read (unlocked), else None."""
        if not call_sid:
            return None
        if call_sid not in self.legs:
            row = call_rows.leg_by_sid(self.conn, call_sid)
            if row is None:
                return None
            self.keep(row)
        return self.legs[call_sid]

    def keep_all(self, call_sids: Iterable[str | None]) -> None:
        """These legs (the parents of a listed page, say) read in one statement."""
        wanted = {sid for sid in call_sids if sid and sid not in self.legs}
        for row in call_rows.legs_by_sids(self.conn, sorted(wanted)):
            self.keep(row)

    def has_children(self, call_sid: str) -> bool:
        return self.kids.get(call_sid, False) or any(
            other.parent_call_sid == call_sid for other in self.legs.values())

    def children(self, call_sid: str) -> list[Leg]:
        if self.kids.get(call_sid) and call_sid not in self.children_loaded:
            for row in call_rows.children_of(self.conn, call_sid):
                self.keep(row)
            self.children_loaded.add(call_sid)
        return [leg for leg in self.legs.values() if leg.parent_call_sid == call_sid]

    def staff_row(self, pk: int | None) -> Any:
        if pk is None:
            return None
        if pk not in self.staff:
            self.staff[pk] = call_rows.staff_by_pk(self.conn, pk)
        return self.staff[pk]

    def patient_row(self, pk: int | None) -> Any:
        if pk is None:
            return None
        if pk not in self.patients:
            self.patients[pk] = call_rows.patient_with_view(self.conn, pk)
        return self.patients[pk]


def format_call_id(pk: int) -> str:
    return f"C-{pk}"


def parse_call_id(text: str | int) -> int:
    """Call ids as people type them: C-12, c12, #12 or 12."""
    raw = str(text).strip().lstrip("#").upper().removeprefix("C").lstrip("-")
    number = parse_row_id(raw)
    if number is None:
        raise BadInput(f"{quoted(str(text))} is not a call id (such as C-12).")
    return number


@lru_cache(maxsize=4096)  # every callback parses the same few numbers (pure: text -> text)
def _stored_number(raw: str | None, region: str) -> str | None:
    """E.164 when it is a phone number; a client identity or anything else kept as is."""
    if not raw:
        return None
    raw = raw.strip()
    if raw.startswith("client:"):
        return raw[:140]
    return try_normalize_phone(raw, region=region) or raw[:140]


def _snapshot(leg: Leg) -> dict[str, Any]:
    data = {name: getattr(leg, name) for name in _SNAPSHOT_FIELDS}
    data["from_number"] = _mask(leg.from_number)
    data["to_number"] = _mask(leg.to_number)
    return data


def _patient_view(row: Any) -> PatientView:
    """A patient as people see it, from a store.calls.PatientRow (view extras joined)."""
    return PatientView(row.clinic_id, row.initials, row.consent_on, tuple(row.conditions),
                       row.provider_slack_id, row.assigned_slack_id, row.enrolled_on,
                       row.ended_on, row.phone_count, row.caregiver_phone_count)


def month_is_closed(conn: Conn, month: Month) -> bool:
    """Calls dated in a billed month are kept but flagged, never counted into it. Asked
    right before a call becomes an entry, so it takes the month's lock (shared) like any
    writer: a close running at the same time sees the entry, or this call sees the close."""
    return find_close(conn, month, for_write=True) is not None


def _noting(note: str) -> Callable[[_Work, Leg, Any], None]:
    """The change `add_note` makes: the note checked first, appended to the call's."""
    text = (note or "").strip()
    if not text:
        raise BadInput("The note is empty.")
    if len(text) > MAX_CALL_NOTE_CHARS:
        raise BadInput(f"The note is over {MAX_CALL_NOTE_CHARS} characters.")

    def change(_w: _Work, leg: Leg, actor: Any) -> None:
        if leg.staff_id not in (actor.id, None) and not actor.is_admin:
            raise NotAllowed("Only the staff member on the call (or an admin) adds notes.")
        leg.note = f"{leg.note}\n{text}" if leg.note else text
    return change


class CallService:
    def __init__(self, ctx: ServiceContext,
                 month_closed: Callable[[Any, Month], bool] = month_is_closed,
                 entries: EntryService | None = None) -> None:
        self.ctx = ctx
        self.entries = entries or EntryService(ctx)
        self.month_closed = month_closed

    # -- plumbing -------------------------------------------------------------------------

    def _retrying(self, work: Callable[[_Work], T], wait_s: float | None = None) -> T:
        """Run `work` in one write transaction, retrying when a racing write won a unique key;
        `wait_s`: the caller's deadline (a Twilio webhook's), shared by the attempts."""
        started = time.monotonic()
        for attempt in range(CONFLICT_RETRIES):
            left = None if wait_s is None else wait_s - (time.monotonic() - started)
            if left is not None and left <= 0:
                raise StoreUnavailable(f"database unavailable: no answer within {wait_s:g} s")
            try:
                with self.ctx.db.write(wait_s=left) as conn:
                    return work(_Work(conn))
            except StoreConflict:
                if attempt == CONFLICT_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _region(self) -> str:
        return self.ctx.policy.phone_region

    def _resolve(self, w: _Work, raws: Iterable[str | None]) -> None:
        """Who each of these numbers is, in one statement for all not yet known: matching
        and the verdict ask about the same numbers, and phones do not change under a
        transaction's feet."""
        wanted: dict[str, str] = {}  # what the store matches -> the number as stored
        for raw in raws:
            if not raw or raw in w.parties or raw in wanted.values():
                continue
            if raw.startswith("client:"):
                wanted[raw] = raw
                continue
            # a stored number is E.164 already when it was a phone number; anything else
            # in that form matches no phone either (phones are stored normalised)
            e164 = raw if _E164.fullmatch(raw) else try_normalize_phone(raw, region=self._region())
            if e164 is None:
                w.parties[raw] = Party(raw)
            else:
                wanted[e164] = raw
        if not wanted:
            return
        numbers = [k for k in wanted if not k.startswith("client:")]
        clients = [k.removeprefix("client:") for k in wanted if k.startswith("client:")]
        found: dict[str, call_rows.Match] = {}
        for match in call_rows.matches(w.conn, numbers, clients):
            found.setdefault(match.number, match)  # a staff match comes first and wins
            if match.staff is not None:
                w.staff.setdefault(match.staff.id, match.staff)
            if match.patient is not None:
                w.patients.setdefault(match.patient.id, match.patient)
        for key, raw in wanted.items():
            m = found.get(key)
            if m is None:
                w.parties[raw] = Party(raw)
            elif m.staff is not None:
                w.parties[raw] = Party(raw, m.staff, m.kind)
            else:
                w.parties[raw] = Party(raw, patient=m.patient, patient_kind=m.kind)

    def _party(self, w: _Work, raw: str | None) -> Party:
        if not raw:
            return Party(raw)
        if raw not in w.parties:
            self._resolve(w, [raw])
        return w.parties[raw]

    @staticmethod
    def _first_leg(w: _Work, leg: Leg) -> Leg:
        """The leg that started the call: a bridge's parent when it is known."""
        parent = w.leg(leg.parent_call_sid)
        return parent if parent is not None and parent.direction else leg

    def _way(self, w: _Work, leg: Leg) -> str:
        first = self._first_leg(w, leg)
        return call_verdict.way(first.direction,
                                caller_is_staff=self._party(w, first.from_number).staff
                                is not None)

    def _view(self, w: _Work, leg: Leg) -> CallView:
        assert leg.id is not None and leg.started_at is not None
        patient = w.patient_row(leg.patient_id)
        staff = w.staff_row(leg.staff_id)
        return CallView(
            format_call_id(leg.id), leg.call_sid, leg.state, leg.state_reason, leg.status,
            leg.direction, self._way(w, leg), _mask(leg.from_number), _mask(leg.to_number),
            leg.answered_by,
            leg.duration_seconds, leg.started_at, leg.ended_at,
            _patient_view(patient) if patient else None,
            staff.slack_user_id if staff else None, leg.entry_id, leg.note, leg.after_close,
            leg.parent_call_sid, leg.entry_id in w.voided_entries,
            str(Month.containing(leg.started_at, self.ctx.policy.zone)),
            staff.name if staff else None,
        )

    def _get_or_create(self, w: _Work, event: CallEvent) -> tuple[Leg, bool]:
        """The leg locked, or a new one (stored by `_finish`, or `_store_new`)."""
        if event.call_sid in w.legs:
            return w.legs[event.call_sid], False
        row = call_rows.leg_by_sid(w.conn, event.call_sid, lock=True)
        if row is not None:
            return w.keep(row), False
        now = self.ctx.now()
        started = self._start_of(event)
        # a leg never starts before the call it is part of (its parent is locked first, by
        # _lock_parent): the parent's start is our clock's (an /incoming request carries no
        # Timestamp), a leg's is Twilio's whole-second Timestamp, or its end less its
        # duration, so a dialed leg read earlier than the parent by up to a second or more
        parent = w.legs.get(event.parent_call_sid or "")
        if parent is not None and parent.started_at is not None:
            started = max(started, parent.started_at)
        leg = Leg(call_sid=event.call_sid, status=event.status or "queued",
                  started_at=started, source=event.source, created_at=now, updated_at=now)
        w.legs[leg.call_sid] = leg
        w.kids[leg.call_sid] = False  # every leg naming a parent stores the parent first
        return leg, True

    def _start_of(self, event: CallEvent) -> datetime:
        """When the event says its leg started: its Timestamp (else now), less its duration
        when first seen at its end."""
        started = event.timestamp or self.ctx.now()
        if event.status in FINAL_STATUSES and event.duration_seconds:
            started -= timedelta(seconds=event.duration_seconds)  # first seen at its end
        return started

    @staticmethod
    def _store_new(w: _Work, leg: Leg) -> None:
        """Insert a new leg (a racing insert of the same CallSid fails here -> retried)."""
        leg.id = call_rows.insert_leg(w.conn, _values(leg))

    # -- status callbacks -----------------------------------------------------------------

    def record_status(self, event: CallEvent, *, wait_s: float | None = None) -> CallOutcome:
        """Store one delivery of a call's status; exactly once however often it arrives.
        `wait_s`: given up past it, nothing stored (the caller answers Twilio without it)."""
        if not event.call_sid:
            raise BadInput("A call event needs a CallSid.")
        return self._retrying(lambda w: self._record(w, event), wait_s)

    def _lock_parent(self, w: _Work, child: CallEvent) -> None:
        """Lock (or create as a placeholder) a child's parent row before the child's.

        A parent and its child decide about each other (count once, on one leg); locking
        the parent first, always, serialises their racing deliveries on PostgreSQL. A
        placeholder starts when its child does (it started no later; not when we heard of
        it, which may be a reconciliation hours later); its own first event may move that
        earlier (`_own_start`).
        """
        parent_sid = child.parent_call_sid
        if not parent_sid:
            return
        parent, created = self._get_or_create(
            w, CallEvent(call_sid=parent_sid, status="queued", source=child.source,
                         timestamp=self._start_of(child)))
        if created:
            self._store_new(w, parent)
            audit.record(w.conn, at=self.ctx.now(), actor="twilio", action="call.parent_seen",
                         entity="call", entity_id=format_call_id(parent.id or 0),
                         after=_snapshot(parent))

    def _record(self, w: _Work, event: CallEvent) -> CallOutcome:
        self._lock_parent(w, event)
        leg, created = self._get_or_create(w, event)
        before = None if created else _snapshot(leg)
        previous = None if created else leg.state
        if not created:
            self._own_start(leg, event)
        if created or self._is_newer(leg, event):
            self._apply_event(leg, event)
        self._match(w, leg)
        self._decide(w, leg)
        outcome = self._finish(w, leg, before, previous, created, "call.status", actor="twilio")
        if event.source != "webhook":  # the nurse hears of her calls as Twilio reports them
            return outcome
        notice = call_notices.queue(w.conn, outcome, leg.id or 0, self.ctx.now())
        return replace(outcome, notice=notice) if notice else outcome

    def _own_start(self, leg: Leg, event: CallEvent) -> None:
        """A placeholder parent (stored when a child named it, no event of its own yet)
        takes its own first event's start when that is earlier than its child's."""
        if leg.direction is None and event.direction is not None \
                and leg.started_at is not None:
            leg.started_at = min(leg.started_at, self._start_of(event))

    @staticmethod
    def _is_newer(leg: Leg, event: CallEvent) -> bool:
        """Out-of-order deliveries: a final status is never replaced; otherwise the higher
        SequenceNumber wins, and a final status beats any intermediate one."""
        stored_final = leg.status in FINAL_STATUSES
        event_final = event.status in FINAL_STATUSES
        if stored_final:
            # a reconciled listing (no sequence) may only fill in what is missing
            return False
        if event_final:
            return True
        sequence = event.sequence_number if event.sequence_number is not None else -1
        return sequence > leg.sequence_number

    def _apply_event(self, leg: Leg, event: CallEvent) -> None:
        region = self._region()
        leg.status = event.status or leg.status
        if event.sequence_number is not None:
            leg.sequence_number = max(leg.sequence_number, event.sequence_number)
        leg.account_sid = event.account_sid or leg.account_sid
        leg.direction = event.direction or leg.direction
        leg.from_number = _stored_number(event.from_number, region) or leg.from_number
        leg.to_number = _stored_number(event.to_number, region) or leg.to_number
        leg.parent_call_sid = event.parent_call_sid or leg.parent_call_sid
        leg.answered_by = event.answered_by or leg.answered_by
        if event.duration_seconds is not None:
            leg.duration_seconds = event.duration_seconds
        if event.timestamp is not None:
            leg.event_at = event.timestamp
        if leg.status in FINAL_STATUSES:
            leg.ended_at = event.timestamp or self.ctx.now()
        if event.source != "webhook" and leg.source == "webhook" and leg.sequence_number < 0:
            leg.source = event.source

    def _finish(self, w: _Work, leg: Leg, before: dict[str, Any] | None,
                previous: str | None, created: bool, action: str, *, actor: str) -> CallOutcome:
        """Write the leg once (insert or update) with its audit record, then settle the
        relatives its new state decides."""
        if created:
            self._store_new(w, leg)
            after = _snapshot(leg)
        else:
            after = _snapshot(leg)
        changed = created or before != after
        if changed:
            leg.updated_at = self.ctx.now()
            if not created:
                assert leg.id is not None
                call_rows.update_leg(w.conn, leg.id, _values(leg))
            audit.record(w.conn, at=leg.updated_at, actor=actor, action=action,
                         entity="call", entity_id=format_call_id(leg.id or 0),
                         before=before, after=after)
            if leg.state != previous and leg.state in ("counted", "leg"):
                self._settle_relatives(w, leg)
        return CallOutcome(self._view(w, leg), created or leg.state != previous, previous)

    def _settle_relatives(self, w: _Work, leg: Leg) -> None:
        """A leg's fate can depend on its parent or children: re-decide open relatives."""
        relatives = [c for c in w.children(leg.call_sid) if c.state in OPEN_STATES]
        parent = w.leg(leg.parent_call_sid)
        if parent is not None and parent.state in OPEN_STATES:
            relatives.append(parent)
        for other in relatives:
            before = _snapshot(other)
            self._match(w, other)
            self._decide(w, other)
            after = _snapshot(other)
            if after != before:
                other.updated_at = self.ctx.now()
                assert other.id is not None
                call_rows.update_leg(w.conn, other.id, _values(other))
                audit.record(w.conn, at=other.updated_at, actor="twilio", action="call.settle",
                             entity="call", entity_id=format_call_id(other.id),
                             before=before, after=after)

    # -- matching -------------------------------------------------------------------------

    def _match(self, w: _Work, leg: Leg) -> None:
        """Fill in patient and staff, never replacing a person's choice.

        Staff: whoever answered this leg (its To), else the staff member the parent leg is
        on record for (click-to-call rings them first), else any other number of either leg
        (a shared caller id assigned to someone comes last). Patient: any number of either
        leg (the patient's number may be on the parent only).
        """
        parent = w.leg(leg.parent_call_sid)
        others = [leg.from_number]
        if parent is not None:
            others += [parent.from_number, parent.to_number]
        self._resolve(w, [leg.to_number, *others])
        answered = self._party(w, leg.to_number)
        parties = [answered] + [self._party(w, n) for n in others if n]
        if leg.patient_id is None:
            found = next((p for p in parties if p.patient is not None), None)
            if found is not None and found.patient is not None:
                leg.patient_id, leg.matched_kind = found.patient.id, found.patient_kind
        if leg.staff_id is None and leg.to_number is not None:
            # who answered is known only from the leg's own To: a leg stored before its
            # numbers (a screening answer ahead of the first status callback) waits for them
            if answered.staff is not None:
                member = answered.staff
            elif parent is not None and parent.staff_id is not None:
                member = w.staff_row(parent.staff_id)
            else:
                found = next((p for p in parties if p.staff is not None), None)
                member = found.staff if found else None
            # a member inactive when the leg started is never credited (issue 24): the leg
            # stays unclaimed for an admin to settle (`calls claim`); before their
            # inactive-from instant the call is theirs
            if member is not None and not active_at(member, leg.started_at):
                w.inactive[leg.call_sid] = member
                member = None
            leg.staff_id = member.id if member is not None else None

    # -- the counting rules (billing/call_verdict.py) -------------------------------------

    def _decide(self, w: _Work, leg: Leg) -> None:
        if call_verdict.settled(leg):
            return
        answered = self._party(w, leg.to_number)
        state, reason = call_verdict.verdict(
            leg, parent=w.leg(leg.parent_call_sid), children=w.has_children(leg.call_sid),
            answered_staff_kind=answered.staff_kind if answered.staff is not None else None,
            caller_is_staff=self._party(w, leg.from_number).staff is not None,
            min_live_seconds=self.ctx.policy.min_live_call_seconds)
        gone = w.inactive.get(leg.call_sid)
        if state == "unclaimed" and gone is not None:
            since = (f" since {clinic_time(gone.inactive_from, self.ctx.policy.zone)}"
                     if gone.inactive_from is not None else "")
            reason = (f"on the phone of {gone.name} ({gone.slack_user_id}), inactive{since}: "
                      "not credited to them; an admin settles it (calls claim)")[:200]
        leg.state, leg.state_reason = state, reason
        if state == "counted":
            self._count(w, leg)

    def _count(self, w: _Work, leg: Leg) -> None:
        patient = w.patient_row(leg.patient_id)
        staff = w.staff_row(leg.staff_id)
        assert patient is not None and staff is not None
        ended = leg.ended_at or leg.event_at or self.ctx.now()
        start = ended - timedelta(seconds=leg.duration_seconds or 0)
        if self.month_closed(w.conn, Month.containing(start, self.ctx.policy.zone)):
            leg.after_close = True
            leg.state = "after_close"
            leg.state_reason = "arrived after its month was closed: billing office to review"
            return
        try:
            entry = self.entries.record_external_in(
                w.conn, patient=patient, staff=staff, seconds=leg.duration_seconds or 0,
                ended_at=ended, activity="call", live=True, source="twilio",
                external_ref=leg.call_sid, actor="twilio", note=leg.note,
                # a leg not stored yet has no entry: both are only ever written together
                fresh=leg.id is None,
            )
        except BadInput as exc:  # e.g. outside the enrolment: kept, explained, not counted
            leg.state, leg.state_reason = "refused", str(exc)[:200]
            return
        leg.entry_id = entry.id

    # -- what people do with calls --------------------------------------------------------

    @staticmethod
    def _by_id(w: _Work, call_id: str | int) -> Leg:
        number = parse_call_id(call_id)
        row = call_rows.leg_by_id(w.conn, number, lock=True)
        if row is None:
            raise NotFound(f"No call {format_call_id(number)}.")
        return w.keep(row)

    def _person_write(self, call_id: str | int, by: str, action: str,
                      change: Callable[[_Work, Leg, Any], None]) -> CallOutcome:
        return self._retrying(lambda w: self._person_change(w, call_id, by, action, change))

    def _person_change(self, w: _Work, call_id: str | int, by: str, action: str,
                       change: Callable[[_Work, Leg, Any], None]) -> CallOutcome:
        actor = require_active_staff(w.conn, by, doing="act on calls")
        w.staff.setdefault(actor.id, actor)
        leg = self._by_id(w, call_id)
        before, previous = _snapshot(leg), leg.state
        change(w, leg, actor)
        self._match(w, leg)
        self._decide(w, leg)
        return self._finish(w, leg, before, previous, False, action,
                            actor=actor.slack_user_id)

    def confirm(self, call_id: str | int, *, live: bool, by: str) -> CallOutcome:
        """The staff member's answer to "was this a live conversation?": Yes counts it."""
        def change(_w: _Work, leg: Leg, actor: Any) -> None:
            if leg.state != "unconfirmed":
                raise BadInput(f"{format_call_id(leg.id or 0)} is {leg.state}, not waiting "
                               "for a confirmation.")
            if leg.staff_id != actor.id and not actor.is_admin:
                raise NotAllowed("Only the staff member on the call (or an admin) confirms it.")
            leg.confirmed_by = actor.slack_user_id
            if not live:
                leg.state, leg.state_reason = "not_live", f"not live ({actor.slack_user_id})"
        return self._person_write(call_id, by, "call.confirm" if live else "call.reject", change)

    def add_note(self, call_id: str | int, note: str, *, by: str) -> CallView:
        """What was discussed, kept on the call record (the entry itself never changes)."""
        return self._person_write(call_id, by, "call.note", _noting(note)).call

    def add_note_in(self, conn: Conn, call_id: str | int, note: str, *, by: str) -> CallView:
        """`add_note` inside the caller's transaction (the voice menu's save step)."""
        return self._person_change(_Work(conn), call_id, by, "call.note", _noting(note)).call

    def last_counted_in(self, conn: Conn, staff_pk: int, since: datetime) -> CallView | None:
        """The staff member's most recent counted call since `since`, in the caller's
        transaction (the voice menu's "note on my last call")."""
        row = call_rows.last_counted_of_staff(conn, staff_pk, since)
        if row is None:
            return None
        w = _Work(conn)
        return self._view(w, w.keep(row))

    def attach(self, call_id: str | int, patient_ref: str, *, by: str) -> CallOutcome:
        """An admin names the patient of an unmatched call; the month then includes it."""
        def change(w: _Work, leg: Leg, actor: Any) -> None:
            if not actor.is_admin:
                raise NotAllowed("Only an admin attaches a call to a patient.")
            if leg.state == "after_close":
                self._attach_after_close(w, leg, patient_ref)
                return
            if leg.state != "unmatched":
                raise BadInput(self._not_attachable(w, leg))
            patient = require_patient(w.conn, patient_ref, region=self._region())
            # attaching would change a billed month
            zone = self.ctx.policy.zone
            assert leg.started_at is not None
            check_open(w.conn, Month.containing(leg.started_at, zone), None, zone=zone)
            leg.patient_id, leg.matched_kind = patient.id, "attached"
        return self._person_write(call_id, by, "call.attach", change)

    def _attach_after_close(self, w: _Work, leg: Leg, patient_ref: str) -> None:
        """A call that arrived after its month was closed counts once the month is reopened
        (the admin's attach is the decision to count it); while it is closed, the refusal
        says how."""
        assert leg.started_at is not None
        month = Month.containing(leg.started_at, self.ctx.policy.zone)
        if self.month_closed(w.conn, month):
            raise BadInput(f"{format_call_id(leg.id or 0)} {self._not_attachable(w, leg)}")
        patient = require_patient(w.conn, patient_ref, region=self._region())
        leg.patient_id, leg.matched_kind = patient.id, "attached"
        leg.state, leg.state_reason = "counted", f"attached after {month} was reopened"
        self._count(w, leg)

    def _not_attachable(self, w: _Work, leg: Leg) -> str:
        """Why this call cannot be attached, in words, and what to do instead."""
        view = self._view(w, leg)
        if leg.state == "after_close":
            return after_close_advice(view)
        why = f" ({view.why})" if view.why else ""
        return (f"{view.call_id} is {view.shown_state}{why}, not unmatched: only a call whose "
                "number matched no patient is attached to one.")

    def claim(self, call_id: str | int, *, by: str) -> CallOutcome:
        """A staff member says "that was me" on a call nobody on staff could be matched to."""
        def change(_w: _Work, leg: Leg, actor: Any) -> None:
            if leg.staff_id is not None:
                raise BadInput(f"{format_call_id(leg.id or 0)} is already on record for a "
                               "staff member.")
            leg.staff_id = actor.id
        return self._person_write(call_id, by, "call.claim", change)

    def get(self, call_id: str | int) -> CallView:
        number = parse_call_id(call_id)
        with self.ctx.db.read() as conn:
            w = _Work(conn)
            row = call_rows.leg_by_id(conn, number)
            if row is None:
                raise NotFound(f"No call {format_call_id(number)}.")
            return self._view(w, w.keep(row))

    def by_sid(self, call_sid: str) -> CallView | None:
        if not call_sid:
            return None
        with self.ctx.db.read() as conn:
            w = _Work(conn)
            leg = w.leg(call_sid)
            return self._view(w, leg) if leg else None

    def in_states(self, states: Iterable[str] = (), limit: int = 200, *,
                  admin: str | None = None) -> list[CallView]:
        """Calls in the given states (all when none), newest first (chat: `admin` must be
        an active admin, checked in the same read)."""
        wanted = tuple(sorted(set(states)))  # as people read them (store.calls.legs)
        with self.ctx.db.read() as conn:
            if admin is not None:
                require_admin(conn, admin)
            w = _Work(conn)
            legs = [w.keep(row) for row in call_rows.legs(conn, wanted, limit)]
            w.keep_all(leg.parent_call_sid for leg in legs)  # each call's way: _first_leg
            self._resolve(w, [self._first_leg(w, leg).from_number for leg in legs])
            return [self._view(w, leg) for leg in legs]

    def unmatched(self, *, admin: str | None = None) -> list[CallView]:
        return self.in_states(("unmatched",), admin=admin)

    def unclaimed(self) -> list[CallView]:
        return self.in_states(("unclaimed",))

    # -- the clinic bridge (/incoming) and its screening ----------------------------------

    def route_incoming(self, event: CallEvent, *, fallback: str | None,
                       staff_menu: StaffMenu | None = None,
                       wait_s: float | None = None) -> IncomingRoute:
        """Record the caller's leg as a bridge parent and pick whom to dial: the patient's
        assigned staff member, else the staff member owning the dialed Twilio number, else
        the clinic's fallback number.

        `staff_menu` (the voice menu) is asked first, in the same transaction, before the
        leg is anything: when it takes the caller (a staff member's registered phone), the
        leg is stored as a staff menu call (state `menu`: never counted, never unmatched,
        not a bridge parent) and the route carries what the menu answered. `wait_s`: given
        up past it, nothing stored (the caller then dials the fallback number itself)."""
        if not event.call_sid:
            raise BadInput("A call event needs a CallSid.")

        def work(w: _Work) -> IncomingRoute:
            leg, created = self._get_or_create(w, replace(event, source="incoming"))
            before = None if created else _snapshot(leg)
            previous = None if created else leg.state
            if created or self._is_newer(leg, event):
                self._apply_event(leg, event)
            if staff_menu is not None and (created or leg.state == MENU_STATE):
                menu = staff_menu(w.conn, leg.call_sid, leg.from_number)
                if menu is not None:
                    return self._menu_call(w, leg, menu, before, previous, created)
            leg.bridged, leg.source = True, "incoming"
            self._resolve(w, [leg.from_number, leg.to_number])
            caller = self._party(w, leg.from_number)
            dialed = self._party(w, leg.to_number)
            # never an inactive member (issue 24): the caller's new assignee, else the
            # dialed number's owner while active, else the clinic's fallback number
            owner = dialed.staff if dialed.staff is not None and dialed.staff.active else None
            staff = self._staff_for(w, caller.patient) or owner
            phone = call_rows.staff_phone(w.conn, staff.id) if staff else None
            if leg.staff_id is None and staff is not None and phone is not None:
                # the call is the member it rings (the caller's assignee), not whoever owns
                # the Twilio number dialed: `calls list` names her while it rings and when
                # nobody answers (the parent is a bridge: never counted itself)
                w.staff.setdefault(staff.id, staff)
                leg.staff_id = staff.id
            self._match(w, leg)
            self._decide(w, leg)
            self._finish(w, leg, before, previous, created, "call.incoming", actor="twilio")
            label = _patient_view(caller.patient).label if caller.patient \
                else "an unknown number"
            return IncomingRoute(phone or _stored_number(fallback, self._region()), label,
                                 staff.slack_user_id if staff and phone else None)
        return self._retrying(work, wait_s)

    def _menu_call(self, w: _Work, leg: Leg, menu: MenuAnswer, before: dict[str, Any] | None,
                   previous: str | None, created: bool) -> IncomingRoute:
        leg.state, leg.state_reason = MENU_STATE, "the staff voice menu: never counted"
        leg.source, leg.staff_id = "menu", menu.staff_pk
        self._finish(w, leg, before, previous, created, "call.menu", actor="twilio")
        return IncomingRoute(None, "a staff member", None, menu=menu)

    @staticmethod
    def _staff_for(w: _Work, patient: Any) -> Any:
        if patient is None or patient.assigned_staff_id is None:
            return None
        staff = w.staff_row(patient.assigned_staff_id)
        return staff if staff is not None and staff.active else None

    def record_screening(self, answer: CallEvent, *, accepted: bool,
                         wait_s: float | None = None) -> CallOutcome:
        """The staff member's answer to the whisper on the dialed leg (pressed 1 or not), with
        the leg's numbers: Twilio may send it before the leg's first status callback."""
        if not answer.call_sid:
            raise BadInput("A screening answer needs a CallSid.")
        event = CallEvent(call_sid=answer.call_sid, status="in-progress",
                          parent_call_sid=answer.parent_call_sid, direction="outbound-dial",
                          from_number=answer.from_number, to_number=answer.to_number,
                          account_sid=answer.account_sid)

        def work(w: _Work) -> CallOutcome:
            self._lock_parent(w, event)
            leg, created = self._get_or_create(w, event)
            before = None if created else _snapshot(leg)
            previous = None if created else leg.state
            if created:
                self._apply_event(leg, event)
            if leg.screened != "accepted":
                leg.screened = "accepted" if accepted else "refused"
            self._resolve(w, [leg.to_number])
            answered = self._party(w, leg.to_number)
            gone = answered.staff is not None and not answered.staff.active
            if gone:
                leg.screened = "refused"  # an inactive member never takes a call (issue 24)
            self._match(w, leg)
            self._decide(w, leg)
            outcome = self._finish(w, leg, before, previous, created, "call.screen",
                                   actor="twilio")
            return replace(outcome, connect=False) if gone else outcome
        return self._retrying(work, wait_s)

    def screening_label(self, parent_call_sid: str | None, *, to_number: str | None = None,
                        wait_s: float | None = None) -> str | None:
        """How the whisper names the caller of a bridged call: clinic id + initials only;
        None when the dialed number (`to_number`) is an inactive member's (issue 24): no
        whisper, the leg is hung up."""
        with self.ctx.db.read(wait_s=wait_s) as conn:
            w = _Work(conn)
            if to_number:
                answered = self._party(w, _stored_number(to_number, self._region()))
                if answered.staff is not None and not answered.staff.active:
                    return None
            if not parent_call_sid:
                return "an unknown number"
            parent = w.leg(parent_call_sid)
            patient = w.patient_row(parent.patient_id) if parent is not None else None
            return _patient_view(patient).label if patient else "an unknown number"

    # -- click-to-call --------------------------------------------------------------------

    def prepare_click_to_call(self, patient_ref: str, *, by: str) -> ClickToCall:
        """Whom to ring first (the staff member's phone) and whom to bridge (the patient)."""
        with self.ctx.db.read() as conn:
            staff = require_active_staff(conn, by, doing="place calls")
            patient = require_patient(conn, patient_ref, region=self._region())
            phone = call_rows.staff_phone(conn, staff.id)
            if phone is None:
                raise BadInput(f"{staff.slack_user_id} has no phone on record: add one with "
                               "`rpm-logger staff update --phone`.")
            patient_phone = call_rows.patient_phone(conn, patient.id)
            if patient_phone is None:
                raise BadInput(f"{patient.clinic_id} has no phone number on record.")
            return ClickToCall(phone, patient_phone,
                               _patient_view(call_rows.patient_with_view(conn, patient.id)),
                               staff.slack_user_id)

    def record_placed(self, call_sid: str, plan: ClickToCall, *,
                      from_number: str | None) -> CallOutcome:
        """The staff leg Twilio accepted: a bridge parent, so it never counts itself."""
        event = CallEvent(call_sid=call_sid, status="queued", direction="outbound-api",
                          from_number=from_number, to_number=plan.staff_phone, source="click")

        def work(w: _Work) -> CallOutcome:
            leg, created = self._get_or_create(w, event)
            before = None if created else _snapshot(leg)
            if created:
                self._apply_event(leg, event)
            leg.bridged = True
            staff = require_staff(w.conn, plan.staff)
            w.staff.setdefault(staff.id, staff)
            patient = require_patient(w.conn, plan.patient.patient_id, region=self._region())
            leg.staff_id = leg.staff_id or staff.id
            leg.patient_id = leg.patient_id or patient.id
            self._decide(w, leg)
            return self._finish(w, leg, before, None if created else leg.state,
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

    def record_sms(self, event: SmsEvent, *, wait_s: float | None = None) -> ContactView:
        """An inbound text: a non-qualifying contact, kept once per MessageSid."""
        if not event.message_sid:
            raise BadInput("An SMS event needs a MessageSid.")

        def work(w: _Work) -> ContactView:
            contact = call_rows.contact_by_ref(w.conn, event.message_sid)
            if contact is not None:
                pk, kind, from_number, received_at, patient_pk = (
                    contact.id, contact.kind, contact.from_number, contact.received_at,
                    contact.patient_id)
            else:
                region = self._region()
                self._resolve(w, [event.from_number, event.to_number])
                sender = self._party(w, event.from_number)
                receiver = self._party(w, event.to_number)
                kind, received_at = "sms", self.ctx.now()
                from_number = _stored_number(event.from_number, region)
                patient_pk = sender.patient.id if sender.patient else None
                pk = call_rows.insert_contact(w.conn, {
                    "kind": kind, "external_ref": event.message_sid,
                    "from_number": from_number,
                    "to_number": _stored_number(event.to_number, region),
                    "patient_id": patient_pk, "matched_kind": sender.patient_kind,
                    "staff_id": receiver.staff.id if receiver.staff else None,
                    "received_at": received_at})
                audit.record(w.conn, at=received_at, actor="twilio",
                             action="contact.sms", entity="contact", entity_id=pk,
                             after={"kind": "sms", "from_number": _mask(from_number),
                                    "patient_id": patient_pk})
            patient = w.patient_row(patient_pk)
            return ContactView(pk, kind, _patient_view(patient) if patient else None,
                               _mask(from_number), received_at)
        return self._retrying(work, wait_s)
