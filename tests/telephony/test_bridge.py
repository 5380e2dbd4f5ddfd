"""The clinic bridge: /incoming dials the assigned staff member, the whisper screens the
answer, and the <Dial> parent/child legs are counted once, on the child."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from service.staff import StaffChanges
from store.models import Call, Staff, TimeEntry
from tests.service.helpers import CLERK, NURSE
from tests.telephony.conftest import (
    ACCOUNT_SID,
    CLINIC_NUMBER,
    FALLBACK_NUMBER,
    NURSE_PHONE,
    NURSE_TWILIO_NUMBER,
    PATIENT_PHONE,
    PUBLIC_BASE_URL,
    STRANGER_PHONE,
    TwilioApp,
    new_sid,
    status_form,
)

END = datetime(2026, 11, 20, 19, 30, tzinfo=UTC)


def _incoming_form(sid: str, from_: str) -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": sid,
            "CallStatus": "ringing", "Direction": "inbound", "From": from_, "Caller": from_,
            "To": CLINIC_NUMBER, "Called": CLINIC_NUMBER, "CallToken": "tok", "FromCountry": "US"}


def _child_form(child: str, parent: str, *, digits: str | None = None) -> dict[str, str]:
    form = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": child,
            "ParentCallSid": parent, "CallStatus": "in-progress", "Direction": "outbound-dial",
            "From": PATIENT_PHONE, "To": NURSE_PHONE, "Called": NURSE_PHONE,
            "Caller": PATIENT_PHONE}
    if digits is not None:
        form.update(Digits=digits, FinishedOnKey="", msg="Gather End")
    return form


def _entries(app: TwilioApp) -> list[TimeEntry]:
    with app.service.ctx.db.read_session() as session:
        return list(session.exec(select(TimeEntry)))


def _call(app: TwilioApp, sid: str) -> Call:
    with app.service.ctx.db.read_session() as session:
        return session.exec(select(Call).where(Call.call_sid == sid)).one()


def _ring(app: TwilioApp, parent: str, from_: str = PATIENT_PHONE) -> ET.Element:
    response = app.post("/twilio/voice/incoming", _incoming_form(parent, from_))
    assert response.status_code == 200
    return ET.fromstring(response.text)


def test_incoming_dials_the_assigned_nurse_with_screening_and_status_callbacks(
    twilio_app: TwilioApp,
) -> None:
    root = _ring(twilio_app, new_sid())
    [number] = root.findall("./Dial/Number")
    assert number.text == NURSE_PHONE
    assert number.get("url") == PUBLIC_BASE_URL + "/twilio/voice/screen"
    assert number.get("statusCallback") == PUBLIC_BASE_URL + "/twilio/voice/status"
    assert number.get("statusCallbackEvent") == "initiated ringing answered completed"


def test_the_whisper_names_the_patient_by_clinic_id_and_initials_only(
    twilio_app: TwilioApp,
) -> None:
    parent, child = new_sid(), new_sid()
    _ring(twilio_app, parent)
    response = twilio_app.post("/twilio/voice/screen", _child_form(child, parent))
    root = ET.fromstring(response.text)
    gather = root.find("./Gather")
    assert gather is not None and gather.get("numDigits") == "1"
    assert gather.get("action") == PUBLIC_BASE_URL + "/twilio/voice/screen/answer"
    assert gather.findtext("./Say") == "Call from P-1042 JD. Press 1 to accept."
    assert root.find("./Hangup") is not None  # no key press: the leg never connects


@pytest.mark.parametrize("child_first", [True, False])
def test_an_accepted_bridged_call_counts_once_with_the_childs_duration(
    twilio_app: TwilioApp, child_first: bool,
) -> None:
    parent, child = new_sid(), new_sid()
    _ring(twilio_app, parent)
    answer = twilio_app.post("/twilio/voice/screen/answer", _child_form(child, parent, digits="1"))
    assert answer.status_code == 200 and ET.fromstring(answer.text).find("./Hangup") is None
    child_done = status_form(sid=child, parent=parent, status="completed", from_=PATIENT_PHONE,
                             to=NURSE_PHONE, direction="outbound-dial", sequence=3, at=END,
                             duration=300)
    parent_done = status_form(sid=parent, status="completed", from_=PATIENT_PHONE,
                              to=CLINIC_NUMBER, direction="inbound", sequence=1,
                              at=END + timedelta(seconds=2), duration=331)
    for form in ([child_done, parent_done] if child_first else [parent_done, child_done]) * 2:
        assert twilio_app.post("/twilio/voice/status", form).status_code == 200
    [entry] = _entries(twilio_app)
    assert (entry.external_ref, entry.duration_seconds, entry.live) == (child, 300, True)
    assert _call(twilio_app, parent).state == "leg"
    assert (_call(twilio_app, child).state, _call(twilio_app, child).staff_id) == \
        ("counted", entry.staff_id)
    summary = twilio_app.service.months.summary("P-1042")
    assert (summary.total_seconds, summary.live_interactions) == (300, 1)


def test_a_leg_nobody_accepted_is_an_attempt_even_if_it_lasted(twilio_app: TwilioApp) -> None:
    """The nurse's voicemail answered: nobody pressed 1, so it never counts."""
    parent, child = new_sid(), new_sid()
    _ring(twilio_app, parent)
    answer = twilio_app.post("/twilio/voice/screen/answer", _child_form(child, parent, digits=""))
    assert ET.fromstring(answer.text).find("./Hangup") is not None
    twilio_app.status(sid=child, parent=parent, status="completed", from_=PATIENT_PHONE,
                      to=NURSE_PHONE, direction="outbound-dial", sequence=3, at=END, duration=45)
    twilio_app.status(sid=parent, status="completed", from_=PATIENT_PHONE, to=CLINIC_NUMBER,
                      direction="inbound", sequence=1, at=END, duration=60)
    assert _call(twilio_app, child).state == "attempt"
    assert _entries(twilio_app) == []


