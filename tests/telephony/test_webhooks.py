"""Signed Twilio callbacks against the real app on loopback: what is stored and counted."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from rpm_logger.app import create_app
from service import Service
from service.calls import CallView
from store.models import AuditEvent, Call, Contact, TimeEntry
from tests.service.helpers import ADMIN, NURSE
from tests.telephony.conftest import (
    ACCOUNT_SID,
    CAREGIVER_PHONE,
    NURSE_PHONE,
    NURSE_TWILIO_NUMBER,
    PATIENT_PHONE,
    PUBLIC_BASE_URL,
    STRANGER_PHONE,
    TwilioApp,
    new_sid,
    sign,
    status_form,
    twilio_settings,
)

END = datetime(2026, 11, 20, 19, 30, tzinfo=UTC)
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def _entries(app: TwilioApp) -> list[TimeEntry]:
    with app.service.ctx.db.read_session() as session:
        return list(session.exec(select(TimeEntry)))


def _calls(app: TwilioApp) -> list[Call]:
    with app.service.ctx.db.read_session() as session:
        return list(session.exec(select(Call)))


def _inbound_completed(sid: str, *, from_: str = PATIENT_PHONE, to: str = NURSE_TWILIO_NUMBER,
                       duration: int = 312, sequence: int = 3) -> dict[str, str]:
    return status_form(sid=sid, status="completed", from_=from_, to=to, direction="inbound",
                       sequence=sequence, at=END, duration=duration)


def test_a_patient_call_answered_on_the_nurses_twilio_number_counts_once(
    twilio_app: TwilioApp,
) -> None:
    sid = new_sid()
    form = _inbound_completed(sid)
    first = twilio_app.post("/twilio/voice/status", form)
    assert first.status_code == 200 and first.text == EMPTY
    assert first.headers["content-type"].startswith("application/xml")
    retry = twilio_app.post("/twilio/voice/status", form)  # Twilio retries the same delivery
    assert retry.status_code == 200

    summary = twilio_app.service.months.summary("P-1042")
    assert (summary.total_seconds, summary.live_interactions) == (312, 1)
    [entry] = _entries(twilio_app)
    assert (entry.activity, entry.live, entry.source, entry.external_ref) == \
        ("call", True, "twilio", sid)
    assert entry.ended_at == END and entry.started_at == END - timedelta(seconds=312)
    assert entry.duration_seconds == 312
    [call] = _calls(twilio_app)
    assert (call.state, call.entry_id, call.from_number) == ("counted", entry.id, PATIENT_PHONE)


def test_a_caregiver_call_counts_for_the_patient(twilio_app: TwilioApp) -> None:
    twilio_app.post("/twilio/voice/status",
                    _inbound_completed(new_sid(), from_=CAREGIVER_PHONE, duration=95))
    summary = twilio_app.service.months.summary("P-1042")
    assert (summary.total_seconds, summary.live_interactions) == (95, 1)
    assert _calls(twilio_app)[0].matched_kind == "caregiver"


def test_a_call_to_the_nurses_twilio_client_counts(twilio_app: TwilioApp) -> None:
    twilio_app.post("/twilio/voice/status",
                    _inbound_completed(new_sid(), to="client:nina", duration=60))
    [call] = _calls(twilio_app)
    assert call.state == "counted" and call.to_number == "client:nina"
    assert twilio_app.service.months.summary("P-1042").total_seconds == 60


@pytest.mark.parametrize(("duration", "state", "seconds"), [(29, "short", 0), (30, "counted", 30),
                                                           (0, "short", 0)])
def test_calls_under_the_minimum_never_count(twilio_app: TwilioApp, duration: int, state: str,
                                             seconds: int) -> None:
    twilio_app.post("/twilio/voice/status", _inbound_completed(new_sid(), duration=duration))
    assert _calls(twilio_app)[0].state == state
    summary = twilio_app.service.months.summary("P-1042")
    assert summary.total_seconds == seconds
    assert summary.live_interactions == (1 if seconds else 0)


OUTBOUND_CASES = [
    # (CallStatus, AnsweredBy, CallDuration, state)
    ("completed", "human", 240, "counted"),
    ("completed", "machine_start", 40, "attempt"),
    ("completed", "machine_end_beep", 40, "attempt"),
    ("completed", "machine_end_silence", 40, "attempt"),
    ("completed", "machine_end_other", 40, "attempt"),
    ("completed", "fax", 40, "attempt"),
    ("completed", "unknown", 240, "unconfirmed"),
    ("completed", None, 240, "unconfirmed"),
    ("busy", None, 0, "attempt"),
    ("no-answer", None, 0, "attempt"),
    ("failed", None, 0, "attempt"),
    ("canceled", None, 0, "attempt"),
]


@pytest.mark.parametrize(("status", "answered_by", "duration", "state"), OUTBOUND_CASES)
def test_every_status_and_answered_by_on_a_leg_we_placed(
    twilio_app: TwilioApp, status: str, answered_by: str | None, duration: int, state: str,
) -> None:
    """A nurse's Twilio number calls the patient with answering-machine detection."""
    sid = new_sid()
    common = dict(sid=sid, from_=NURSE_TWILIO_NUMBER, to=PATIENT_PHONE, direction="outbound-api")
    for sequence, step in enumerate(["initiated", "ringing"]):
        assert twilio_app.status(status=step, sequence=sequence, at=END, **common) \
            .status_code == 200
    assert _calls(twilio_app)[0].state == "in_progress"  # nothing billable yet
    response = twilio_app.status(status=status, sequence=2, at=END, duration=duration,
                                 answered_by=answered_by, **common)
    assert response.status_code == 200
    [call] = _calls(twilio_app)
    assert (call.status, call.state) == (status, state)
    summary = twilio_app.service.months.summary("P-1042")
    counted = state == "counted"
    assert summary.total_seconds == (duration if counted else 0)
    assert summary.live_interactions == (1 if counted else 0)
    assert len(_entries(twilio_app)) == (1 if counted else 0)


