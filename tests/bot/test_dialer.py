"""Click-to-call reaches Twilio through the `Dialer` the composition root injects (the bot
never imports telephony): each answer of the dialer becomes its reply."""

from typing import Any

import pytest

from bot import dispatch, grammar
from service import Service
from tests.service.helpers import NURSE, seed


class FakeDialer:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.dialled: list[tuple[str, str]] = []

    def dial(self, patient_ref: str, *, by: str) -> Any:
        self.dialled.append((patient_ref, by))
        return self.answer


def _call(svc: Service, dialer: FakeDialer | None) -> str:
    seed(svc)
    reply = dispatch.run(svc, grammar.parse("call P-1042"),
                         dispatch.Caller(NURSE, "D0CALL", dialer=dialer))
    return reply.text


def test_no_dialer_means_click_to_call_is_not_set_up(svc: Service) -> None:
    assert "Click-to-call is not set up for this clinic" in _call(svc, None)


@pytest.mark.parametrize(("answer", "says"), [
    ("bad_answer", "Twilio answered without a call id (sid)"),
    ("unavailable", "Twilio did not accept the call just now"),
])
def test_a_dialer_that_could_not_place_the_call_is_explained(svc: Service, answer: str,
                                                             says: str) -> None:
    dialer = FakeDialer(answer)
    assert says in _call(svc, dialer)
    assert dialer.dialled == [("P-1042", NURSE)]


def test_a_missing_caller_id_alone_is_named(svc: Service) -> None:
    """Tester finding 8: with only TWILIO_CALLER_ID unset, `/rpm call` listed all four."""
    from pydantic import SecretStr

    from configuration.settings import Settings
    from rpm_logger.app import _dialer

    settings = Settings(twilio_account_sid="AC" + "0" * 32, twilio_auth_token=SecretStr("t"),
                        public_base_url="https://rpm.example.org")
    text = _call(svc, _dialer(settings, svc))  # type: ignore[arg-type]
    assert "Click-to-call is not set up for this clinic: TWILIO_CALLER_ID is not set." in text
    assert "TWILIO_AUTH_TOKEN" not in text and "PUBLIC_BASE_URL" not in text
    assert _dialer(Settings(), svc) is None  # nothing set: the reply lists all four
