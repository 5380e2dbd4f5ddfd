"""Calls in Slack over real signed HTTP: the DM's Yes / No / Add note buttons and modal, and
`/rpm calls unmatched|attach|claim` and `/rpm call` (click-to-call through the real twilio
client against the recording Twilio API)."""

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from configuration.settings import Settings
from presentation import blocks
from presentation.blocks import ADD_NOTE_ACTION, CONFIRM_LIVE_ACTION, REJECT_LIVE_ACTION
from rpm_logger.app import create_app
from service import Service
from service.calls import CallEvent
from service.staff import StaffChanges
from tests.bot.conftest import SlackSender, all_text, serve
from tests.bot.helpers import standing, writes_fail
from tests.fakes.slack_api import RecordedCall, SlackApiRecorder
from tests.fakes.twilio_api import TwilioApiRecorder
from tests.service.helpers import ADMIN, DOCTOR, NURSE
from tests.telephony.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALL_END,
    CLINIC_NUMBER,
    NURSE_PHONE,
    NURSE_TWILIO_NUMBER,
    PATIENT_PHONE,
    PUBLIC_BASE_URL,
    STRANGER_PHONE,
    new_sid,
    record_outbound,
)

END = CALL_END  # 14:30 in the clinic (New York)


@pytest.fixture
def clinic(seeded: Service) -> Service:
    seeded.staff.update(NURSE, StaffChanges(add_twilio_numbers=(NURSE_TWILIO_NUMBER,)),
                        actor="test")
    return seeded


def _response(slack: SlackSender, response_url: str | None) -> RecordedCall:
    assert response_url is not None
    [posted] = slack.wait_for("/" + response_url.split("/", 3)[3])
    return posted


# -- the DM's buttons -----------------------------------------------------------------------

