"""Issue 24, "Offboarding": from a member's inactive-from instant no call is routed, bridged,
whispered or screened to their phones, and no later call is credited to them.

The finding: after `staff update UNRS0003 --inactive` a patient calling her Twilio line still
rang her personal phone with the whisper, and the answered call counted as an entry credited
to the inactive nurse.
"""

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from service.calls import CallEvent
from service.errors import InvalidInput
from service.patients import PatientFields
from service.staff import StaffChanges
from store.models import Call, TimeEntry
from tests.service.helpers import DOCTOR, NURSE
from tests.telephony.conftest import (
    ACCOUNT_SID,
    CALL_END,
    CLINIC_NUMBER,
    FALLBACK_NUMBER,
    NURSE_PHONE,
    NURSE_TWILIO_NUMBER,
    PATIENT_PHONE,
    STRANGER_PHONE,
    TwilioApp,
    new_sid,
    status_form,
)

DOCTOR_PHONE = "+16175550102"


def _incoming(app: TwilioApp, sid: str, *, to: str, from_: str = PATIENT_PHONE) -> ET.Element:
    form = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": sid,
            "CallStatus": "ringing", "Direction": "inbound", "From": from_, "Caller": from_,
            "To": to, "Called": to, "CallToken": "tok", "FromCountry": "US"}
    response = app.post("/twilio/voice/incoming", form)
    assert response.status_code == 200
    return ET.fromstring(response.text)


def _dialed(root: ET.Element) -> str | None:
    numbers = root.findall("./Dial/Number")
    return numbers[0].text if numbers else None


def _entries(app: TwilioApp) -> list[TimeEntry]:
    from sqlmodel import select

    with app.service.ctx.db.read_session() as session:
        return list(session.exec(select(TimeEntry)))


def _call(app: TwilioApp, sid: str) -> Call:
    from sqlmodel import select

    with app.service.ctx.db.read_session() as session:
        return session.exec(select(Call).where(Call.call_sid == sid)).one()


def _staff_pk(app: TwilioApp, slack_id: str) -> int:
    from sqlmodel import select

    from store.models import Staff

    with app.service.ctx.db.read_session() as session:
        pk = session.exec(select(Staff.id).where(Staff.slack_user_id == slack_id)).one()
        assert pk is not None
        return pk


def _answered_by(app: TwilioApp, parent: str, child: str, phone: str) -> None:
    """The dialed leg at `phone` screened, accepted and completed (five minutes)."""
    form = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": child,
            "ParentCallSid": parent, "CallStatus": "in-progress", "Direction": "outbound-dial",
            "From": PATIENT_PHONE, "To": phone, "Called": phone, "Caller": PATIENT_PHONE,
            "Digits": "1", "FinishedOnKey": "", "msg": "Gather End"}
    assert app.post("/twilio/voice/screen/answer", form).status_code == 200
    done = status_form(sid=child, parent=parent, status="completed", from_=PATIENT_PHONE,
                       to=phone, direction="outbound-dial", sequence=3,
                       at=app.service.ctx.now() + timedelta(minutes=5), duration=300)
    assert app.post("/twilio/voice/status", done).status_code == 200


def test_after_staff_update_inactive_her_twilio_line_no_longer_rings_her(
    twilio_app: TwilioApp,
) -> None:
    """The finding as filed, with plain `--inactive` (her patient moved to the doctor first,
    as `--inactive` now asks): a call to her Twilio number reaches the clinic's fallback, not
    her personal phone, and the whisper is never played to her."""
    svc = twilio_app.service
    svc.patients.update("P-1042", PatientFields(assign=DOCTOR), actor="test")
    svc.staff.update(NURSE, StaffChanges(active=False), actor="test")
    for caller in (STRANGER_PHONE, PATIENT_PHONE):  # the doctor has no phone: fallback
        root = _incoming(twilio_app, new_sid(), to=NURSE_TWILIO_NUMBER, from_=caller)
        assert _dialed(root) == FALLBACK_NUMBER


def test_after_offboarding_calls_go_to_the_new_assignee_and_count_for_them(
    twilio_app: TwilioApp,
) -> None:
    svc = twilio_app.service
    svc.staff.update(DOCTOR, StaffChanges(add_phones=(DOCTOR_PHONE,)), actor="test")
    svc.offboarding.offboard(NURSE, reassign_to=DOCTOR, reason="left the clinic",
                             actor="test")
    for to in (NURSE_TWILIO_NUMBER, CLINIC_NUMBER):
        parent, child = new_sid(), new_sid()
        root = _incoming(twilio_app, parent, to=to)
        assert _dialed(root) == DOCTOR_PHONE
        screen = twilio_app.post("/twilio/voice/screen", {
            "AccountSid": ACCOUNT_SID, "CallSid": child, "ParentCallSid": parent,
            "CallStatus": "in-progress", "Direction": "outbound-dial", "From": PATIENT_PHONE,
            "To": DOCTOR_PHONE})
        assert "P-1042 JD" in screen.text
        _answered_by(twilio_app, parent, child, DOCTOR_PHONE)
        assert _call(twilio_app, child).state == "counted"
    entries = _entries(twilio_app)
    assert [(e.source, e.staff_id) for e in entries] == \
        [("twilio", _staff_pk(twilio_app, DOCTOR))] * 2


