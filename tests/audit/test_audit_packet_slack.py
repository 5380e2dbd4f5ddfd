"""`/rpm packet PATIENT_ID [YYYY-MM]` through signed requests to the real app on loopback:
an admin gets the packet's dashboard link in their DM (never the packet or its content),
anyone else is refused as for other admin commands."""

import pytest

from configuration.settings import Settings
from service import Service
from tests.bot.conftest import SECRET, SlackSender, all_text
from tests.fakes.slack_api import RecordedCall, SlackApiRecorder
from tests.service.helpers import ADMIN, NURSE, log

BASE = "https://rpm.clinic.example"


@pytest.fixture
def slack_settings(slack_api: SlackApiRecorder) -> Settings:
    return Settings(slack_signing_secret=SECRET, slack_bot_token="xoxb-test",
                    slack_api_url=slack_api.base_url, reminders_enabled=False,
                    public_base_url=BASE)


def _final(slack: SlackSender, response_url: str | None) -> RecordedCall:
    assert response_url is not None
    [posted] = slack.wait_for("/" + response_url.split("/", 3)[3])
    return posted


def test_an_admin_gets_the_dashboard_link_in_a_dm(slack: SlackSender, slack_api: SlackApiRecorder,
                                                  seeded: Service) -> None:
    log(seeded, "21m", "call", note="Reviewed BP log; dose kept")
    sent = slack.command("packet p-1042 2026-11", user=ADMIN)
    assert "link will arrive in your DM" in sent.text
    reply = all_text(_final(slack, sent.response_url).body)
    assert "Sent the audit packet link for P-1042 (JD), 2026-11 to your DM" in reply
    [opened] = slack_api.calls_to("conversations.open")
    assert opened.body["users"] == ADMIN
    [dm] = slack_api.calls_to("chat.postMessage")
    assert dm.body["channel"] == "D04ADMIN"
    text = all_text(dm.body)
    assert f"<{BASE}/patients/P-1042/packet?month=2026-11|" in text
    assert "P-1042 (JD)" in text and "99457" in text
    # the link, never the packet: no note, consent date, condition, digest or phone
    for secret in ("Reviewed BP log", "2026-10-01", "I10", "555", "packet-data"):
        assert secret not in text and secret not in reply
    assert slack_api.calls_to("files.getUploadURLExternal") == []


def test_the_month_defaults_to_this_one(slack: SlackSender, slack_api: SlackApiRecorder) -> None:
    sent = slack.command("packet P-1042", user=ADMIN)
    _final(slack, sent.response_url)
    [dm] = slack_api.calls_to("chat.postMessage")
    assert "/patients/P-1042/packet?month=2026-11" in all_text(dm.body)


def test_non_admins_and_strangers_are_refused(slack: SlackSender,
                                              slack_api: SlackApiRecorder) -> None:
    # a refusal is the answer itself, never after a "working" ack (issue 26 item 12)
    text = slack.command("packet P-1042 2026-11", user=NURSE).text
    assert "Only an admin may do that. Admins: <@U04ADMIN>." in text
    assert "not set up as clinic staff" in slack.command("packet P-1042", user="U09NOBODY").text
    assert slack_api.calls_to("conversations.open") == []
    assert slack_api.calls_to("chat.postMessage") == []


@pytest.mark.parametrize(("typed", "says"), [
    ("packet", "Name one patient by clinic id"),
    ("packet P-1042 nov", "Name one patient by clinic id"),
    ("packet +1 617 555 0123", "Name one patient by clinic id"),
    ("packet 617-555-0123", "phone numbers are PHI"),
])
def test_unreadable_commands_are_explained(slack: SlackSender, slack_api: SlackApiRecorder,
                                           typed: str, says: str) -> None:
    assert says in slack.command(typed, user=ADMIN).text
    assert slack_api.calls_to("chat.postMessage") == []


def test_an_unknown_patient_or_bad_month_is_a_refusal(slack: SlackSender,
                                                      slack_api: SlackApiRecorder) -> None:
    assert "Did you mean P-1042" in slack.command("packet P-1024", user=ADMIN).text
    assert "2026-13" in slack.command("packet P-1042 2026-13", user=ADMIN).text
    assert slack_api.calls_to("chat.postMessage") == []