def test_out_of_order_deliveries_record_the_final_state_once(twilio_app: TwilioApp) -> None:
    sid = new_sid()
    common = dict(sid=sid, from_=PATIENT_PHONE, to=NURSE_TWILIO_NUMBER, direction="inbound")
    twilio_app.status(status="completed", sequence=3, at=END, duration=200, **common)
    twilio_app.status(status="ringing", sequence=1, at=END - timedelta(minutes=4), **common)
    twilio_app.status(status="in-progress", sequence=2, at=END - timedelta(minutes=3), **common)
    twilio_app.status(status="initiated", sequence=0, at=END - timedelta(minutes=4), **common)
    [call] = _calls(twilio_app)
    assert (call.status, call.state, call.sequence_number) == ("completed", "counted", 3)
    assert [e.duration_seconds for e in _entries(twilio_app)] == [200]


def test_an_unmatched_number_is_kept_and_counts_once_attached(twilio_app: TwilioApp) -> None:
    sid = new_sid()
    twilio_app.post("/twilio/voice/status",
                    _inbound_completed(sid, from_=STRANGER_PHONE, duration=150))
    [view] = twilio_app.service.calls.unmatched()
    assert view.call_sid == sid and view.from_masked == "+1******0777"
    assert view.staff == NURSE and view.patient is None
    assert twilio_app.service.months.summary("P-1042").total_seconds == 0

    outcome = twilio_app.service.calls.attach(view.call_id, "p-1042", by=ADMIN)
    assert outcome.call.state == "counted" and outcome.changed
    summary = twilio_app.service.months.summary("P-1042")
    assert (summary.total_seconds, summary.live_interactions) == (150, 1)
    assert twilio_app.service.calls.unmatched() == []


def test_a_call_with_no_staff_member_is_unclaimed_until_claimed(twilio_app: TwilioApp) -> None:
    twilio_app.post("/twilio/voice/status",
                    _inbound_completed(new_sid(), to="+16175550188", duration=90))
    [view] = twilio_app.service.calls.unclaimed()
    assert view.patient is not None and view.patient.patient_id == "P-1042"
    assert twilio_app.service.months.summary("P-1042").total_seconds == 0
    outcome = twilio_app.service.calls.claim(view.call_id, by=NURSE)
    assert (outcome.call.state, outcome.call.staff) == ("counted", NURSE)
    assert twilio_app.service.months.summary("P-1042").total_seconds == 90


def test_sms_is_a_non_qualifying_contact(twilio_app: TwilioApp) -> None:
    form = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "Body": "BP was high today",
            "From": PATIENT_PHONE, "To": NURSE_TWILIO_NUMBER, "MessageSid": new_sid("SM"),
            "SmsSid": "", "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received"}
    form["SmsSid"] = form["MessageSid"]
    for _ in range(2):  # a retry stores nothing twice
        response = twilio_app.post("/twilio/messaging", form)
        assert response.status_code == 200
        assert response.text == EMPTY
    with twilio_app.service.ctx.db.read_session() as session:
        [contact] = session.exec(select(Contact)).all()
        assert contact.kind == "sms" and contact.patient_id is not None
        audits = session.exec(select(AuditEvent).where(AuditEvent.entity == "contact")).all()
        assert len(audits) == 1 and "BP was high" not in str(audits[0].after)
        assert audits[0].after["from_number"] == "+1******0123"
    summary = twilio_app.service.months.summary("P-1042")
    assert (summary.live_interactions, summary.total_seconds) == (0, 0)
    assert _calls(twilio_app) == []


