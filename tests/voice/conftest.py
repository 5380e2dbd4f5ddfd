"""The voice menu's fixtures: the real app (tests/telephony/conftest.py), the nurse with a
voice PIN, and a phone that calls it."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from rpm_logger.app import create_app
from service import Service
from tests.loopback import connected
from tests.service.helpers import NURSE
from tests.telephony.conftest import (  # noqa: F401 - fixtures used by the voice tests
    NURSE_PHONE,
    TwilioApp,
    seed_clinic,
    slack_twilio_app,
    twilio_app,
    twilio_settings,
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


@pytest.fixture
def menu_app_with(request: pytest.FixtureRequest,
                  svc: Service) -> Iterator[Callable[..., TwilioApp]]:
    """The menu app served with some settings changed (VOICE_WRITE_DEADLINE_MS=1500, say),
    the nurse's PIN set: one app per test."""
    with ExitStack() as stack:
        def serve(**settings: Any) -> TwilioApp:
            seed_clinic(svc)
            svc.voice_access.set_pin(NURSE, NURSE_PIN, actor="test")
            values = twilio_settings(**settings)
            base_url, http = stack.enter_context(
                connected(create_app(values, service=svc), request))
            return TwilioApp(base_url, svc, values, http, None)
        yield serve
