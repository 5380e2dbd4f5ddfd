"""Speech Twilio was not sure of (Confidence below VOICE_MIN_SPEECH_CONFIDENCE) is not taken
for minutes or patient digits: a misheard number would log the wrong time or patient
(outside nurse review). The keypad still works."""

from collections.abc import Callable

import pytest
from sqlmodel import select

from store.models import TimeEntry
from tests.telephony.conftest import NURSE_PHONE, TwilioApp
from tests.voice.conftest import NURSE_PIN
from tests.voice.phone import Phone

UNSURE = "I was not sure I heard that."


def _entries(app: TwilioApp) -> list[TimeEntry]:
    with app.service.ctx.db.read_session() as session:
        return list(session.exec(select(TimeEntry)))


def _logging(app: TwilioApp) -> Phone:
    call = Phone(app, NURSE_PHONE).dial().press(NURSE_PIN).press("1")
    assert "Enter the patient number" in call.said
    return call


def test_unsure_patient_digits_are_asked_again_and_keys_still_work(menu_app: TwilioApp) -> None:
    call = _logging(menu_app).say("one zero four two", confidence="0.31")
    assert call.said == f"{UNSURE} Enter the patient number, then press pound. You can " \
        "also say it."
    call.press("1042")
    assert "Patient P 1 0 4 2, J D." in call.said


def test_unsure_minutes_are_asked_again_and_saying_them_surely_works(
        menu_app: TwilioApp) -> None:
    call = _logging(menu_app).press("1042").say("fifteen minutes", confidence="0.2")
    assert call.said.startswith(f"{UNSURE} How many minutes?")
    call.say("fifteen minutes", confidence="0.5")  # at the threshold: taken
    assert call.said.startswith("15 minutes.")
    call.press("1").press("1")
    assert [e.duration_seconds for e in _entries(menu_app)] == [900]


def test_a_confidence_of_zero_is_not_reported_and_taken(menu_app: TwilioApp) -> None:
    """Some Twilio speech models send Confidence=0 for every result: asking again would make
    speech unusable, so 0 is read as 'not reported' (the read-back still guards)."""
    call = _logging(menu_app).say("one zero four two", confidence="0")
    assert "Patient P 1 0 4 2, J D." in call.said


def test_the_threshold_is_the_setting(menu_app_with: Callable[..., TwilioApp]) -> None:
    app = menu_app_with(voice_min_speech_confidence=0.95)
    call = _logging(app).say("one zero four two", confidence="0.91")
    assert call.said.startswith(UNSURE)


@pytest.mark.parametrize("confidence", ["0.1", "0.0"])
def test_a_note_or_an_activity_is_not_held_to_it(menu_app: TwilioApp, confidence: str) -> None:
    """Only numbers are: an activity is read back before it is saved."""
    call = _logging(menu_app).press("1042").press("12").say("education", confidence)
    assert "12 minutes, education, today." in call.said
