"""Issue 27.6 in Slack, over real signed HTTP on both databases: only 0-9 are digits. A
duration, a date or a month typed in other digits ('１２m', '٣m', '２０２６-１１') is refused with
that reason and nothing is saved or sent."""

import pytest

from service import Service
from tests.bot.conftest import SlackSender
from tests.bot.helpers import entries
from tests.fakes.slack_api import SlackApiRecorder
from tests.service.helpers import ADMIN

REASON = "only the digits 0 to 9 are read"


@pytest.mark.parametrize("text", [
    "log P-1042 １２m review", "log P-1042 ٣m review", "log P-1042 12 ٣ review",
    "log １２m review",  # no patient: '１２m' was taken for one, then 'review' refused
])
def test_a_duration_in_other_digits_is_refused_with_the_reason(
        slack: SlackSender, seeded: Service, text: str) -> None:
    sent = slack.command(text)
    assert sent.response.status_code == 200
    word = next(w for w in text.split() if any(c in w for c in "١٢٣１２"))
    # the duration's place: the service's refusal, as for 0m (issue 26.15); else the usage
    refusal = "🚫 Cannot use duration" if word.endswith("m") else "Cannot read"
    assert sent.text.startswith(f"{refusal} '{word}': {REASON}"), sent.text
    assert entries(seeded) == []
    saved = slack.command("log P-1042 12m review")
    assert "Saved entry #1: 12 min of review" in saved.text


def test_a_date_in_other_digits_is_refused_not_read_as_a_note(slack: SlackSender,
                                                              seeded: Service) -> None:
    sent = slack.command("log P-1042 12m review on ２０２６-１１-１９")
    assert sent.text.startswith(f"Cannot read '２０２６-１１-１９': {REASON}."), sent.text
    assert entries(seeded) == []


def test_a_month_in_other_digits_is_refused_and_no_report_is_sent(
        slack: SlackSender, slack_api: SlackApiRecorder) -> None:
    """`/rpm report ２０２６-１１` built and sent November's report."""
    sent = slack.command("report ２０２６-１１", user=ADMIN)
    assert sent.text.startswith(f"Cannot read '２０２６-１１': {REASON}."), sent.text
    assert slack_api.calls_to("files.getUploadURLExternal") == []
    for text in ("month close ２０２６-１０", "packet P-1042 ２０２６-１０"):
        assert slack.command(text, user=ADMIN).text.startswith("Cannot read '２０２６-１０'")
