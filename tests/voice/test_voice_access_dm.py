"""The lock DM: telephony asks its `CallNotifier` to tell a locked member; the Slack side
(bot/call_dms.py) sends it with the real slack_sdk client to the recording Slack API, in
clinic time, with no digits and no number. A failure is logged and never raises."""

import logging
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from bot.call_dms import SlackCallDMs
from configuration.settings import Settings
from telephony.notify import send_voice_lock_notice
from tests.fakes.slack_api import ScriptedReply, SlackApiRecorder
from tests.voice.helpers import NURSE_PHONE

NURSE = "U01NURSE"
UNTIL = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)  # 16:00 in the clinic (New York)


def _dms(slack: SlackApiRecorder) -> SlackCallDMs:
    notifier = SlackCallDMs.from_settings(Settings(
        slack_bot_token=SecretStr("xoxb-test"), slack_api_url=slack.base_url,
        clinic_timezone="America/New_York"))
    assert notifier is not None
    return notifier


def test_a_locked_member_is_told_in_a_dm_in_clinic_time(slack_api: SlackApiRecorder) -> None:
    assert send_voice_lock_notice(_dms(slack_api), NURSE, UNTIL) is True
    assert slack_api.calls_to("conversations.open")[0].body["users"] == NURSE
    [dm] = [c.body for c in slack_api.calls_to("chat.postMessage")]
    assert dm["channel"] == "D01NURSE"
    assert dm["text"].startswith("Your voice access to the clinic line is locked until "
                                 "2026-11-20 16:00 EST after 5 wrong voice PINs")
    assert f"rpm-logger staff update {NURSE} --voice-unlock" in dm["text"]
    assert dm["blocks"][0]["type"] == "section"
    assert NURSE_PHONE not in str(dm) and NURSE_PHONE[-4:] not in str(dm)


def test_a_failed_dm_is_logged_and_the_lock_stands(slack_api: SlackApiRecorder,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    slack_api.script("conversations.open", ScriptedReply(200, {"ok": False,
                                                               "error": "user_not_found"}))
    with caplog.at_level(logging.ERROR, logger="rpm_logger.telephony"):
        assert send_voice_lock_notice(_dms(slack_api), NURSE, UNTIL) is False
    assert f"could not tell {NURSE} that their voice access is locked" in caplog.text
    assert not slack_api.calls_to("chat.postMessage")


def test_no_slack_means_no_dm() -> None:
    assert SlackCallDMs.from_settings(Settings(slack_bot_token=None)) is None
    assert send_voice_lock_notice(None, NURSE, UNTIL) is False
