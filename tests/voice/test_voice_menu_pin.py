"""The PIN step of the voice menu, by phone: wrong PINs end the call, five lock the member
for an hour (with a Slack DM to them and to each admin), an unlock opens it again, and a
forged caller id without the PIN reaches nothing. SQLite and PostgreSQL."""

from collections.abc import Callable

import pytest
from pydantic import ValidationError
from sqlmodel import select

from configuration.settings import Settings
from service import voice_menu
from service.staff import StaffChanges
from service.voice_access import PinReservation
from store.models import AuditEvent, TimeEntry, VoicePinAttempt
from tests.service.helpers import ADMIN, NURSE
from tests.telephony.conftest import NURSE_PHONE, TwilioApp, wait_for
from tests.voice.conftest import NURSE_PIN
from tests.voice.phone import Phone

Dial = Callable[..., Phone]
NURSE_OTHER_PHONE = "+16175550102"  # a second phone of her own, registered after the lock


def _wrong(call: Phone, digits: str = "11111") -> Phone:
    return call.press(digits)


def test_three_wrong_pins_end_the_call(menu_app: TwilioApp, phone: Dial) -> None:
    call = phone().dial()
    _wrong(call)
    assert call.said.startswith("That PIN is not right.") and "enter your voice PIN" in call.said
    _wrong(call, "11111")  # the same digits on a new turn: a new attempt
    assert call.said.startswith("That PIN is not right.")
    _wrong(call)
    assert "That PIN is not right either. Goodbye." in call.said and call.hung_up


def test_a_forged_caller_id_without_the_pin_reaches_nothing(menu_app: TwilioApp,
                                                           phone: Dial) -> None:
    """Someone calling with the nurse's number shown, trying the menu keys as a PIN."""
    call = phone().dial()
    for keys in ("1", "2", "3"):
        call.press(keys)
        assert "Main menu" not in call.said and "P 1 0 4 2" not in call.said
    assert call.hung_up
    # the turn after the goodbye only repeats it
    call.again("/twilio/voice/menu?t=4", Digits=NURSE_PIN)
    assert call.hung_up and "Main menu" not in call.said
    with menu_app.service.ctx.db.read_session() as session:
        assert session.exec(select(TimeEntry)).all() == []


def test_malformed_pins_still_end_the_call_after_three(menu_app: TwilioApp,
                                                       phone: Dial) -> None:
    call = phone().dial()
    for keys in ("12", "12*4"):  # too short, a star: said why, and a try on this call
        call.press(keys)
        assert call.said.startswith("That is not a PIN: a PIN is 4 to 8 digits, then pound.")
        assert "enter your voice PIN" in call.said
    call.press("123456789012")
    assert call.hung_up


def test_five_wrong_pins_lock_for_an_hour_with_a_dm_and_unlock_clears_it(
    slack_twilio_app: TwilioApp, clock,
) -> None:
    app = slack_twilio_app
    app.service.voice_access.set_pin(NURSE, NURSE_PIN, actor="test")
    first = Phone(app, NURSE_PHONE).dial()
    for _ in range(3):
        _wrong(first)
    second = Phone(app, NURSE_PHONE).dial()
    _wrong(second)
    assert second.said.startswith("That PIN is not right.")
    _wrong(second)
    assert "Your voice access is locked" in second.said
    assert second.said.endswith("Press 0 for a person, or hang up.")  # before the goodbye
    second.wait()
    assert second.said == "Goodbye." and second.hung_up
    assert app.slack is not None
    # the nurse is told, and so is the clinic's one active admin (issue 27), once each
    dms = wait_for(lambda: len(app.slack.calls_to("chat.postMessage")) >= 2 and
                   app.slack.calls_to("chat.postMessage"), "the lock DMs")
    to = {dm.body["channel"]: dm.body["text"] for dm in dms}
    assert len(dms) == 2 and set(to) == {"D" + NURSE[1:], "D" + ADMIN[1:]}
    assert to["D" + NURSE[1:]].startswith("Your voice access to the clinic line is locked")
    assert to["D" + ADMIN[1:]].startswith(f"<@{NURSE}>'s voice access to the clinic line is "
                                          "locked until 2026-11-20 16:00 EST")
    assert f"rpm-logger staff update {NURSE} --voice-unlock" in to["D" + ADMIN[1:]]
    assert NURSE_PIN not in str(dms) and NURSE_PHONE not in str(dms)

    # locked: the next call is asked for the PIN like any other (a forger learns nothing
    # before keying one), then hears the lock and is offered a person before the goodbye
    third = Phone(app, NURSE_PHONE).dial()
    assert "locked" not in third.said and "enter your voice PIN" in third.said
    third.press(NURSE_PIN)
    assert "Your voice access is locked" in third.said and "Main menu" not in third.said
    assert "Press 0 for a person, or hang up." in third.said
    third.press("0")
    assert third.dialed is not None

    # an admin unlocks a minute later: the nurse's other registered phone works at once, and
    # so does the number the five wrong PINs came from: they were all on her, and the unlock
    # restarts her count, the number's included (its wrong PINs on others would still count)
    clock.advance(minutes=1)
    app.service.voice_access.unlock(NURSE, actor="test")
    app.service.staff.update(NURSE, StaffChanges(add_phones=(NURSE_OTHER_PHONE,)),
                             actor="test")
    fourth = Phone(app, NURSE_OTHER_PHONE).dial().press(NURSE_PIN)
    assert "Main menu" in fourth.said
    assert "Main menu" in Phone(app, NURSE_PHONE).dial().press(NURSE_PIN).said


