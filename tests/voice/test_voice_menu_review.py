"""The outside nurse's findings on the voice menu, each walked by phone through the real app
(signed requests on loopback), on SQLite and PostgreSQL."""

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date

import pytest
from sqlmodel import select

from service.patients import PatientFields
from service.voice_menu import spoken_text
from store.models import TimeEntry
from telephony import twiml
from tests.service.helpers import NURSE
from tests.telephony.conftest import (
    ACCOUNT_SID,
    NURSE_PHONE,
    PATIENT_PHONE,
    TwilioApp,
    new_sid,
)
from tests.voice.conftest import NURSE_PIN
from tests.voice.phone import Phone, assert_every_say_has_the_voice

Dial = Callable[..., Phone]


def _entries(app: TwilioApp) -> list[TimeEntry]:
    with app.service.ctx.db.read_session() as session:
        return list(session.exec(select(TimeEntry)))


def _at_menu(phone: Dial) -> Phone:
    call = phone().dial().press(NURSE_PIN)
    assert "Main menu" in call.said
    return call


# -- 2. spoken numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(("speech", "heard"), [
    ("two hundred forty", "240 minutes."), ("one hundred", "100 minutes."),
    ("1 hour", "60 minutes."), ("an hour and a half", "90 minutes."),
    ("twenty five minutes", "25 minutes."),
])
def test_spoken_minutes_are_heard_whole(menu_app: TwilioApp, phone: Dial, speech: str,
                                        heard: str) -> None:
    call = _at_menu(phone).press("1").press("1042").say(speech)
    assert call.said.startswith(heard) and "Which activity" in call.said
    call.press("1").press("1")
    [entry] = _entries(menu_app)
    assert entry.duration_seconds == int(heard.split()[0]) * 60


@pytest.mark.parametrize(("speech", "reason"), [
    ("five six", "I heard more than one number."),
    ("about twenty", "I heard words that are not a number of minutes."),
    ("three hundred", "300 minutes cannot be logged. Minutes go from 1 to 240."),
])
def test_minutes_not_surely_heard_are_asked_again_with_the_reason(
        menu_app: TwilioApp, phone: Dial, speech: str, reason: str) -> None:
    call = _at_menu(phone).press("1").press("1042").say(speech)
    assert call.said.startswith(reason)
    assert call.said.endswith("How many minutes? Enter them, then press pound, or say them.")
    assert _entries(menu_app) == []


def test_a_patient_number_said_as_a_number_is_asked_again(menu_app: TwilioApp,
                                                          phone: Dial) -> None:
    call = _at_menu(phone).press("1").say("ten forty two")
    assert call.said.startswith("I heard a number, not its digits. Say the digits one at a "
                                "time, like one zero four two, or key them.")
    assert "Enter the patient number" in call.said
    call.say("one zero four two")
    assert call.said.startswith("Patient P 1 0 4 2, J D.")


# -- 3. the note is never read back -------------------------------------------------------


def test_a_spoken_note_is_counted_never_read_back_and_saved_whole(menu_app: TwilioApp,
                                                                 phone: Dial) -> None:
    from tests.telephony.conftest import record_outbound
    call_id = record_outbound(menu_app.service, answered_by="human", seconds=200)
    call = _at_menu(phone).press("3")
    note = "Spoke with Mary Smith, date of birth March 4 1951, call back at 617 555 0188"
    call.say(note)
    for word in ("Mary", "Smith", "March", "1951", "617", "0188", "birth"):
        assert word not in call.said
    assert "I heard a note of 16 words." in call.said
    call.wait()  # said again with the prompt: still only the count
    assert "I heard a note of 16 words." in call.said and "Mary" not in call.said
    call.press("1")
    assert "Note saved." in call.said
    assert menu_app.service.calls.get(call_id).note == note
    assert not any("Mary" in line for line in call.heard)


# -- 4. an ended patient is refused at the patient step, in words ---------------------------


def test_an_ended_patient_is_refused_at_the_patient_step_in_spoken_words(
        menu_app: TwilioApp, phone: Dial) -> None:
    menu_app.service.patients.add("P-42", PatientFields(
        initials="QR", enrolled_on=date(2026, 1, 5), ended_on=date(2026, 11, 10)),
        actor="test")
    call = _at_menu(phone).press("1").press("42")
    assert call.said.startswith("Patient P 4 2, Q R has ended monitoring on November 10, "
                                "2026; pick another patient.")
    assert "2026-11-10" not in call.said and "P-42" not in call.said
    assert "Enter the patient number" in call.said and "How many minutes" not in call.said
    call.press("1042")
    assert call.said.startswith("Patient P 1 0 4 2, J D.")


def test_an_ended_patient_among_choices_is_refused_when_chosen(menu_app: TwilioApp,
                                                                phone: Dial) -> None:
    menu_app.service.patients.add("A-1042", PatientFields(
        initials="KL", enrolled_on=date(2026, 1, 5), ended_on=date(2026, 11, 1)),
        actor="test")
    call = _at_menu(phone).press("1").press("1042")
    assert "Press 1 for A 1 0 4 2, K L." in call.said
    call.press("1")
    assert call.said.startswith("Patient A 1 0 4 2, K L has ended monitoring on November 1")
    assert "Press 2 for P 1 0 4 2, J D." in call.said
    call.press("2")
    assert call.said.startswith("Patient P 1 0 4 2, J D.")