# -- signatures and accounts ---------------------------------------------------------------


def _refused(app: TwilioApp, response_status: int) -> None:
    assert response_status == 403
    assert _calls(app) == [] and _entries(app) == []


def test_a_missing_signature_is_refused_and_nothing_recorded(twilio_app: TwilioApp) -> None:
    response = twilio_app.post("/twilio/voice/status", _inbound_completed(new_sid()),
                               signature=None)
    _refused(twilio_app, response.status_code)


def test_a_forged_signature_is_refused(twilio_app: TwilioApp) -> None:
    form = _inbound_completed(new_sid())
    forged = sign(PUBLIC_BASE_URL + "/twilio/voice/status", form, token="not-the-token")
    _refused(twilio_app, twilio_app.post("/twilio/voice/status", form,
                                         signature=forged).status_code)


def test_a_signature_over_the_loopback_url_is_refused(twilio_app: TwilioApp) -> None:
    """Signed for the URL the app sees, not the public one Twilio used."""
    form = _inbound_completed(new_sid())
    response = twilio_app.post("/twilio/voice/status", form,
                               signed_url=twilio_app.base_url + "/twilio/voice/status")
    _refused(twilio_app, response.status_code)


def test_a_signature_for_another_path_or_query_is_refused(twilio_app: TwilioApp) -> None:
    form = _inbound_completed(new_sid())
    response = twilio_app.post("/twilio/voice/status", form,
                               signed_url=PUBLIC_BASE_URL + "/twilio/voice/status?x=1")
    _refused(twilio_app, response.status_code)


def test_a_parameter_changed_after_signing_is_refused(twilio_app: TwilioApp) -> None:
    form = _inbound_completed(new_sid(), duration=60)
    signature = sign(PUBLIC_BASE_URL + "/twilio/voice/status", form)
    form["CallDuration"] = "3600"
    _refused(twilio_app, twilio_app.post("/twilio/voice/status", form,
                                         signature=signature).status_code)


def test_a_parameter_twilio_added_without_notice_is_signed_and_accepted(
    twilio_app: TwilioApp,
) -> None:
    form = _inbound_completed(new_sid(), duration=61)
    form["StirVerstat"] = "TN-Validation-Passed-A"
    form["SomethingNew2027"] = "yes"
    assert twilio_app.post("/twilio/voice/status", form).status_code == 200
    assert twilio_app.service.months.summary("P-1042").total_seconds == 61


def test_the_query_string_is_part_of_the_signed_url(twilio_app: TwilioApp) -> None:
    form = _inbound_completed(new_sid(), duration=62)
    assert twilio_app.post("/twilio/voice/status?clinic=main", form).status_code == 200
    assert twilio_app.service.months.summary("P-1042").total_seconds == 62


def test_another_account_is_refused_even_when_correctly_signed(twilio_app: TwilioApp) -> None:
    form = _inbound_completed(new_sid())
    form["AccountSid"] = "AC" + "f" * 32
    _refused(twilio_app, twilio_app.post("/twilio/voice/status", form).status_code)


@pytest.mark.parametrize("path", ["/twilio/voice/incoming", "/twilio/messaging",
                                  "/twilio/voice/screen", "/twilio/voice/screen/answer"])
def test_every_twilio_route_checks_the_signature(twilio_app: TwilioApp, path: str) -> None:
    form = {"AccountSid": ACCOUNT_SID, "CallSid": new_sid(), "From": PATIENT_PHONE,
            "To": NURSE_PHONE, "MessageSid": new_sid("SM"), "Digits": "1"}
    _refused(twilio_app, twilio_app.post(path, form, signature="bm9wZQ==").status_code)


def test_views_mask_numbers(twilio_app: TwilioApp) -> None:
    twilio_app.post("/twilio/voice/status", _inbound_completed(new_sid()))
    [view] = twilio_app.service.calls.in_states()
    assert isinstance(view, CallView)
    assert PATIENT_PHONE not in repr(view) and view.from_masked == "+1******0123"
    with twilio_app.service.ctx.db.read_session() as session:
        for event in session.exec(select(AuditEvent).where(AuditEvent.entity == "call")):
            assert PATIENT_PHONE not in str(event.after) and PATIENT_PHONE not in \
                str(event.before)


def test_without_public_base_url_the_twilio_routes_stay_not_configured(svc: Service) -> None:
    """The signed URL cannot be rebuilt without it, so nothing is accepted."""
    settings = twilio_settings(public_base_url=None)
    with TestClient(create_app(settings, service=svc)) as client:
        response = client.post("/twilio/voice/status", data={"AccountSid": ACCOUNT_SID})
    assert response.status_code == 503 and "not configured" in response.json()["error"]
