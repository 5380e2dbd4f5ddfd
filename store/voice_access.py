"""Voice access statements: who a calling number belongs to, a member's PIN state, and the
wrong-PIN rows the lock and the clinic-wide limit count (never a PIN's digits)."""

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select
from sqlalchemy.engine import Connection, Row

from store.tables import staff, staff_phones, voice_pin_attempts

_PIN_STATE = (staff.c.id, staff.c.slack_user_id, staff.c.active, staff.c.voice_pin_hash,
              staff.c.voice_locked_until, staff.c.voice_cleared_at)

# A staff member's own phone only: a clinic Twilio number assigned to them is not a caller id.
_CALLER = (select(*_PIN_STATE)
           .join(staff_phones, staff_phones.c.staff_id == staff.c.id)
           .where(staff_phones.c.e164 == bindparam("e164"), staff_phones.c.kind == "phone",
                  staff.c.active.is_(True)))
_PIN_STATE_BY_PK = select(*_PIN_STATE).where(staff.c.id == bindparam("pk"))

# Three counts in one statement: the clinic's last hour, the member's in the last hour since
# their count last restarted (an attempt in the same instant as the restart counts), and
# this call's.
_a = voice_pin_attempts.c
_WRONG_COUNTS = select(
    func.count().filter(_a.at > bindparam("hour_ago")).label("clinic"),
    func.count().filter(and_(_a.staff_id == bindparam("staff_pk"),
                             _a.at > bindparam("hour_ago"),
                             _a.at >= bindparam("member_since"))).label("member"),
    func.count().filter(_a.call_sid == bindparam("call_sid")).label("this_call"),
).where(or_(_a.at > bindparam("hour_ago"), _a.call_sid == bindparam("call_sid")))
_RECORD_WRONG = insert(voice_pin_attempts)


def caller_by_phone(conn: Connection, e164: str) -> Row[Any] | None:
    """The PIN state (id, slack_user_id, active, voice_pin_hash, voice_locked_until,
    voice_cleared_at) of the active member whose own phone is `e164`, or None."""
    return conn.execute(_CALLER, {"e164": e164}).first()


def pin_state(conn: Connection, staff_pk: int) -> Row[Any] | None:
    """The same PIN state for staff `staff_pk`, active or not, or None."""
    return conn.execute(_PIN_STATE_BY_PK, {"pk": staff_pk}).first()


def wrong_counts(conn: Connection, *, staff_pk: int, call_sid: str, hour_ago: datetime,
                 member_since: datetime) -> Row[Any]:
    """Wrong PINs: `clinic` (any member, after `hour_ago`), `member` (staff `staff_pk`, after
    `hour_ago` and from `member_since` on) and `this_call` (on `call_sid`, whenever)."""
    return conn.execute(_WRONG_COUNTS, {"hour_ago": hour_ago, "staff_pk": staff_pk,
                                        "member_since": member_since,
                                        "call_sid": call_sid}).one()


def record_wrong(conn: Connection, *, staff_pk: int, call_sid: str, at: datetime) -> None:
    """One wrong PIN for staff `staff_pk` on `call_sid`."""
    conn.execute(_RECORD_WRONG, {"staff_id": staff_pk, "call_sid": call_sid, "at": at})
