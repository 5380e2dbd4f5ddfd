"""Issue 26 item 4 in the voice menu: key 7 logs a call attempt, read back as not live."""

from collections.abc import Callable

from tests.telephony.conftest import TwilioApp
from tests.voice.conftest import NURSE_PIN
from tests.voice.phone import Phone


def test_key_7_in_the_voice_menu_is_a_call_attempt(
    menu_app: TwilioApp, phone: Callable[..., Phone],
) -> None:
    call = phone().dial()
    call.press(NURSE_PIN)
    call.press("1")
    call.press("1042")
    call.press("4")
    assert "7 for a call attempt that reached no one" in call.said
    call.press("7")
    assert "Patient P 1 0 4 2, J D, 4 minutes, call attempt, not live, today." in call.said
    call.press("1")
    assert call.said.startswith("Saved.") and "no live contact yet" in call.said
    svc = menu_app.service
    [entry] = svc.entries.for_patient_month("P-1042", svc.months.current())
    assert (entry.activity, entry.live, entry.duration_seconds) == ("attempt", False, 240)
