"""Voice access statements: who a calling number belongs to, a member's PIN state, the lock
every PIN check counts under, and the wrong-PIN rows the limits count (never a PIN's digits).

A PIN check counts and reserves its attempt under `lock_pin_checks`, compares the PIN with
no transaction open, then settles the reservation under the lock again (issue 27: parallel
calls on PostgreSQL all read the counts before any attempt was written)."""

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Row

from store.tables import calls, staff, staff_phones, voice_pin_attempts

_PIN_STATE = (staff.c.id, staff.c.slack_user_id, staff.c.active, staff.c.voice_pin_hash,
              staff.c.voice_locked_until, staff.c.voice_cleared_at)

# A staff member's own phone only: a clinic Twilio number assigned to them is not a caller id.
_CALLER = (select(*_PIN_STATE)
           .join(staff_phones, staff_phones.c.staff_id == staff.c.id)
           .where(staff_phones.c.e164 == bindparam("e164"), staff_phones.c.kind == "phone",
                  staff.c.active.is_(True)))
_PIN_STATE_BY_PK = select(*_PIN_STATE).where(staff.c.id == bindparam("pk"))

# One key for every PIN check of the clinic: the clinic-wide count makes them one queue.
# Transaction-level, so a commit or a rollback (a lost connection too) always releases it.
PIN_CHECK_LOCK_KEY = 0x72706D5F70696E  # "rpm_pin"
_PIN_CHECK_LOCK = select(func.pg_advisory_xact_lock(PIN_CHECK_LOCK_KEY))

_a = voice_pin_attempts.c
_in_hour = _a.at > bindparam("hour_ago")
_members = and_(_a.staff_id == bindparam("staff_pk"), _in_hour,
                _a.at >= bindparam("member_since"))
_this_call = _a.call_sid == bindparam("call_sid")
# the number this call came from, as its `calls` row has it (a staff menu call is stored
# there by /incoming before its session exists)
_caller_number = (select(calls.c.from_number).where(calls.c.call_sid == bindparam("call_sid"))
                  .scalar_subquery())
# the calling number's last hour, less this member's attempts from before their count last
# restarted: an admin's unlock (or a new PIN) frees the member's own phone too, not only them
_by_number = and_(_in_hour, calls.c.from_number == _caller_number,
                  or_(_a.staff_id != bindparam("staff_pk"), _a.at >= bindparam("member_since")))
_ATTEMPTS = voice_pin_attempts.outerjoin(calls, calls.c.call_sid == _a.call_sid)
_RECENT = or_(_in_hour, _this_call)  # every row the counts below look at (indexed)

# What a new attempt is checked against, reservations included: the clinic's last hour, the
# member's in the last hour since their count last restarted (an attempt in the same
# instant as the restart counts), the calling number's last hour, this call's; and this
# call's reservation still being compared, if any (a retried turn racing its first).
_RESERVATION_COUNTS = select(
    func.count().filter(_in_hour).label("clinic"),
    func.count().filter(_members).label("member"),
    func.count().filter(_by_number).label("number"),
    func.count().filter(_this_call).label("this_call"),
    func.max(_a.id).filter(and_(_this_call, _a.pending)).label("pending_id"),
).select_from(_ATTEMPTS).where(_RECENT)

# What a settled wrong PIN may start, reservations still being compared left out: the
# member's wrong PINs (the lock), the clinic's in the last hour and the oldest of them (the
# pause, and when it lifts), this call's.
_settled = _a.pending.is_(False)
_WRONG_COUNTS = select(
    func.count().filter(and_(_members, _settled)).label("member"),
    func.count().filter(and_(_in_hour, _settled)).label("clinic"),
    func.min(_a.at).filter(and_(_in_hour, _settled)).label("clinic_oldest"),
    func.count().filter(and_(_this_call, _settled)).label("this_call"),
).where(_RECENT)

_RESERVE = insert(voice_pin_attempts).returning(_a.id)
_pending_one = and_(_a.id == bindparam("pk"), _a.pending.is_(True))
_KEEP_AS_WRONG = update(voice_pin_attempts).where(_pending_one).values(pending=False)
_DROP_RESERVATION = delete(voice_pin_attempts).where(_pending_one)


def caller_by_phone(conn: Connection, e164: str) -> Row[Any] | None:
    """The PIN state (id, slack_user_id, active, voice_pin_hash, voice_locked_until,
    voice_cleared_at) of the active member whose own phone is `e164`, or None."""
    return conn.execute(_CALLER, {"e164": e164}).first()


def pin_state(conn: Connection, staff_pk: int) -> Row[Any] | None:
    """The same PIN state for staff `staff_pk`, active or not, or None."""
    return conn.execute(_PIN_STATE_BY_PK, {"pk": staff_pk}).first()


def lock_pin_checks(conn: Connection) -> None:
    """Wait for, and hold until this write transaction ends, the clinic's one PIN-check lock.
    PostgreSQL: a transaction-level advisory lock. SQLite: nothing to take, a write
    transaction (BEGIN IMMEDIATE, store/db.py) already holds the only writer lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(_PIN_CHECK_LOCK)


def reservation_counts(conn: Connection, *, staff_pk: int, call_sid: str, hour_ago: datetime,
                       member_since: datetime) -> Row[Any]:
    """Attempts, reservations included: `clinic` (after `hour_ago`), `member` (staff
    `staff_pk`, after `hour_ago` and from `member_since` on), `number` (calls from the number
    `call_sid` came from, after `hour_ago`), `this_call` (on `call_sid`, whenever), and
    `pending_id`, this call's reservation still being compared (or None)."""
    return conn.execute(_RESERVATION_COUNTS, {
        "hour_ago": hour_ago, "staff_pk": staff_pk, "member_since": member_since,
        "call_sid": call_sid}).one()


def wrong_counts(conn: Connection, *, staff_pk: int, call_sid: str, hour_ago: datetime,
                 member_since: datetime) -> Row[Any]:
    """Wrong PINs, reservations left out: `member` and `clinic` (as `reservation_counts`
    counts them), `clinic_oldest` (the oldest of the clinic's, or None) and `this_call`."""
    return conn.execute(_WRONG_COUNTS, {"hour_ago": hour_ago, "staff_pk": staff_pk,
                                        "member_since": member_since,
                                        "call_sid": call_sid}).one()


def reserve(conn: Connection, *, staff_pk: int, call_sid: str, at: datetime) -> int:
    """A reservation for one attempt on `call_sid` for staff `staff_pk`: its id."""
    return int(conn.execute(_RESERVE, {"staff_id": staff_pk, "call_sid": call_sid, "at": at,
                                       "pending": True}).scalar_one())


def keep_as_wrong(conn: Connection, attempt_pk: int) -> bool:
    """The reservation was a wrong PIN: it stays, as one. False when it is no reservation
    (any more)."""
    return conn.execute(_KEEP_AS_WRONG, {"pk": attempt_pk}).rowcount == 1


def drop_reservation(conn: Connection, attempt_pk: int) -> bool:
    """The reservation was the right PIN: no wrong PIN to keep. False when it is no
    reservation (any more)."""
    return conn.execute(_DROP_RESERVATION, {"pk": attempt_pk}).rowcount == 1
