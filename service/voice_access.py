"""Voice access for staff (issue 15): who a calling number belongs to, one keypad PIN
attempt checked and counted, and the CLI's use cases that set a PIN or lift a lock.

Caller id can be forged, so a number only says whose PIN to ask for. Each wrong PIN is a row
(staff, call, when: never the digits); five for one member within an hour lock their voice
access for an hour, five from one calling number within an hour refuse that number for the
hour, and a clinic-wide hourly limit refuses every PIN check while it is reached.

One PIN check is three steps (issue 27: sixty parallel calls on PostgreSQL all read the
counts before any wrong PIN was written, and 47 PINs were compared against limits of 20):
`reserve_pin_check` counts and reserves the attempt under the clinic's one PIN-check lock
(store/voice_access.py) in the caller's write transaction; `compare_pin` runs the
deliberately slow hash with no transaction open, so the lock is held for milliseconds;
`settle_pin_check` keeps or drops the reservation under the lock again, and starts a lock or
the clinic-wide pause when that wrong PIN reaches the limit, exactly once. A reservation
counts as a wrong PIN until it is settled, so no limit is ever passed, and one never settled
(the process stopped) counts as wrong until it is an hour old. `VoiceAccessService` holds the
CLI's use cases. docs/security.md "Voice access" says why each rule is what it is.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from service import audit, lookups
from service.context import ServiceContext
from service.errors import BadInput, StoreConflict
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

Reason = Literal["ok", "wrong", "locked", "no_pin", "member_limit", "number_limit",
                 "clinic_limit", "malformed"]


@dataclass(frozen=True)
class PinLimits:
    """The hourly wrong-PIN limits the settings give (VOICE_WRONG_PINS_PER_NUMBER,
    VOICE_WRONG_PINS_PER_HOUR, defaults in configuration/settings.py); the per-member lock
    is the fixed WRONG_PINS_TO_LOCK."""

    per_number: int
    clinic: int


@dataclass(frozen=True)
class VoiceCaller:
    """The staff member a calling number belongs to."""

    staff_id: int
    slack_user_id: str
    has_pin: bool
    locked_until: datetime | None  # None when not locked now


@dataclass(frozen=True)
class LockNotice:
    """Wrong PINs just locked `member` until `until`: tell them, and each active admin."""

    member: str  # Slack user id
    until: datetime
    admins: tuple[str, ...]  # Slack user ids of the active admins, the member left out


@dataclass(frozen=True)
class PauseNotice:
    """The clinic-wide limit was just reached: every PIN is refused until about `until`
    (when the oldest of the `wrong_pins` turns an hour old). Tell each active admin."""

    until: datetime
    wrong_pins: int
    admins: tuple[str, ...]


VoiceNotice = LockNotice | PauseNotice


@dataclass(frozen=True)
class PinVerdict:
    ok: bool
    reason: Reason
    wrong_this_call: int  # wrong PINs on this CallSid so far, this one included
    locked_now: bool  # this attempt locked the member: DM them after commit
    locked_until: datetime | None
    notices: tuple[VoiceNotice, ...] = ()  # to send after the commit (a lock, a pause)


@dataclass(frozen=True)
class PinReservation:
    """An attempt reserved under the lock, to compare outside it and then settle. Holds the
    stored hash (never the digits) only for `compare_pin`."""

    attempt_pk: int
    staff_pk: int
    slack_user_id: str
    call_sid: str
    member_since: datetime | None  # the member's count restarted then (None: never)
    pin_hash: str


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


def reserve_pin_check(conn: Conn, *, staff_id: int, digits: str, call_sid: str,
                      now: datetime, limits: PinLimits) -> PinVerdict | PinReservation:
    """Step 1, in the caller's write transaction: a refusal, or the attempt reserved under the
    PIN-check lock (commit it, then `compare_pin`). Never raises on any `digits`.

    Refused before any comparison, and not counted: a member with no PIN (or inactive, or
    unknown), a locked member, a member or a calling number or the clinic at its limit
    (reservations still being compared count), and a malformed PIN (not 4-8 digits: no PIN
    has that shape, so it cannot be a guess; docs/security.md). A call whose reservation is
    still being compared (its turn retried, racing the first) gets that one again."""
    voice_rows.lock_pin_checks(conn)
    row = voice_rows.pin_state(conn, staff_id)
    counts = voice_rows.reservation_counts(conn, **_count_window(
        staff_id, call_sid, row.voice_cleared_at if row is not None else None, now))

    def refused(reason: Reason, locked_until: datetime | None = None) -> PinVerdict:
        return PinVerdict(False, reason, counts.this_call, False, locked_until)

    if row is None or not row.active or row.voice_pin_hash is None:
        return refused("no_pin")
    locked_until = _locked_until(row, now)
    if locked_until is not None:
        return refused("locked", locked_until)
    if counts.pending_id is not None and well_formed(digits):
        return _reservation(counts.pending_id, row, call_sid)
    limit = _limit_reached(counts, limits)
    if limit is not None:
        return refused(limit)
    if not well_formed(digits):
        return refused("malformed")
    return _reservation(voice_rows.reserve(conn, staff_pk=row.id, call_sid=call_sid, at=now),
                        row, call_sid)


def compare_pin(reservation: PinReservation, digits: str) -> bool:
    """Step 2, with no transaction open: whether `digits` is the member's PIN (the slow
    hash, ~50 ms, service/pins.py)."""
    return pin_matches(digits, reservation.pin_hash)


def settle_pin_check(conn: Conn, reservation: PinReservation, *, matched: bool,
                     now: datetime, limits: PinLimits) -> PinVerdict:
    """Step 3, in a new write transaction: under the PIN-check lock, the right PIN drops its
    reservation; a wrong one is kept as wrong (with its audit record), and locks the member
    when it is their fifth in the window, and pauses the clinic when it is the clinic's
    `limits.clinic`-th in the last hour: each is started once, by the one settle that
    reaches it, with its notices. StoreConflict when the reservation was settled already
    (the turn's racing twin did it: the caller runs the turn again and finds it answered)."""
    voice_rows.lock_pin_checks(conn)
    settled = voice_rows.keep_as_wrong(conn, reservation.attempt_pk) if not matched \
        else voice_rows.drop_reservation(conn, reservation.attempt_pk)
    if not settled:
        raise StoreConflict("that PIN attempt was settled by a request for the same turn")
    counts = voice_rows.wrong_counts(conn, **_count_window(
        reservation.staff_pk, reservation.call_sid, reservation.member_since, now))
    if matched:
        return PinVerdict(True, "ok", counts.this_call, False, None)
    audit.record(conn, at=now, actor=VOICE_ACTOR, action="staff.voice_wrong_pin",
                 entity="staff", entity_id=reservation.slack_user_id,
                 after={"call_sid": reservation.call_sid, "wrong_pins_counted": counts.member})
    notices = tuple(n for n in (_lock(conn, reservation, counts.member, now),
                                _pause(conn, counts, now, limits)) if n is not None)
    lock = next((n for n in notices if isinstance(n, LockNotice)), None)
    return PinVerdict(False, "wrong", counts.this_call, lock is not None,
                      lock.until if lock else None, notices)


def _count_window(staff_pk: int, call_sid: str, cleared: datetime | None,
                  now: datetime) -> dict[str, Any]:
    """The parameters of the counts: the last hour, from the member's last restart on."""
    hour_ago = now - WRONG_PIN_WINDOW
    return {"staff_pk": staff_pk, "call_sid": call_sid, "hour_ago": hour_ago,
            "member_since": cleared or hour_ago}


def _limit_reached(counts: Any, limits: PinLimits) -> Reason | None:
    """The first limit reached, reservations counted: the member's (five reserved, none
    settled into a lock yet), the calling number's, then the clinic's."""
    if counts.member >= WRONG_PINS_TO_LOCK:
        return "member_limit"
    if counts.number >= limits.per_number:
        return "number_limit"
    if counts.clinic >= limits.clinic:
        return "clinic_limit"
    return None


def _reservation(attempt_pk: int, row: Any, call_sid: str) -> PinReservation:
    return PinReservation(attempt_pk, row.id, row.slack_user_id, call_sid,
                          row.voice_cleared_at, row.voice_pin_hash)


def _lock(conn: Conn, reservation: PinReservation, member_wrong: int,
          now: datetime) -> LockNotice | None:
    """Lock the member at their fifth wrong PIN in the window (once: a member locked now is
    left as is), with its audit record; the notice for them and the admins."""
    row = voice_rows.pin_state(conn, reservation.staff_pk)
    if member_wrong < WRONG_PINS_TO_LOCK or row is None or _locked_until(row, now):
        return None
    until = now + LOCK_FOR
    staff_rows.update_staff(conn, row.id, {"voice_locked_until": until})
    audit.record(conn, at=now, actor=VOICE_ACTOR, action="staff.voice_lock", entity="staff",
                 entity_id=row.slack_user_id,
                 before={"voice_locked_until": None},
                 after={"voice_locked_until": until, "wrong_pins_counted": member_wrong,
                        "call_sid": reservation.call_sid})
    admins = tuple(a for a in staff_rows.admin_ids(conn) if a != row.slack_user_id)
    return LockNotice(row.slack_user_id, until, admins)


def _pause(conn: Conn, counts: Any, now: datetime, limits: PinLimits) -> PauseNotice | None:
    """The clinic-wide pause starts when a wrong PIN is the clinic's `limits.clinic`-th in
    the last hour (exactly: the count grows by one settle at a time, under the lock); its
    audit record and the notice for the admins."""
    if counts.clinic != limits.clinic:
        return None
    until = counts.clinic_oldest + WRONG_PIN_WINDOW
    audit.record(conn, at=now, actor=VOICE_ACTOR, action="voice.pause", entity="voice_menu",
                 entity_id="clinic", after={"wrong_pins_counted": counts.clinic,
                                            "paused_until": until})
    return PauseNotice(until, counts.clinic, tuple(staff_rows.admin_ids(conn)))


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
