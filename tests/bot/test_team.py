"""Issue 27.8a: SLACK_TEAM_ID. Set, a slash command, an action, a form or an event from any
other workspace gets 403 before any listener runs, over real signed HTTP on both databases,
and changes nothing; unset, any team is served (the default)."""

import json
import logging

import pytest
from pydantic import ValidationError

from configuration.settings import Settings
from presentation import blocks
from rpm_logger.wiring import describe_configuration
from service import Service
from tests.bot.conftest import TEAM, SlackSender
from tests.bot.helpers import entries
from tests.service.helpers import NURSE

OTHER_TEAM = "T9OTHER"


def test_the_clinics_own_team_is_served(one_team_slack: SlackSender, seeded: Service) -> None:
    sent = one_team_slack.command("log P-1042 12m review")
    assert sent.response.status_code == 200
    assert "Saved entry #1" in sent.text
    assert len(entries(seeded)) == 1


def test_every_kind_of_request_from_another_team_is_403_and_changes_nothing(
        one_team_slack: SlackSender, seeded: Service,
        caplog: pytest.LogCaptureFixture) -> None:
    slack = one_team_slack
    slack.team = OTHER_TEAM
    caplog.set_level(logging.WARNING, logger="rpm_logger.bot")
    sent = [
        slack.command("log P-1042 12m review"),
        slack.action(blocks.HOME_START_ACTION, "P-1042", channel=None, container="view"),
        slack.view_submission("anything", "{}", {}),
        slack.event({"type": "app_home_opened", "user": NURSE, "channel": "D0HOME",
                     "tab": "home", "event_ts": "1.1"}),
    ]
    assert [s.response.status_code for s in sent] == [403] * 4
    assert all(s.body == {"error": "not this clinic's Slack workspace"} for s in sent)
    assert entries(seeded) == [] and seeded.timers.current(NURSE) is None
    # refused before Bolt saw them: no auth.test, no reply posted, no App Home published
    assert slack.recorder.calls == []
    refusals = [r.getMessage() for r in caplog.records if "refused (403)" in r.getMessage()]
    assert refusals == [f"Slack request from team {OTHER_TEAM} refused (403): SLACK_TEAM_ID "
                        f"is {TEAM}"] * 4


def test_unset_any_team_is_served(slack: SlackSender, seeded: Service) -> None:
    slack.team = OTHER_TEAM
    assert "Saved entry #1" in slack.command("log P-1042 12m review").text


def test_slacks_url_verification_names_no_team_and_still_passes(
        one_team_slack: SlackSender) -> None:
    """Slack checks the Request URL with a payload that has no team: refused, the app could
    not be set up."""
    body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})
    response = one_team_slack.post(body, "application/json")
    assert response.status_code == 200 and response.json() == {"challenge": "c-123"}


def test_a_request_naming_no_team_is_refused(one_team_slack: SlackSender,
                                             seeded: Service) -> None:
    """An org-wide install's payload may carry only an enterprise id: not this workspace."""
    one_team_slack.team = ""
    assert one_team_slack.command("log P-1042 12m review").response.status_code == 403
    assert entries(seeded) == []


@pytest.mark.parametrize("value", ["E0123ABCD", "t0123", "T 123", "T١٢٣", "https://x.slack.com"])
def test_a_team_id_of_the_wrong_shape_is_refused_at_start(value: str) -> None:
    """A typo would refuse every request: it is refused before the app starts instead."""
    with pytest.raises(ValidationError, match="is not a Slack team id: a workspace id starts "
                                              "with T"):
        Settings(slack_team_id=value)


def test_the_setting_is_read_from_the_environment_and_said_at_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_API_URL", raising=False)
    monkeypatch.setenv("SLACK_TEAM_ID", " T0123ABCD ")
    settings = Settings(slack_signing_secret="s", slack_bot_token="xoxb-t")
    assert settings.slack_team_id == "T0123ABCD"
    assert "slack: configured (API at https://slack.com/api/; team T0123ABCD only)" \
        in describe_configuration(settings)
    monkeypatch.setenv("SLACK_TEAM_ID", "")
    settings = Settings(slack_signing_secret="s", slack_bot_token="xoxb-t")
    assert settings.slack_team_id is None
    assert "slack: configured (API at https://slack.com/api/; any team; set SLACK_TEAM_ID " \
        "to serve one workspace)" in describe_configuration(settings)


@pytest.mark.parametrize("order", [(OTHER_TEAM, TEAM), (TEAM, OTHER_TEAM)])
def test_a_signed_body_naming_a_field_twice_is_refused(one_team_slack: SlackSender,
                                                       seeded: Service,
                                                       order: tuple[str, str]) -> None:
    """Outside attacker: `team_id=T0EVIL&team_id=T0CLINIC` passed the team check (readers
    keeping the first and the last value disagreed) and ran the command. Slack never repeats
    a field: 400, nothing runs."""
    from urllib.parse import urlencode

    body = urlencode([("team_id", order[0]), ("team_id", order[1]), ("user_id", NURSE),
                      ("channel_id", "C0CHAN"), ("command", "/rpm"),
                      ("text", "log P-1042 12m review"), ("response_url", "http://127.0.0.1:9/x")])
    response = one_team_slack.post(body, "application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert entries(seeded) == [] and one_team_slack.recorder.calls == []
