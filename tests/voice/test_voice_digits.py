"""Issue 27.6: only the keys 0-9 are digits at the voice menu, keyed or said.

Over the real app on both databases. A forged `Digits` of '²' passed `str.isdigit()` and
`int()` raised: HTTP 500, the call dropped. '٣' and '１２' were taken as 3 and 12 minutes;
a transcript '1²' was heard as 1 minute (the ² skipped). Each is now refused with the reason
and the same prompt again, and the call goes on to save what is keyed after."""

from collections.abc import Callable

import pytest
from sqlmodel import select

from service.patients import PatientFields
from store.models import TimeEntry
from tests.telephony.conftest import TwilioApp
from tests.voice.conftest import NURSE_PIN
from tests.voice.phone import Phone

Dial = Callable[..., Phone]
OTHER_DIGITS = ("²", "٣", "１２", "1²", "١٠٤٢")
KEYS_REFUSED = "Please use the number keys only."
SPEECH_REFUSED = "I heard a number written in a way I cannot read."
PROMPTS = {"patient": "Enter the patient number, then press pound. You can also say it.",
           "minutes": "How many minutes? Enter them, then press pound, or say them."}


def _entries(app: TwilioApp) -> list[TimeEntry]:
    with app.service.ctx.db.read_session() as session:
        return list(session.exec(select(TimeEntry).order_by(TimeEntry.id)))


def _at_step(phone: Dial, step: str) -> Phone:
    call = phone().dial().press(NURSE_PIN).press("1")
    if step == "minutes":
        call.press("1042")
    assert call.said.endswith(PROMPTS[step]), call.said
    return call


def _finish(call: Phone, step: str) -> Phone:
    """The rest of the entry, keyed in 0-9: 1042, 12 minutes, review, save."""
    if step == "patient":
        call.press("1042")
    return call.press("12").press("1").press("1")


@pytest.mark.parametrize("step", ["patient", "minutes"])
def test_keys_other_than_0_to_9_are_asked_again_never_read(menu_app: TwilioApp, phone: Dial,
                                                           step: str) -> None:
    call = _at_step(phone, step)
    for sent in OTHER_DIGITS:
        call.press(sent)
        assert call.said == f"{KEYS_REFUSED} {PROMPTS[step]}", (sent, call.said)
        assert _entries(menu_app) == []
    assert "Saved." in _finish(call, step).said
    [entry] = _entries(menu_app)
    assert entry.duration_seconds == 12 * 60


@pytest.mark.parametrize("step", ["patient", "minutes"])
def test_speech_with_other_digits_is_asked_again_never_read(menu_app: TwilioApp, phone: Dial,
                                                            step: str) -> None:
    call = _at_step(phone, step)
    for sent in (*OTHER_DIGITS, "twelve ٣ minutes"):
        call.say(sent)
        assert call.said.startswith(SPEECH_REFUSED), (sent, call.said)
        assert call.said.endswith(PROMPTS[step]), (sent, call.said)
        assert _entries(menu_app) == []
    assert "Saved." in _finish(call, step).said
    [entry] = _entries(menu_app)
    assert entry.duration_seconds == 12 * 60


def test_a_patient_choice_in_other_digits_is_asked_again(menu_app: TwilioApp,
                                                         phone: Dial) -> None:
    """The choice between patients with the same digits: '²' there raised in int() too."""
    menu_app.service.patients.add("A-10-42", PatientFields(initials="KL"), actor="test")
    call = phone().dial().press(NURSE_PIN).press("1").press("1042")
    assert "2 patients have those digits." in call.said
    for sent in ("²", "٢", "２"):
        call.press(sent)
        assert call.said.startswith(f"{KEYS_REFUSED} Press 1 for A"), (sent, call.said)
    call.press("2")
    assert "Patient P 1 0 4 2, J D." in call.said


def test_a_confidence_in_other_digits_is_not_read(menu_app: TwilioApp, phone: Dial) -> None:
    """Confidence '１' was read by float() as 1.0: such a form is garbled, asked again."""
    call = _at_step(phone, "minutes").say("twelve minutes", confidence="１")
    assert call.said == f"{KEYS_REFUSED} {PROMPTS['minutes']}"
    call.say("twelve minutes", confidence="0.9")
    assert call.said.startswith("12 minutes.")