def test_the_lock_expires_after_an_hour(menu_app: TwilioApp, phone: Dial, clock) -> None:
    first = phone().dial()
    for _ in range(3):
        _wrong(first)
    call = phone().dial()
    for _ in range(2):
        _wrong(call)
    assert "locked" in call.said
    clock.advance(hours=1, minutes=1)
    call = phone().dial().press(NURSE_PIN)
    assert "Main menu" in call.said


def test_a_calling_number_is_refused_for_the_hour_after_its_wrong_pins(
        menu_app_with: Callable[..., TwilioApp], clock) -> None:
    """Issue 27 item 8: VOICE_WRONG_PINS_PER_NUMBER wrong PINs from one calling number in an
    hour refuse that number, uncompared and uncounted, for the rest of the hour, before
    the member's lock or the clinic-wide limit is reached; the member's other phone works."""
    app = menu_app_with(voice_wrong_pins_per_number=2)
    app.service.staff.update(NURSE, StaffChanges(add_phones=(NURSE_OTHER_PHONE,)),
                             actor="test")
    _wrong(_wrong(Phone(app, NURSE_PHONE).dial()), "11112")
    refused = Phone(app, NURSE_PHONE).dial().press(NURSE_PIN)
    assert refused.said == ("Voice access from this phone is paused after too many wrong "
                            "PINs. Please try again later, or use Slack. Press 0 for a "
                            "person, or hang up.")
    assert "Main menu" in Phone(app, NURSE_OTHER_PHONE).dial().press(NURSE_PIN).said
    assert app.service.staff.get(NURSE).voice_locked_until is None
    clock.advance(minutes=59, seconds=59)
    assert "paused" in Phone(app, NURSE_PHONE).dial().press(NURSE_PIN).said
    clock.advance(seconds=1)
    assert "Main menu" in Phone(app, NURSE_PHONE).dial().press(NURSE_PIN).said


def test_an_unlock_frees_the_members_own_phone_too(
        menu_app_with: Callable[..., TwilioApp], clock) -> None:
    """A nurse who forgot her PIN keyed wrong ones from her phone; the admin's unlock lifts
    the number's pause as well, or she would stay refused from it for the hour."""
    app = menu_app_with(voice_wrong_pins_per_number=2)
    _wrong(_wrong(Phone(app, NURSE_PHONE).dial()), "11112")
    assert "paused" in Phone(app, NURSE_PHONE).dial().press(NURSE_PIN).said
    clock.advance(minutes=1)
    app.service.voice_access.unlock(NURSE, actor="test")
    assert "Main menu" in Phone(app, NURSE_PHONE).dial().press(NURSE_PIN).said


def test_the_per_number_limit_is_a_setting_with_a_default_of_five(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOICE_WRONG_PINS_PER_NUMBER", raising=False)
    assert Settings().voice_wrong_pins_per_number == 5
    monkeypatch.setenv("VOICE_WRONG_PINS_PER_NUMBER", "3")
    assert Settings().voice_wrong_pins_per_number == 3
    for bad, message in (("0", "greater than or equal to 1"), ("many", "valid integer")):
        monkeypatch.setenv("VOICE_WRONG_PINS_PER_NUMBER", bad)
        with pytest.raises(ValidationError, match=message):
            Settings()


def test_a_pin_turn_retried_while_its_pin_is_compared_counts_once(
        menu_app: TwilioApp, phone: Dial, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twilio retries a turn whose answer is late: the retry arrives while the first is
    comparing the PIN (no transaction open). It takes the same reservation and answers the
    turn; the first then finds the turn answered and gives the same reply: one wrong PIN."""
    call = phone().dial()
    path = call.action
    twin: list[str] = []
    real = voice_menu.compare_pin

    def compare_with_a_retry_meanwhile(reservation: PinReservation, digits: str) -> bool:
        if not twin:
            twin.append("")
            retry = menu_app.post(path, call._form(Digits=digits, FinishedOnKey="#"))
            twin[0] = retry.text
        return real(reservation, digits)

    monkeypatch.setattr(voice_menu, "compare_pin", compare_with_a_retry_meanwhile)
    call.press("11111")
    assert call.said.startswith("That PIN is not right.")
    assert twin == [call.text]
    with menu_app.service.ctx.db.read_session() as session:
        assert len(session.exec(select(VoicePinAttempt)).all()) == 1
        assert len(session.exec(select(AuditEvent).where(
            AuditEvent.action == "staff.voice_wrong_pin")).all()) == 1