def test_a_screened_leg_without_any_answer_callback_is_an_attempt(twilio_app: TwilioApp) -> None:
    parent, child = new_sid(), new_sid()
    _ring(twilio_app, parent)
    twilio_app.status(sid=child, parent=parent, status="completed", from_=PATIENT_PHONE,
                      to=NURSE_PHONE, direction="outbound-dial", sequence=3, at=END, duration=45)
    assert _call(twilio_app, child).state == "attempt"


def test_an_unknown_caller_rings_the_fallback_number(twilio_app: TwilioApp) -> None:
    parent = new_sid()
    root = _ring(twilio_app, parent, from_=STRANGER_PHONE)
    assert root.findtext("./Dial/Number") == FALLBACK_NUMBER
    response = twilio_app.post("/twilio/voice/screen", _child_form(new_sid(), parent))
    assert ET.fromstring(response.text).findtext("./Gather/Say") == \
        "Call from an unknown number. Press 1 to accept."


def test_a_call_to_a_nurses_twilio_number_rings_that_nurse(twilio_app: TwilioApp) -> None:
    form = _incoming_form(new_sid(), STRANGER_PHONE)
    form["To"] = form["Called"] = NURSE_TWILIO_NUMBER
    response = twilio_app.post("/twilio/voice/incoming", form)
    assert ET.fromstring(response.text).findtext("./Dial/Number") == NURSE_PHONE


def test_a_staff_client_dialing_out_counts_once_when_confirmed(twilio_app: TwilioApp) -> None:
    """A browser client call: parent from client:nina, child dialed to the patient, no AMD."""
    parent, child = new_sid(), new_sid()
    twilio_app.status(sid=child, parent=parent, status="completed", from_=NURSE_TWILIO_NUMBER,
                      to=PATIENT_PHONE, direction="outbound-dial", sequence=2, at=END,
                      duration=125)
    twilio_app.status(sid=parent, status="completed", from_="client:nina", to=PATIENT_PHONE,
                      direction="inbound", sequence=2, at=END, duration=140)
    assert _call(twilio_app, parent).state == "leg"
    assert _call(twilio_app, child).state == "unconfirmed"
    assert _entries(twilio_app) == []
    view = twilio_app.service.calls.by_sid(child)
    assert view is not None
    outcome = twilio_app.service.calls.confirm(view.call_id, live=True, by=NURSE)
    assert outcome.call.state == "counted"
    assert [e.duration_seconds for e in _entries(twilio_app)] == [125]


@pytest.mark.parametrize("screening_first", [True, False])
def test_the_nurse_who_answered_gets_the_call_whichever_request_twilio_sends_first(
    twilio_app: TwilioApp, screening_first: bool,
) -> None:
    """Outside clinic month: the screening answer (press 1) arrived before the child leg's
    first status callback, the leg was stored without its numbers, and the call went to the
    non-clinical clerk who owns the clinic's main number: 300 s not counted, no live contact.
    Twilio does not order these requests, so the credit must not depend on their order."""
    twilio_app.service.staff.update(CLERK, StaffChanges(add_twilio_numbers=(CLINIC_NUMBER,)),
                                    actor="test")
    parent, child = new_sid(), new_sid()
    _ring(twilio_app, parent)
    answered = status_form(sid=child, parent=parent, status="in-progress", from_=PATIENT_PHONE,
                           to=NURSE_PHONE, direction="outbound-dial", sequence=2, at=END,
                           duration=None)
    screening = ("/twilio/voice/screen/answer", _child_form(child, parent, digits="1"))
    for path, form in ([screening, ("/twilio/voice/status", answered)] if screening_first
                       else [("/twilio/voice/status", answered), screening]):
        assert twilio_app.post(path, form).status_code == 200
    twilio_app.status(sid=child, parent=parent, status="completed", from_=PATIENT_PHONE,
                      to=NURSE_PHONE, direction="outbound-dial", sequence=3,
                      at=END + timedelta(minutes=5), duration=300)
    [entry] = _entries(twilio_app)
    with twilio_app.service.ctx.db.read_session() as session:
        credited = session.get(Staff, entry.staff_id)
    assert credited is not None and credited.slack_user_id == NURSE
    assert (entry.duration_seconds, entry.live) == (300, True)
    assert _call(twilio_app, child).state == "counted"
    summary = twilio_app.service.months.summary("P-1042")
    assert (summary.total_seconds, summary.live_interactions) == (300, 1)
