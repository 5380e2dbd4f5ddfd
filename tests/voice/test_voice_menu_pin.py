"""The PIN step of the voice menu, by phone: wrong PINs end the call, five lock the member
for an hour (with a Slack DM), an unlock opens it again, and a forged caller id without the
PIN reaches nothing. SQLite and PostgreSQL."""

from collections.abc import Callable

from sqlmodel import select

from store.models import TimeEntry
from tests.service.helpers import NURSE
from tests.telephony.conftest import NURSE_PHONE, TwilioApp, wait_for
from tests.voice.conftest import NURSE_PIN
from tests.voice.phone import Phone

Dial = Callable[..., Phone]


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
    dms = wait_for(lambda: app.slack.calls_to("chat.postMessage"), "the lock DM")
    assert len(dms) == 1 and dms[0].body["channel"] in (NURSE, "D" + NURSE[1:])
    assert NURSE_PIN not in str(dms[0].body)

    # locked: the next call is asked for the PIN like any other (a forger learns nothing
    # before keying one), then hears the lock and is offered a person before the goodbye
    third = Phone(app, NURSE_PHONE).dial()
    assert "locked" not in third.said and "enter your voice PIN" in third.said
    third.press(NURSE_PIN)
    assert "Your voice access is locked" in third.said and "Main menu" not in third.said
    assert "Press 0 for a person, or hang up." in third.said
    third.press("0")
    assert third.dialed is not None

    app.service.voice_access.unlock(NURSE, actor="test")
    fourth = Phone(app, NURSE_PHONE).dial().press(NURSE_PIN)
    assert "Main menu" in fourth.said


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
