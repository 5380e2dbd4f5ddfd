"""README's stated exception: click-to-call is two transactions around Twilio's API call (the
plan read, then the placed call recorded), never one held open while Twilio answers."""

from collections.abc import Iterator

import pytest

from service import Service
from telephony.rest import click_to_call
from tests.fakes.twilio_api import TwilioApiRecorder
from tests.service.helpers import NURSE
from tests.service.test_entry_transactions import counted
from tests.telephony.conftest import ACCOUNT_SID, CLINIC_NUMBER, seed_clinic, twilio_settings


@pytest.fixture
def twilio_api() -> Iterator[TwilioApiRecorder]:
    recorder = TwilioApiRecorder(ACCOUNT_SID).start()
    yield recorder
    recorder.stop()


def test_click_to_call_reads_then_records_around_twilios_answer(
        svc: Service, twilio_api: TwilioApiRecorder) -> None:
    seed_clinic(svc)
    settings = twilio_settings(twilio_api_url=twilio_api.base_url, twilio_caller_id=CLINIC_NUMBER)
    seen: list[list[str]] = []
    with counted(svc) as (opened, _):
        original = svc.calls.record_placed

        def record_placed(*args: object, **kwargs: object) -> object:
            seen.append(list(opened))  # what was open before Twilio answered
            return original(*args, **kwargs)  # type: ignore[arg-type]

        svc.calls.record_placed = record_placed  # type: ignore[method-assign]
        try:
            outcome = click_to_call(svc, settings, "P-1042", by=NURSE)
        finally:
            del svc.calls.record_placed
    assert outcome.call.staff == NURSE
    assert [r.method for r in twilio_api.requests] == ["POST"]
    assert seen == [["read"]]  # the plan, closed before the API call
    assert opened == ["read", "write"]
