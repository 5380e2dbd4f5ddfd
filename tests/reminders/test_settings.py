"""REMINDER_* settings: parsed strictly, reported at start-up without secrets."""

from datetime import time

import pytest
from pydantic import SecretStr, ValidationError

from configuration.settings import Settings
from reminders.job import reminder_options
from rpm_logger.wiring import describe_configuration
from service.reminders import ReminderOptions


def test_defaults_and_options(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REMINDER_TIME", "REMINDER_START_DAY", "REMINDER_CHANNEL", "REMINDERS_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert (settings.reminders_enabled, settings.reminder_time, settings.reminder_start_day,
            settings.reminder_channel) == (True, time(9, 0), 15, None)
    monkeypatch.setenv("REMINDER_TIME", "7:05")
    monkeypatch.setenv("REMINDER_START_DAY", "20")
    monkeypatch.setenv("REMINDER_CHANNEL", " C0REMIND ")
    monkeypatch.setenv("REMINDERS_ENABLED", "false")
    settings = Settings()
    assert reminder_options(settings) == ReminderOptions(start_day=20, channel="C0REMIND",
                                                          send_time=time(7, 5))
    assert settings.reminders_enabled is False


@pytest.mark.parametrize(("field", "value", "message"), [
    ("reminder_time", "25:00", "'25:00' is not a time of day: use HH:MM, e.g. 09:00"),
    ("reminder_time", "9am", "'9am' is not a time of day: use HH:MM, e.g. 09:00"),
    # only 0-9 are digits (issue 27.6): '٠٩:٠٠' was 09:00
    ("reminder_time", "٠٩:٠٠", "'٠٩:٠٠' is not a time of day: use HH:MM, e.g. 09:00"),
    ("reminder_start_day", 0, "greater than or equal to 1"),
    ("reminder_start_day", 32, "less than or equal to 31"),
])
def test_bad_values_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**{field: value})


@pytest.mark.parametrize(("values", "line"), [
    ({"slack_bot_token": SecretStr("xoxb-secret"), "reminder_channel": "C0REMIND"},
     "reminders: daily at 09:00 America/New_York from day 15; channel: C0REMIND"),
    ({"slack_bot_token": SecretStr("xoxb-secret")},
     "reminders: daily at 09:00 America/New_York from day 15; channel: none (set "
     "REMINDER_CHANNEL for the daily summary)"),
    ({"slack_bot_token": SecretStr("xoxb-secret"), "reminder_channel": "#rpm"},
     "reminders: daily at 09:00 America/New_York from day 15; channel: #rpm (use the channel "
     "id, e.g. C0123ABCD: the history check needs it)"),
    ({}, "reminders: not started; set SLACK_BOT_TOKEN to send at-risk reminders"),
    ({"slack_bot_token": SecretStr("xoxb-secret"), "reminders_enabled": False},
     "reminders: off (REMINDERS_ENABLED=false)"),
])
def test_the_start_up_log_says_what_reminders_will_do(values: dict[str, object],
                                                      line: str) -> None:
    settings = Settings(**{"clinic_timezone": "America/New_York", "slack_bot_token": None,
                           **values})
    lines = describe_configuration(settings)
    assert line in lines
    assert "xoxb-secret" not in "\n".join(lines)
