"""Signed forms Twilio would not send: refused before the service, never a 500.

A multipart body or a bogus signature is refused unparsed (403); a signed form with a value
the database cannot hold, an unknown value, a field name outside Twilio's shape or a missing
field the route relies on is refused with 400 and nothing stored on the status and messaging
callbacks, while /twilio/voice/incoming still rings the fallback number.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from twilio.request_validator import RequestValidator

from store.models import AuditEvent, Call, Contact, TimeEntry
from tests.conftest import FrozenClock
from tests.telephony.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CLINIC_NUMBER,
    FALLBACK_NUMBER,
    NURSE_TWILIO_NUMBER,
    PATIENT_PHONE,
    PUBLIC_BASE_URL,
    TwilioApp,
    new_sid,
    sign,
    status_form,
    twilio_time,
)

ROUTES = ["/twilio/voice/status", "/twilio/voice/incoming", "/twilio/voice/screen",
          "/twilio/voice/screen/answer", "/twilio/messaging"]
END = datetime(2026, 11, 20, 19, 30, tzinfo=UTC)


def _rows(app: TwilioApp) -> tuple[int, ...]:
    with app.service.ctx.db.read_session() as session:
        return tuple(len(session.exec(select(model)).all())
                     for model in (Call, Contact, TimeEntry, AuditEvent))


def _completed(**changes: str) -> dict[str, str]:
    form = status_form(sid=new_sid(), status="completed", from_=PATIENT_PHONE,
                       to=NURSE_TWILIO_NUMBER, direction="inbound", sequence=3, at=END,
                       duration=312)
    form.update(changes)
    return form


def _sms(**changes: str) -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "MessageSid": new_sid("SM"), "SmsSid": new_sid("SM"),
            "From": PATIENT_PHONE, "To": NURSE_TWILIO_NUMBER, "Body": "ok", **changes}


# -- item 7: a multipart form (a file part) with a bogus signature -------------------------

@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("signature", ["bm9wZQ==", None])
def test_a_multipart_form_is_refused_unparsed(twilio_app: TwilioApp, path: str,
                                              signature: str | None) -> None:
    before = _rows(twilio_app)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    response = twilio_app.http.post(
        twilio_app.base_url + path, data={"AccountSid": ACCOUNT_SID, "CallSid": new_sid()},
        files={"upload": ("a.txt", b"hello", "text/plain")}, headers=headers)
    assert response.status_code == 403
    assert _rows(twilio_app) == before


@pytest.mark.parametrize("body", [b"\xff\xfe=\xff", b"AccountSid=%ZZ&%%%=1", b"a" * 5000])
def test_an_unreadable_form_with_a_bogus_signature_is_403(twilio_app: TwilioApp,
                                                          body: bytes) -> None:
    response = twilio_app.http.post(
        twilio_app.base_url + "/twilio/voice/status", content=body,
        headers={"X-Twilio-Signature": "bm9wZQ==",
                 "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 403


# -- item 8: values out of range -------------------------------------------------------------

TOO_BIG = [
    ("CallSid", "CA" + "a" * 63), ("ParentCallSid", "CA" + "b" * 63),
    ("CallStatus", "c" * 33), ("Direction", "d" * 33), ("AnsweredBy", "e" * 33),
    ("SequenceNumber", str(2**31)), ("SequenceNumber", str(2**63)),
    ("CallDuration", str(2**31)), ("CallDuration", str(2**63)), ("CallDuration", "-5"),
    ("CallDuration", "\u0663\u0660"), ("Timestamp", "Mon, 01 Jan 0001 00:00:00 +0000"),
    ("Timestamp", "0001-01-01T00:00:00+05:00"), ("Timestamp", "not a date"),
    ("CallStatus", "exploded"), ("Direction", "sideways"), ("AnsweredBy", "robot"),
    ("From", "+1" * 71), ("CallSid", "PN" + "a" * 32), ("CallSid", ""),
    ("CallStatus", ""), ("To", "+16175550101\x00"),
    # attack finding 1: email.utils raises OverflowError on these, not ValueError
    ("Timestamp", "Fri, 20 Nov 2026 19:30:00 +99999999999999999"),
    ("Timestamp", "Fri, 20 Nov 99999999999999 19:30:00 +0000"),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(TOO_BIG)]


@pytest.mark.parametrize(("name", "value"), TOO_BIG, ids=IDS)
def test_a_status_callback_out_of_range_is_400_and_stores_nothing(
        twilio_app: TwilioApp, name: str, value: str) -> None:
    before = _rows(twilio_app)
    response = twilio_app.post("/twilio/voice/status", _completed(**{name: value}))
    assert response.status_code == 400
    assert name in response.text  # the field is named; a long value is not echoed
    assert len(value) < 20 or value not in response.text
    assert _rows(twilio_app) == before


@pytest.mark.parametrize(("name", "value"), [
    ("MessageSid", "SM" + "a" * 63), ("MessageSid", ""), ("MessageSid", "CA" + "a" * 32),
    ("From", "9" * 141), ("To", ""), ("Body\u00e9", "x"), ("from", PATIENT_PHONE)])
def test_an_sms_out_of_range_is_400_and_stores_nothing(twilio_app: TwilioApp, name: str,
                                                      value: str) -> None:
    before = _rows(twilio_app)
    assert twilio_app.post("/twilio/messaging", _sms(**{name: value})).status_code == 400
    assert _rows(twilio_app) == before


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, v in TOO_BIG
                                             if v or n == "CallSid"])
def test_an_incoming_call_out_of_range_still_rings_the_fallback(
        twilio_app: TwilioApp, name: str, value: str) -> None:
    form = {"AccountSid": ACCOUNT_SID, "CallSid": new_sid(), "CallStatus": "ringing",
            "Direction": "inbound", "From": PATIENT_PHONE, "To": CLINIC_NUMBER, name: value}
    before = _rows(twilio_app)
    response = twilio_app.post("/twilio/voice/incoming", form)
    assert response.status_code == 200
    assert "<Number" in response.text and FALLBACK_NUMBER in response.text
    assert _rows(twilio_app) == before


@pytest.mark.parametrize("path", ["/twilio/voice/screen", "/twilio/voice/screen/answer"])
@pytest.mark.parametrize("bad", [{"CallSid": "CA" + "a" * 63},
                                 {"Timestamp": "Fri, 20 Nov 2026 19:30:00 +99999999999999999"}])
def test_the_screening_routes_keep_the_call_going_on_a_bad_form(
        twilio_app: TwilioApp, path: str, bad: dict[str, str]) -> None:
    form = {"AccountSid": ACCOUNT_SID, "CallSid": new_sid(), "ParentCallSid": new_sid(),
            "CallStatus": "in-progress", "Digits": "1", **bad}
    before = _rows(twilio_app)
    response = twilio_app.post(path, form)
    assert response.status_code == 200 and "<Response" in response.text
    assert _rows(twilio_app) == before


def _ended_at(app: TwilioApp, sid: str) -> datetime | None:
    with app.service.ctx.db.read_session() as session:
        call = session.exec(select(Call).where(Call.call_sid == sid)).one()
        return call.ended_at.astimezone(UTC) if call.ended_at else None


@pytest.mark.parametrize(("ahead", "kept"), [(timedelta(minutes=10), False),
                                             (timedelta(days=400), False),
                                             (timedelta(minutes=4), True)])
def test_a_timestamp_more_than_five_minutes_ahead_is_the_time_of_receipt(
        twilio_app: TwilioApp, clock: FrozenClock, ahead: timedelta, kept: bool) -> None:
    form = _completed(Timestamp=twilio_time(clock.now + ahead))
    assert twilio_app.post("/twilio/voice/status", form).status_code == 200
    assert _ended_at(twilio_app, form["CallSid"]) == (clock.now + ahead if kept else clock.now)


# -- item 15: Twilio's field-name shape and each route's required fields --------------------

def test_a_re_split_form_keeps_its_signature_but_is_refused(twilio_app: TwilioApp) -> None:
    """The signature is over names and values concatenated: `From=+16175550123` re-split
    as `From+1617555=0123` signs the same, and would store a call with no caller."""
    url = PUBLIC_BASE_URL + "/twilio/voice/status"
    form = _completed()
    del form["Caller"], form["FromCity"], form["FromCountry"], form["FromState"]
    del form["FromZip"]
    signature = sign(url, form)
    resplit = {k: v for k, v in form.items() if k != "From"}
    resplit["From+1617555"] = "0123"
    assert RequestValidator(AUTH_TOKEN).validate(url, resplit, signature)  # the weakness
    before = _rows(twilio_app)
    response = twilio_app.post("/twilio/voice/status", resplit, signature=signature)
    assert response.status_code == 400
    assert _rows(twilio_app) == before


@pytest.mark.parametrize("name", ["callstatus", "1Field", "X-Custom", "Answered By",
                                  "AnsweredBy=machine_start", "Émile", ""])
def test_a_field_name_outside_twilios_shape_is_400(twilio_app: TwilioApp, name: str) -> None:
    before = _rows(twilio_app)
    response = twilio_app.post("/twilio/voice/status", _completed(**{name: "x"}))
    assert response.status_code == 400
    assert _rows(twilio_app) == before


@pytest.mark.parametrize("missing", ["CallSid", "CallStatus"])
def test_a_status_callback_without_a_field_it_relies_on_is_400(twilio_app: TwilioApp,
                                                               missing: str) -> None:
    form = _completed()
    del form[missing]
    before = _rows(twilio_app)
    assert twilio_app.post("/twilio/voice/status", form).status_code == 400
    assert _rows(twilio_app) == before


def test_twilios_own_names_pass(twilio_app: TwilioApp) -> None:
    form = _completed(MediaUrl0="https://api.twilio.com/x", SipHeader_X="1",
                      StirVerstat="TN-Validation-Passed-A")
    assert twilio_app.post("/twilio/voice/status", form).status_code == 200
    assert twilio_app.service.months.summary("P-1042").total_seconds == 312


def _state(app: TwilioApp, sid: str) -> str:
    with app.service.ctx.db.read_session() as session:
        return session.exec(select(Call).where(Call.call_sid == sid)).one().state


def test_what_re_splitting_still_allows_is_an_unconfirmed_call(twilio_app: TwilioApp) -> None:
    """Attack finding 7 (docs/security.md, "What remains"): an optional field can still be
    folded into the next field's name (`AnsweredBy=machine_start&ApiVersion=2010-04-01` re-sent
    as `AnsweredBymachine_startApiVersion=2010-04-01`, same signature). The call then has no
    machine verdict: it is stored unconfirmed, counts nothing until the staff member confirms
    it was live, and never counts as the voicemail it was."""
    url = PUBLIC_BASE_URL + "/twilio/voice/status"
    form = status_form(sid=new_sid(), status="completed", from_=NURSE_TWILIO_NUMBER,
                       to=PATIENT_PHONE, direction="outbound-api", sequence=3, at=END,
                       duration=240, answered_by="machine_start")
    signature = sign(url, form)
    folded = {k: v for k, v in form.items() if k not in ("AnsweredBy", "ApiVersion")}
    folded["AnsweredBymachine_startApiVersion"] = "2010-04-01"
    assert RequestValidator(AUTH_TOKEN).validate(url, folded, signature)  # the weakness
    assert twilio_app.post("/twilio/voice/status", folded, signature=signature).status_code \
        == 200
    assert _state(twilio_app, form["CallSid"]) == "unconfirmed"
    assert twilio_app.service.months.summary("P-1042").total_seconds == 0