def test_a_late_call_found_on_her_phone_is_unclaimed_not_hers(twilio_app: TwilioApp) -> None:
    """Reconcile (or a late callback) finds a call answered on her phone after she left: it
    is listed unclaimed for an admin, never counted for her."""
    svc = twilio_app.service
    svc.offboarding.offboard(NURSE, reassign_to=DOCTOR, reason="left", actor="test")
    sid = new_sid()
    svc.calls.reconcile([CallEvent(
        call_sid=sid, status="completed", direction="outbound-api",
        from_number=NURSE_TWILIO_NUMBER, to_number=PATIENT_PHONE, duration_seconds=200,
        answered_by="human", sequence_number=4,
        timestamp=svc.ctx.now() + timedelta(minutes=10))])
    call = _call(twilio_app, sid)
    assert (call.state, call.staff_id, call.entry_id) == ("unclaimed", None, None)
    assert "inactive" in (call.state_reason or "")
    assert [c.call_sid for c in svc.calls.unclaimed()] == [sid]
    assert _entries(twilio_app) == []


def test_a_call_from_before_the_instant_stays_hers(twilio_app: TwilioApp) -> None:
    """A call that ended before she was offboarded, reported late, is still credited to
    her: she was active then."""
    svc = twilio_app.service
    svc.offboarding.offboard(NURSE, reassign_to=DOCTOR, reason="left", actor="test")
    sid = new_sid()
    svc.calls.reconcile([CallEvent(
        call_sid=sid, status="completed", direction="outbound-api",
        from_number=NURSE_TWILIO_NUMBER, to_number=PATIENT_PHONE, duration_seconds=200,
        answered_by="human", sequence_number=4, timestamp=CALL_END - timedelta(hours=2))])
    call = _call(twilio_app, sid)
    assert call.state == "counted"
    [entry] = _entries(twilio_app)
    assert entry.staff_id == call.staff_id == _staff_pk(twilio_app, NURSE)


def test_after_offboarding_a_stranger_calling_her_line_reaches_the_fallback(
    twilio_app: TwilioApp,
) -> None:
    """Her Twilio number stays the clinic's and stays on her record until `staff update
    --twilio-number` moves it; a caller with no assignee reaches CLINIC_FALLBACK_NUMBER."""
    twilio_app.service.offboarding.offboard(NURSE, reassign_to=DOCTOR, actor="test")
    root = _incoming(twilio_app, new_sid(), to=NURSE_TWILIO_NUMBER, from_=STRANGER_PHONE)
    assert _dialed(root) == FALLBACK_NUMBER


def test_a_leg_still_ringing_her_phone_is_not_whispered_and_never_connects(
    twilio_app: TwilioApp,
) -> None:
    """A bridge dialed her before she was offboarded and she answers after: no whisper (no
    patient named to her), the leg is hung up, and it is never counted."""
    svc = twilio_app.service
    parent, child = new_sid(), new_sid()
    assert _dialed(_incoming(twilio_app, parent, to=CLINIC_NUMBER)) == NURSE_PHONE
    svc.offboarding.offboard(NURSE, reassign_to=DOCTOR, actor="test")
    form = {"AccountSid": ACCOUNT_SID, "CallSid": child, "ParentCallSid": parent,
            "CallStatus": "in-progress", "Direction": "outbound-dial", "From": PATIENT_PHONE,
            "To": NURSE_PHONE}
    screen = ET.fromstring(twilio_app.post("/twilio/voice/screen", form).text)
    assert screen.find("./Gather") is None and screen.find("./Hangup") is not None
    assert "P-1042" not in ET.tostring(screen, encoding="unicode")
    answer = twilio_app.post("/twilio/voice/screen/answer", {
        **form, "Digits": "1", "FinishedOnKey": "", "msg": "Gather End"})
    assert ET.fromstring(answer.text).find("./Hangup") is not None  # pressed 1: not connected
    _answered_by(twilio_app, parent, child, NURSE_PHONE)
    assert _call(twilio_app, child).state == "attempt"
    assert _entries(twilio_app) == []


def test_twilio_number_moves_from_the_leaver_with_staff_update(twilio_app: TwilioApp) -> None:
    """`staff update SUCCESSOR --twilio-number HERS` takes it off her record (an inactive
    member's only; an active member's number stays refused) and calls to it ring them."""
    svc = twilio_app.service
    svc.staff.update(DOCTOR, StaffChanges(add_phones=(DOCTOR_PHONE,)), actor="test")
    with pytest.raises(InvalidInput, match="belongs to another staff member"):
        svc.staff.update(DOCTOR, StaffChanges(add_twilio_numbers=(NURSE_TWILIO_NUMBER,)),
                         actor="test")
    svc.offboarding.offboard(NURSE, reassign_to=DOCTOR, actor="test")
    svc.staff.update(DOCTOR, StaffChanges(add_twilio_numbers=(NURSE_TWILIO_NUMBER,)),
                     actor="test")
    root = _incoming(twilio_app, new_sid(), to=NURSE_TWILIO_NUMBER, from_=STRANGER_PHONE)
    assert _dialed(root) == DOCTOR_PHONE
    assert svc.audit_trail.verify().findings == ()
