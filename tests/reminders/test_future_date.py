"""Clinic finding (issue 26 item 7): `remind --date` in the future ran today's figures and
claimed that day's messages, so the real run on that day said "already sent" and nobody heard
that day's risk. A future date is refused (exit 2, nothing claimed or sent); a dry run may
preview it and says its figures are today's."""

import json
from datetime import timedelta

from service import Service
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.reminders.conftest import with_slack
from tests.reminders.helpers import SlackWorkspace


def test_a_future_date_is_refused_and_its_day_still_sends(
    remind: Cli, slack: SlackWorkspace, clinic: Service, clock: FrozenClock,
) -> None:
    today = clinic.reminders.today()
    tomorrow = (today + timedelta(days=1)).isoformat()
    cli = Cli(with_slack(remind, slack).env, clock=clock)
    refused = cli("remind", "--date", tomorrow, code=2)
    assert f"Cannot send the reminders of {tomorrow}: it is in the future (today is " \
           f"{today} in the clinic's time zone)" in refused.stderr
    assert slack.api.calls == []
    preview = json.loads(cli("remind", "--date", tomorrow, "--dry-run", "--json").stdout)
    assert [o["status"] for o in preview["outcomes"]] == ["planned"] * 3
    assert any("in the future: this preview uses today's figures" in note
               for note in preview["notes"])
    clock.advance(days=1)
    sent = json.loads(cli("remind", "--date", tomorrow, "--json").stdout)
    assert [o["status"] for o in sent["outcomes"]] == ["sent"] * 3