def test_yes_counts_the_call_and_the_dm_shows_it(slack: SlackSender, clinic: Service) -> None:
    call_id = record_outbound(clinic)
    assert clinic.calls.get(call_id).state == "unconfirmed"
    sent = slack.action(CONFIRM_LIVE_ACTION, call_id, channel="D01NURSE")
    assert sent.response.status_code == 200
    posted = _response(slack, sent.response_url)
    assert posted.body["replace_original"] is True
    assert posted.body["text"] == ("✅ Counted as a live interaction: C-1 · P-1042 (JD) · "
                                   "3 min 20 s (entry #1).")
    [actions] = [b for b in posted.body["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [ADD_NOTE_ACTION]
    summary = clinic.months.summary("P-1042")
    assert (summary.total_seconds, summary.live_interactions) == (200, 1)

    again = slack.action(CONFIRM_LIVE_ACTION, call_id, channel="D01NURSE")
    posted = _response(slack, again.response_url)
    assert posted.body["replace_original"] is False
    assert posted.body["response_type"] == "ephemeral"
    assert "C-1 is counted, not waiting for a confirmation." in posted.body["text"]
    assert len(standing(clinic)) == 1  # a double click counts nothing twice


def test_no_keeps_the_call_as_an_attempt(slack: SlackSender, clinic: Service) -> None:
    call_id = record_outbound(clinic, answered_by="unknown")
    sent = slack.action(REJECT_LIVE_ACTION, call_id, channel="D01NURSE")
    posted = _response(slack, sent.response_url)
    assert posted.body["replace_original"] is True
    assert posted.body["text"].startswith("Recorded as not live: C-1 · P-1042 (JD)")
    assert clinic.calls.get(call_id).state == "not_live"
    assert clinic.months.summary("P-1042").live_interactions == 0


def test_yes_on_a_call_to_an_unknown_number_waits_for_an_admin(slack: SlackSender,
                                                              clinic: Service) -> None:
    call_id = record_outbound(clinic, to=STRANGER_PHONE)
    posted = _response(slack, slack.action(CONFIRM_LIVE_ACTION, call_id).response_url)
    assert posted.body["text"] == (
        "Confirmed as live: C-1 · an unknown number · 3 min 20 s. The number matched no "
        "patient, so it counts once an admin attaches it (`/rpm calls attach C-1 PATIENT_ID`).")
    assert clinic.calls.get(call_id).state == "unmatched"
    attached = slack.command("calls attach C-1 P-1042", user=ADMIN)
    assert "It counts now: entry #1." in attached.text


@pytest.mark.parametrize(("user", "says"), [
    (DOCTOR, "Only the staff member on the call (or an admin) confirms it."),
    ("U09NOBODY", "You are not set up as clinic staff"),
])
def test_only_the_nurse_on_the_call_answers(slack: SlackSender, clinic: Service, user: str,
                                            says: str) -> None:
    call_id = record_outbound(clinic)
    posted = _response(slack, slack.action(CONFIRM_LIVE_ACTION, call_id, user=user).response_url)
    assert says in all_text(posted.body)
    assert posted.body["replace_original"] is False
    assert clinic.calls.get(call_id).state == "unconfirmed"


def test_a_bad_call_id_and_a_database_outage_are_explained(slack: SlackSender,
                                                           clinic: Service) -> None:
    call_id = record_outbound(clinic)
    posted = _response(slack, slack.action(CONFIRM_LIVE_ACTION, "C-99").response_url)
    assert "No call C-99." in posted.body["text"]
    with writes_fail(clinic.ctx.db):
        posted = _response(slack, slack.action(CONFIRM_LIVE_ACTION, call_id).response_url)
    assert "*not saved — try again*" in posted.body["text"]
    assert "Traceback" not in all_text(posted.body)
    assert posted.body["replace_original"] is False
    assert clinic.calls.get(call_id).state == "unconfirmed"


def test_add_note_opens_a_modal_and_keeps_the_note(slack: SlackSender, slack_api:
                                                   SlackApiRecorder, clinic: Service) -> None:
    call_id = record_outbound(clinic, answered_by="human")
    assert clinic.calls.get(call_id).state == "counted"
    slack.action(ADD_NOTE_ACTION, call_id, channel="D01NURSE")
    [opened] = slack.wait_for("views.open")
    assert opened.body["trigger_id"] == "1.2.3"
    view = opened.body["view"]  # views.open is sent as JSON
    assert (view["callback_id"], view["private_metadata"]) == (blocks.CALL_NOTE_CALLBACK,
                                                                call_id)
    assert view["blocks"][0]["element"]["action_id"] == blocks.CALL_NOTE_INPUT

    sent = slack.view_submission(blocks.CALL_NOTE_CALLBACK, call_id, {
        blocks.CALL_NOTE_BLOCK: {blocks.CALL_NOTE_INPUT: "Reviewed BP log; dose unchanged."}})
    assert sent.response.status_code == 200 and sent.body == {}  # the modal closes
    assert clinic.calls.get(call_id).note == "Reviewed BP log; dose unchanged."
    [dm] = slack.wait_for("chat.postMessage")
    assert dm.body["channel"] == NURSE
    assert dm.body["text"] == "📝 Note saved on C-1 · P-1042 (JD) · 3 min 20 s."


@pytest.mark.parametrize(("user", "note", "says"), [
    (DOCTOR, "mine", "Only the staff member on the call (or an admin) adds notes."),
    (NURSE, "   ", "The note is empty."),
])
def test_a_refused_note_stays_in_the_modal(slack: SlackSender, slack_api: SlackApiRecorder,
                                           clinic: Service, user: str, note: str,
                                           says: str) -> None:
    call_id = record_outbound(clinic, answered_by="human")
    sent = slack.view_submission(blocks.CALL_NOTE_CALLBACK, call_id, {
        blocks.CALL_NOTE_BLOCK: {blocks.CALL_NOTE_INPUT: note}}, user=user)
    assert sent.body["response_action"] == "errors"
    assert says in sent.body["errors"][blocks.CALL_NOTE_BLOCK]
    assert clinic.calls.get(call_id).note is None
    assert slack_api.calls_to("chat.postMessage") == []


def test_a_note_during_an_outage_says_not_saved(slack: SlackSender, clinic: Service) -> None:
    call_id = record_outbound(clinic, answered_by="human")
    with writes_fail(clinic.ctx.db):
        sent = slack.view_submission(blocks.CALL_NOTE_CALLBACK, call_id, {
            blocks.CALL_NOTE_BLOCK: {blocks.CALL_NOTE_INPUT: "discussed BP"}})
    assert "not saved — try again" in sent.body["errors"][blocks.CALL_NOTE_BLOCK]
    assert clinic.calls.get(call_id).note is None


# -- /rpm calls ... -------------------------------------------------------------------------

def test_admins_list_unmatched_calls_without_any_phone_digits(slack: SlackSender,
                                                              clinic: Service) -> None:
    call_id = record_outbound(clinic, answered_by="human", to=STRANGER_PHONE)
    assert clinic.calls.get(call_id).state == "unmatched"
    listed = slack.command("calls unmatched", user=ADMIN)
    assert "*Unmatched calls* (1), newest first\n• *C-1* 2026-11-20 14:26 EST · " \
           "3 min 20 s · outbound" in listed.text
    # one call, one noun (outside auditor's retry of issue 26: "1 unmatched calls")
    assert "1 unmatched call" in listed.text and "1 unmatched calls" not in listed.text
    for digits in ("0777", "617", "555", "0199"):
        assert digits not in listed.text
    refused = slack.command("calls unmatched")
    assert "Only an admin may do that. Admins: <@U04ADMIN>." in refused.text
    assert "C-1" not in refused.text


def test_an_unknown_caller_through_the_clinic_number_is_listed_inbound(
        slack: SlackSender, clinic: Service) -> None:
    """Outside clinic month: a stranger's call to the clinic number (a bridge: the caller's
    inbound leg, then the dialed outbound-dial leg) was listed "outbound", the dialed leg's
    own direction; the list says which way the call went for the clinic."""
    parent, child = new_sid(), new_sid()
    clinic.calls.route_incoming(CallEvent(
        call_sid=parent, status="ringing", direction="inbound", from_number=STRANGER_PHONE,
        to_number=CLINIC_NUMBER, account_sid=ACCOUNT_SID), fallback="+16175550188")
    clinic.calls.record_screening(CallEvent(
        call_sid=child, status="in-progress", parent_call_sid=parent,
        from_number=STRANGER_PHONE, to_number="+16175550188"), accepted=True)
    clinic.calls.record_status(CallEvent(
        call_sid=child, status="completed", direction="outbound-dial", parent_call_sid=parent,
        from_number=STRANGER_PHONE, to_number="+16175550188", duration_seconds=200,
        sequence_number=3, timestamp=END, account_sid=ACCOUNT_SID))
    assert clinic.calls.get("C-2").state == "unmatched"  # a person at the front desk answered
    record_outbound(clinic, answered_by="human", to=STRANGER_PHONE)  # the clinic called out
    listed = slack.command("calls unmatched", user=ADMIN).text
    assert "• *C-2* 2026-11-20 15:00 EST · 3 min 20 s · inbound" in listed
    assert "• *C-3* 2026-11-20 14:26 EST · 3 min 20 s · outbound" in listed


def test_no_unmatched_calls_says_so(slack: SlackSender, clinic: Service) -> None:
    assert "No unmatched calls" in slack.command("calls unmatched", user=ADMIN).text


def test_an_admin_attaches_an_unmatched_call(slack: SlackSender, clinic: Service) -> None:
    call_id = record_outbound(clinic, answered_by="human", to=STRANGER_PHONE)
    refused = slack.command(f"calls attach {call_id} P-1042")
    assert "Only an admin attaches a call to a patient." in refused.text
    assert "No patient 'P-9'" in slack.command("calls attach C-1 P-9", user=ADMIN).text
    assert "'X1' is not a call id (such as C-12)." in slack.command(
        "calls attach X1 P-1042", user=ADMIN).text
    assert clinic.calls.get(call_id).state == "unmatched"
    attached = slack.command("calls attach c1 p-1042", user=ADMIN)
    assert "📎 Attached C-1 to *P-1042 (JD)*. It counts now: entry #1." in attached.text
    assert clinic.months.summary("P-1042").live_interactions == 1
    assert "not unmatched" in slack.command("calls attach C-1 P-1042", user=ADMIN).text
    phone = slack.command(f"calls attach C-1 {PATIENT_PHONE}", user=ADMIN)
    assert "phone numbers are PHI" in phone.text


def test_a_nurse_claims_a_call_nobody_was_on_record_for(slack: SlackSender,
                                                        clinic: Service) -> None:
    sid = new_sid()
    clinic.calls.record_status(CallEvent(
        call_sid=sid, status="completed", direction="inbound", from_number=PATIENT_PHONE,
        to_number="+16175550188", duration_seconds=120, timestamp=END))
    assert clinic.calls.get("C-1").state == "unclaimed"
    claimed = slack.command("calls claim C-1")
    assert "🙋 C-1 is now on record as yours (P-1042 (JD)). It counts now: entry #1." \
        in claimed.text
    assert clinic.months.summary("P-1042").total_seconds == 120
    assert "already on record" in slack.command("calls claim C-1", user=DOCTOR).text
    assert "Use `calls unmatched`" in slack.command("calls claim").text


# -- /rpm call PATIENT (click-to-call) ------------------------------------------------------

def test_click_to_call_without_twilio_says_it_is_not_set_up(slack: SlackSender,
                                                            clinic: Service) -> None:
    reply = slack.command("call P-1042")
    assert "Click-to-call is not set up for this clinic" in reply.text
    assert clinic.calls.in_states() == []


@pytest.fixture
def twilio_api() -> Iterator[TwilioApiRecorder]:
    recorder = TwilioApiRecorder(ACCOUNT_SID).start()
    yield recorder
    recorder.stop()


def _twilio_slack(svc: Service, slack_api: SlackApiRecorder, api_url: str) -> Any:
    settings = Settings(slack_signing_secret="test-signing-secret", slack_bot_token="xoxb-test",
                        slack_api_url=slack_api.base_url, twilio_account_sid=ACCOUNT_SID,
                        twilio_auth_token=SecretStr(AUTH_TOKEN), public_base_url=PUBLIC_BASE_URL,
                        twilio_caller_id=CLINIC_NUMBER, twilio_api_url=api_url)
    return serve(create_app(settings, service=svc))


def test_click_to_call_rings_the_nurse_then_the_patient(
    clinic: Service, slack_api: SlackApiRecorder, twilio_api: TwilioApiRecorder,
) -> None:
    with _twilio_slack(clinic, slack_api, twilio_api.base_url) as url:
        slack = SlackSender(url, slack_api)
        reply = slack.command("call p-1042")
        refused = slack.command("call P-1042", user=DOCTOR)  # no phone on record
        slack.http.close()
    assert "📞 Calling your phone now (C-1); answer it and I will connect *P-1042 (JD)*." \
        in reply.text
    assert "U02DOCTOR has no phone on record" in refused.text
    [create] = [r for r in twilio_api.requests if r.method == "POST"]
    assert create.form["To"] == [NURSE_PHONE] and create.form["From"] == [CLINIC_NUMBER]
    number = ET.fromstring(create.form["Twiml"][0]).find("./Dial/Number")
    assert number is not None and number.text == PATIENT_PHONE
    assert PATIENT_PHONE not in reply.text and "617" not in reply.text
    [call] = clinic.calls.in_states()
    assert (call.call_id, call.staff, call.patient_label) == ("C-1", NURSE, "P-1042 (JD)")


def test_click_to_call_answered_without_a_sid_says_what_failed(
    clinic: Service, slack_api: SlackApiRecorder, twilio_api: TwilioApiRecorder,
) -> None:
    """Issue 13 item 12: Twilio's answer without `sid` read as "database not answering"."""
    twilio_api.create_omits = ("sid",)
    with _twilio_slack(clinic, slack_api, twilio_api.base_url) as url:
        slack = SlackSender(url, slack_api)
        reply = slack.command("call P-1042")
        slack.http.close()
    assert "Twilio answered without a call id (sid)" in reply.text
    assert "database" not in reply.text and "not saved" not in reply.text
    assert clinic.calls.in_states() == []


def test_click_to_call_with_twilio_down_dials_nothing(clinic: Service,
                                                      slack_api: SlackApiRecorder) -> None:
    with _twilio_slack(clinic, slack_api, "http://127.0.0.1:9") as url:
        slack = SlackSender(url, slack_api)
        reply = slack.command("call P-1042")
        slack.http.close()
    assert "Twilio did not accept the call just now" in reply.text
    assert clinic.calls.in_states() == []
