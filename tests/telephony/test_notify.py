"""Telephony says which notice a call needs through `CallNotifier` (data, not Slack): only
when the state just became one people act on; a failing notifier never raises."""

import logging
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from service.calls import CallOutcome, CallView
from telephony.notify import notice_for, send_call_notice

CALL = CallView(call_id="C-1", call_sid="CA1", state="unconfirmed", state_reason=None,
                status="completed", direction="outbound-api", way="outbound", from_masked=None,
                to_masked=None, answered_by=None, duration_seconds=200,
                started_at=datetime(2026, 11, 3, 15, tzinfo=UTC), ended_at=None, patient=None,
                staff="U01NURSE", entry_id=None, note=None, after_close=False)


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = fail

    def ask_if_live(self, call: CallView) -> None:
        self._send("ask_if_live", call)

    def tell_counted(self, call: CallView) -> None:
        self._send("tell_counted", call)

    def _send(self, what: str, call: CallView) -> None:
        if self.fail:
            raise ConnectionError("slack is down")
        self.sent.append((what, call.call_id))


@pytest.mark.parametrize(("state", "changed", "staff", "notice"), [
    ("unconfirmed", True, "U01NURSE", "ask_if_live"),
    ("counted", True, "U01NURSE", "tell_counted"),
    ("counted", False, "U01NURSE", None),  # a retried callback: told once already
    ("counted", True, None, None),  # nobody to tell
    ("attempt", True, "U01NURSE", None),
])
def test_the_notice_a_write_calls_for(state: str, changed: bool, staff: str | None,
                                      notice: str | None) -> None:
    outcome = CallOutcome(replace(CALL, state=state, staff=staff), changed, None)
    assert notice_for(outcome) == notice
    notifier = Recorder()
    assert send_call_notice(notifier, outcome) is (notice is not None)
    assert notifier.sent == ([(notice, "C-1")] if notice else [])


def test_a_failing_notifier_is_logged_and_the_call_stays_stored(
        caplog: pytest.LogCaptureFixture) -> None:
    outcome = CallOutcome(CALL, True, None)
    with caplog.at_level(logging.ERROR, logger="rpm_logger.telephony"):
        assert send_call_notice(Recorder(fail=True), outcome) is False
    assert "could not notify U01NURSE about call C-1" in caplog.text
    assert send_call_notice(None, outcome) is False  # Slack not configured
