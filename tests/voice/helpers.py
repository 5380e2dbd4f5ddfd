"""Voice access as the voice menu uses it: one PIN attempt reserved, compared and settled."""

from datetime import datetime

from service import Service
from service.voice_access import (
    PinLimits,
    PinVerdict,
    VoiceCaller,
    compare_pin,
    reserve_pin_check,
    settle_pin_check,
    voice_caller,
)
from store import staff as staff_rows
from tests.fakes.ids import unique_sid

NURSE_PHONE = "+16175550101"  # tests/service/helpers.seed gives it to the nurse
PIN = "80531"  # digits that appear nowhere else, so finding them anywhere is a leak
OTHER_PIN = "271828"


def caller(svc: Service, e164: str = NURSE_PHONE) -> VoiceCaller | None:
    with svc.ctx.db.read() as conn:
        return voice_caller(conn, e164, svc.ctx.now())


def staff_pk(svc: Service, slack_user_id: str) -> int:
    with svc.ctx.db.read() as conn:
        row = staff_rows.by_slack_id(conn, slack_user_id)
    assert row is not None
    return int(row.id)


def attempt(svc: Service, pk: int, digits: str, call_sid: str | None = None, *,
            limit: int = 20, per_number: int = 5, now: datetime | None = None) -> PinVerdict:
    """One PIN attempt as the voice menu makes it: reserved in one write transaction,
    compared with none open, settled in a second."""
    sid, at = call_sid or unique_sid("CA"), now or svc.ctx.now()
    limits = PinLimits(per_number=per_number, clinic=limit)
    with svc.ctx.db.write() as conn:
        step = reserve_pin_check(conn, staff_id=pk, digits=digits, call_sid=sid, now=at,
                                 limits=limits)
    if isinstance(step, PinVerdict):
        return step
    matched = compare_pin(step, digits)
    with svc.ctx.db.write() as conn:
        return settle_pin_check(conn, step, matched=matched, now=at, limits=limits)
