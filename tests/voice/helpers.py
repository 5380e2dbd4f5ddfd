"""Voice access as the voice menu uses it: one PIN attempt per write transaction."""

from datetime import datetime

from service import Service
from service.voice_access import PinVerdict, VoiceCaller, check_pin, voice_caller
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
            limit: int = 20, now: datetime | None = None) -> PinVerdict:
    with svc.ctx.db.write() as conn:
        return check_pin(conn, staff_id=pk, digits=digits, call_sid=call_sid or unique_sid("CA"),
                         now=now or svc.ctx.now(), clinic_limit=limit)
