"""The voice menu's fixtures: the real app on loopback (tests/telephony/conftest.py), the
nurse with a voice PIN, and a phone that calls it."""

from collections.abc import Callable

import pytest

from tests.service.helpers import NURSE
from tests.telephony.conftest import (  # noqa: F401 - fixtures used by the voice tests
    NURSE_PHONE,
    TwilioApp,
    slack_twilio_app,
    twilio_app,
)
from tests.voice.phone import Phone

NURSE_PIN = "80531"  # digits that appear nowhere else, so finding them anywhere is a leak


@pytest.fixture
def menu_app(twilio_app: TwilioApp) -> TwilioApp:  # noqa: F811
    twilio_app.service.voice_access.set_pin(NURSE, NURSE_PIN, actor="test")
    return twilio_app


@pytest.fixture
def phone(menu_app: TwilioApp) -> Callable[..., Phone]:
    """A new call from the nurse's registered phone (or `from_`) to the clinic number."""
    def call(from_: str = NURSE_PHONE) -> Phone:
        return Phone(menu_app, from_)
    return call
