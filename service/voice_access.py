"""Voice access for staff (issue 15): who a calling number belongs to, one keypad PIN
attempt checked and counted, and the CLI's use cases that set a PIN or lift a lock.

Caller id can be forged, so a number only says whose PIN to ask for. Each wrong PIN is a row
(staff, call, when: never the digits); five for one member within an hour lock their voice
access for an hour, and a clinic-wide hourly limit refuses every PIN check while it is
reached. `voice_caller` and `check_pin` run inside the voice menu's own transaction (one use
case per menu step); `VoiceAccessService` opens its own for the CLI. docs/security.md
"Voice access" says why each rule is what it is.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from service import audit, lookups
from service.context import ServiceContext
from service.errors import BadInput
from service.pins import PIN_RULE, hash_pin, pin_matches, well_formed
from service.staff import view_of
from service.views import StaffView
from store import staff as staff_rows
from store import voice_access as voice_rows
from store.db import Conn

WRONG_PINS_TO_LOCK = 5  # for one member within WRONG_PIN_WINDOW
WRONG_PIN_WINDOW = timedelta(hours=1)
LOCK_FOR = timedelta(hours=1)
VOICE_ACTOR = "twilio:voice"  # who the audit trail names for what a PIN attempt did

Reason = Literal["ok", "wrong", "locked", "no_pin", "clinic_limit", "malformed"]


@dataclass(frozen=True)
class VoiceCaller:
    """The staff member a calling number belongs to."""

    staff_id: int
    slack_user_id: str
    has_pin: bool
    locked_until: datetime | None  # None when not locked now


@dataclass(frozen=True)
class PinVerdict:
    ok: bool
    reason: Reason
    wrong_this_call: int  # wrong PINs on this CallSid so far, this one included
    locked_now: bool  # this attempt locked the member: DM them after commit
    locked_until: datetime | None


def _locked_until(row: Any, now: datetime) -> datetime | None:
    until: datetime | None = row.voice_locked_until
    return until if until is not None and until > now else None


def voice_caller(conn: Conn, e164: str, now: datetime) -> VoiceCaller | None:
    """The active staff member whose registered phone (kind 'phone', not a clinic Twilio
    number) is this caller id, else None."""
    row = voice_rows.caller_by_phone(conn, e164)
    if row is None:
        return None
    return VoiceCaller(row.id, row.slack_user_id, row.voice_pin_hash is not None,
                       _locked_until(row, now))


def check_pin(conn: Conn, *, staff_id: int, digits: str, call_sid: str, now: datetime,
              clinic_limit: int) -> PinVerdict:
    """Checks and records one PIN attempt inside the caller's write transaction (records the
    wrong attempt, locks and audits when the 5th in an hour). Never raises on any `digits`.

    Refused before any comparison, and not counted: a member with no PIN (or inactive, or
    unknown), a locked member, the clinic-wide limit reached, and a malformed PIN (not 4-8
    digits: no PIN has that shape, so it cannot be a guess; docs/security.md)."""
    row = voice_rows.pin_state(conn, staff_id)
    hour_ago = now - WRONG_PIN_WINDOW
    cleared = row.voice_cleared_at if row is not None else None
    counts = voice_rows.wrong_counts(conn, staff_pk=staff_id, call_sid=call_sid,
                                     hour_ago=hour_ago, member_since=cleared or hour_ago)

    def refused(reason: Reason, locked_until: datetime | None = None) -> PinVerdict:
        return PinVerdict(False, reason, counts.this_call, False, locked_until)

    if row is None or not row.active or row.voice_pin_hash is None:
        return refused("no_pin")
    locked_until = _locked_until(row, now)
    if locked_until is not None:
        return refused("locked", locked_until)
    if counts.clinic >= clinic_limit:
        return refused("clinic_limit")
    if not well_formed(digits):
        return refused("malformed")
    if pin_matches(digits, row.voice_pin_hash):
        return PinVerdict(True, "ok", counts.this_call, False, None)
    return _wrong(conn, row, call_sid, now, member_wrong=counts.member + 1,
                  this_call=counts.this_call + 1)


def _wrong(conn: Conn, row: Any, call_sid: str, now: datetime, *, member_wrong: int,
           this_call: int) -> PinVerdict:
    """Record a wrong PIN (and its audit row); lock the member at the fifth in the window."""
    voice_rows.record_wrong(conn, staff_pk=row.id, call_sid=call_sid, at=now)
    audit.record(conn, at=now, actor=VOICE_ACTOR, action="staff.voice_wrong_pin",
                 entity="staff", entity_id=row.slack_user_id,
                 after={"call_sid": call_sid, "wrong_pins_counted": member_wrong})
    if member_wrong < WRONG_PINS_TO_LOCK:
        return PinVerdict(False, "wrong", this_call, False, None)
    until = now + LOCK_FOR
    staff_rows.update_staff(conn, row.id, {"voice_locked_until": until})
    audit.record(conn, at=now, actor=VOICE_ACTOR, action="staff.voice_lock", entity="staff",
                 entity_id=row.slack_user_id,
                 before={"voice_locked_until": None},
                 after={"voice_locked_until": until, "wrong_pins_counted": member_wrong,
                        "call_sid": call_sid})
    return PinVerdict(False, "wrong", this_call, True, until)


def _voice_snapshot(row: Any, now: datetime) -> dict[str, Any]:
    """What the audit trail keeps of a member's voice access: whether a PIN is set (never
    the hash) and the lock in force."""
    return {"voice_pin": "set" if row.voice_pin_hash is not None else "none",
            "voice_locked_until": _locked_until(row, now)}


class VoiceAccessService:
    """The CLI's voice-access use cases: set or remove a member's PIN, lift a lock. Either
    restarts the member's wrong-PIN count and clears any lock."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def set_pin(self, slack_user_id: str, digits: str, *, actor: str) -> StaffView:
        """Set the member's voice PIN (4-8 digits); '' removes it. The refusal never repeats
        the digits."""
        if digits and not well_formed(digits):
            raise BadInput(f"That voice PIN was not saved. {PIN_RULE}")
        new_hash = hash_pin(digits) if digits else None  # slow: before the write lock
        return self._change(slack_user_id, {"voice_pin_hash": new_hash},
                            action="staff.voice_pin", actor=actor,
                            said={"voice_pin": "set" if new_hash else "removed"})

    def unlock(self, slack_user_id: str, *, actor: str) -> StaffView:
        """Lift the member's wrong-PIN lock and restart their wrong-PIN count."""
        return self._change(slack_user_id, {}, action="staff.voice_unlock", actor=actor,
                            said={})

    def _change(self, slack_user_id: str, values: dict[str, Any], *, action: str,
                actor: str, said: dict[str, Any]) -> StaffView:
        now = self.ctx.now()
        with self.ctx.db.write() as conn:
            row = lookups.require_staff(conn, slack_user_id)
            after = staff_rows.update_staff(conn, row.id, {
                **values, "voice_locked_until": None, "voice_cleared_at": now})
            audit.record(conn, at=now, actor=actor, action=action, entity="staff",
                         entity_id=row.slack_user_id, before=_voice_snapshot(row, now),
                         after={**_voice_snapshot(after, now), **said})
            return view_of(conn, after, now=now)
