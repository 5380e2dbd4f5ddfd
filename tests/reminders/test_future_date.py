"""Clinic finding (issue 26 item 7): `remind --date` in the future ran today's figures and
claimed that day's messages, so the real run on that day said "already sent" and nobody heard
that day's risk. A future date is refused (exit 2, nothing claimed or sent); a dry run may
preview it and says its figures are today's."""

import calendar
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
    # outside auditor's retry: the note said "today's figures" while the days left were
    # counted from the future date; it says which is which, and they are so
    assert any(f"{tomorrow} is in the future: this preview counts the time logged and the "
               f"device reading days measured by today ({today}) and the days left from "
               f"{tomorrow}" in note
               for note in preview["notes"])
    month_end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    days_left = [p["days_left"] for m in preview["messages"] for p in m["patients"]]
    if today < month_end:  # tomorrow is in the same month
        assert max(days_left) == (month_end - today).days  # counted from tomorrow
    clock.advance(days=1)
    sent = json.loads(cli("remind", "--date", tomorrow, "--json").stdout)
    assert [o["status"] for o in sent["outcomes"]] == ["sent"] * 3