def test_dates_in_a_refusal_are_spoken_not_read_as_digits() -> None:
    assert spoken_text("P-42 ended monitoring on 2026-11-20; time on 2026-11-21 cannot") == \
        "P-42 ended monitoring on November 20, 2026; time on November 21, 2026 cannot"


# -- 5. a lock or pause is said only after a PIN, and offers a person -----------------------


def test_a_paused_clinic_is_said_after_the_pin_and_offers_a_person(
        menu_app_with: Callable[..., TwilioApp]) -> None:
    app = menu_app_with(voice_wrong_pins_per_hour=1)
    first = Phone(app, NURSE_PHONE).dial().press("11111")
    assert first.said.startswith("That PIN is not right.")
    call = Phone(app, NURSE_PHONE).dial()
    assert "paused" not in call.said and "enter your voice PIN" in call.said
    call.press(NURSE_PIN)
    assert call.said.startswith("Voice access is paused for now.")
    assert call.said.endswith("Press 0 for a person, or hang up.") and not call.hung_up
    call.press("0")
    assert call.dialed == app.settings.clinic_fallback_number


# -- 6. a malformed PIN hears why ----------------------------------------------------------


@pytest.mark.parametrize("keys", ["12", "123456789", "12*4", "1234*"])
def test_a_malformed_pin_is_told_the_rule_and_asked_again(menu_app: TwilioApp, phone: Dial,
                                                         keys: str) -> None:
    call = phone().dial().press(keys)
    assert call.said == ("That is not a PIN: a PIN is 4 to 8 digits, then pound. Please "
                         "enter your voice PIN, then press pound.")
    call.press(NURSE_PIN)
    assert "Main menu" in call.said


# -- 7. prompts ----------------------------------------------------------------------------


def test_no_pin_message_reads_no_command_aloud(menu_app: TwilioApp, phone: Dial) -> None:
    menu_app.service.voice_access.set_pin(NURSE, "", actor="test")
    call = phone().dial()
    assert call.said == ("You have no voice PIN yet. Ask your clinic admin to set a voice "
                         "PIN, then call again. Goodbye.")
    assert call.hung_up


def test_silence_at_the_pin_prompt_says_nothing_of_saving(menu_app: TwilioApp,
                                                          phone: Dial) -> None:
    call = phone().dial().wait().wait().wait()
    assert call.said == "I did not hear an answer. Goodbye." and call.hung_up
    assert not any("saved" in line for line in call.heard)


@pytest.mark.parametrize(("keys", "instruction"), [
    (["1", "1042", "12", "1"], "Press 1 to save"),
    (["2"], "Press 1 to log time for this patient"),
])
def test_a_wrong_key_hears_the_instruction_once(menu_app: TwilioApp, phone: Dial,
                                                keys: list[str], instruction: str) -> None:
    call = _at_menu(phone)
    for key in keys:
        call.press(key)
    call.press("7")
    assert call.said.startswith("Key 7 is not one of the choices.")
    assert call.said.count(instruction) == 1


# -- 8. letters-only ids: not keyed, but reached by the at-risk walk ------------------------


def test_a_letters_only_id_is_logged_through_the_at_risk_walk(menu_app: TwilioApp,
                                                              phone: Dial) -> None:
    svc = menu_app.service
    svc.patients.add("KAY", PatientFields(initials="KW", assign=NURSE), actor="test")
    call = _at_menu(phone).press("2")
    assert "2 of your patients are at risk" in call.said
    if "K A Y, K W:" not in call.said:
        call.press("2")
    assert "K A Y, K W: needs" in call.said
    call.press("1")
    assert call.said.startswith("Log time for K A Y, K W.")
    call.press("7").press("1").press("1")
    assert call.said.startswith("Saved. K A Y, K W: 7 minutes this month")
    [entry] = _entries(menu_app)
    assert entry.duration_seconds == 420


# -- 9. every Say has the configured voice --------------------------------------------------


def test_the_screening_prompt_speaks_with_the_configured_voice(menu_app: TwilioApp,
                                                               phone: Dial) -> None:
    parent = phone(PATIENT_PHONE).dial()
    assert parent.dialed == NURSE_PHONE
    form = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": new_sid(),
            "ParentCallSid": parent.sid, "CallStatus": "in-progress",
            "Direction": "outbound-dial", "From": PATIENT_PHONE, "To": NURSE_PHONE}
    root = ET.fromstring(menu_app.post("/twilio/voice/screen", form).text)
    assert [s.text for s in root.iter("Say")] == ["Call from P-1042 JD. Press 1 to accept."]
    assert_every_say_has_the_voice(root, menu_app)


def test_nobody_to_dial_speaks_with_the_configured_voice(menu_app: TwilioApp) -> None:
    root = ET.fromstring(twiml.nobody_to_dial(voice=menu_app.settings.twilio_voice,
                                              language=menu_app.settings.voice_language))
    assert len(list(root.iter("Say"))) == 1
    assert_every_say_has_the_voice(root, menu_app)


# -- 10. the walk: prompts that sounded wrong ------------------------------------------------


def test_one_patient_at_risk_is_not_said_worst_first(menu_app: TwilioApp,
                                                     phone: Dial) -> None:
    from tests.service.helpers import log
    log(menu_app.service, "21m", "call")  # P-1042 is done for the month
    menu_app.service.patients.add("P-2001", PatientFields(initials="AB", assign=NURSE),
                                  actor="test")
    call = _at_menu(phone).press("2")
    assert call.said.startswith("One of your patients is at risk. P 2 0 0 1, A B: needs")
    assert "worst first" not in call.said
