"""The lock DM: telephony asks its `CallNotifier` to tell a locked member, and each active
admin of a lock or of the clinic-wide pause (issue 27); the Slack side (bot/call_dms.py)
sends them with the real slack_sdk client to the recording Slack API, in clinic time, with
no digits and no number. A failure is logged and never raises."""

import logging
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from bot.call_dms import SlackCallDMs
from configuration.settings import Settings
from service.voice_access import LockNotice, PauseNotice
from telephony.notify import send_voice_lock_notice, send_voice_notices
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


ADMINS = ("U04ADMIN", "U08ALEX")


def test_a_lock_is_told_to_the_member_and_each_admin(slack_api: SlackApiRecorder) -> None:
    sent = send_voice_notices(_dms(slack_api), (LockNotice(NURSE, UNTIL, ADMINS),))
    assert sent == 3
    dms = {c.body["channel"]: c.body["text"] for c in slack_api.calls_to("chat.postMessage")}
    assert set(dms) == {"D01NURSE", "D04ADMIN", "D08ALEX"}
    assert dms["D01NURSE"].startswith("Your voice access to the clinic line is locked")
    for admin in ("D04ADMIN", "D08ALEX"):
        assert dms[admin].startswith(f"<@{NURSE}>'s voice access to the clinic line is locked "
                                     "until 2026-11-20 16:00 EST after 5 wrong voice PINs")
        assert f"`rpm-logger staff update {NURSE} --voice-unlock`" in dms[admin]
    assert NURSE_PHONE not in str(dms) and NURSE_PHONE[-4:] not in str(dms)


def test_a_pause_is_told_to_each_admin(slack_api: SlackApiRecorder) -> None:
    assert send_voice_notices(_dms(slack_api), (PauseNotice(UNTIL, 20, ADMINS),)) == 2
    [first, second] = [c.body for c in slack_api.calls_to("chat.postMessage")]
    assert (first["channel"], second["channel"]) == ("D04ADMIN", "D08ALEX")
    assert first["text"] == second["text"] == (
        "The voice menu is paused for the whole clinic: 20 wrong voice PINs within an hour, "
        "which looks like guessing with forged caller ids. Every PIN is refused until about "
        "2026-11-20 16:00 EST; it opens again by itself. Staff can still use Slack, and 0 on "
        "the phone still reaches a person.")


def test_one_failed_admin_dm_is_logged_and_the_others_still_go(
        slack_api: SlackApiRecorder, caplog: pytest.LogCaptureFixture) -> None:
    slack_api.script("conversations.open", ScriptedReply(200, {"ok": False,
                                                               "error": "user_not_found"}))
    with caplog.at_level(logging.ERROR, logger="rpm_logger.telephony"):
        sent = send_voice_notices(_dms(slack_api), (PauseNotice(UNTIL, 20, ADMINS),))
    assert sent == 1
    assert "could not tell admin U04ADMIN of a voice pause" in caplog.text
    assert [c.body["channel"] for c in slack_api.calls_to("chat.postMessage")] == ["D08ALEX"]
    assert send_voice_notices(None, (PauseNotice(UNTIL, 20, ADMINS),)) == 0
