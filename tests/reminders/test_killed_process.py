"""A real `rpm-logger remind` process, SIGKILLed while its first DM is on the wire: the
claim it took stays, no message reached Slack, and a later run that day sends it once."""

import signal
import subprocess
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import select

from service import Service
from store.models import ReminderClaim
from tests.cli.test_cli import SCRIPT, Cli
from tests.conftest import FrozenClock
from tests.fakes.slack_api import RecordedCall
from tests.reminders.conftest import with_slack
from tests.reminders.helpers import CHANNEL_ID, NURSE, OPTIONS, SlackWorkspace, sender

DAY = date(2026, 11, 15)


def _claims(svc: Service) -> dict[str, ReminderClaim]:
    with svc.ctx.db.read_session() as session:
        return {c.recipient: c for c in session.exec(select(ReminderClaim))}


class StallFirstOpen:
    """conversations.open that never answers the first caller, as when the process dies
    before Slack ever sees its message; later calls are answered normally."""

    def __init__(self, slack: SlackWorkspace) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self._first = True
        slack.api.on("conversations.open", self._open)

    def _open(self, call: RecordedCall) -> dict[str, Any]:
        if self._first:
            self._first = False
            self.arrived.set()
            self.release.wait(timeout=60)
        return {"ok": True, "channel": {"id": "D" + str(call.body.get("users", "U"))[1:]}}


def test_a_sigkilled_remind_process_is_sent_later_that_day_once(
    remind: Cli, clinic: Service, slack: SlackWorkspace, clock: FrozenClock,
) -> None:
    stall = StallFirstOpen(slack)
    cli = with_slack(remind, slack)
    process = subprocess.Popen([str(SCRIPT), "remind", "--date", DAY.isoformat()],
                               env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert stall.arrived.wait(timeout=60), "the remind process never reached Slack"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        stall.release.set()
        if process.poll() is None:
            process.kill()
    claim = _claims(clinic)[NURSE]
    assert claim.state == "claimed" and slack.accepted == []

    # the same day, after the 10-minute lease measured from the dead process's claim
    clock.now = datetime.now(UTC) + timedelta(minutes=11)
    run = clinic.reminders.run(sender(slack.api), DAY, OPTIONS, actor="later")
    assert [o.status for o in run.outcomes] == ["sent", "sent", "sent"]
    again = clinic.reminders.run(sender(slack.api), DAY, OPTIONS, actor="later")
    assert [o.status for o in again.outcomes] == ["already_sent"] * 3
    assert slack.channels() == sorted(["D01NURSE", "D02DOCTOR", CHANNEL_ID])
    assert (_claims(clinic)[NURSE].state, _claims(clinic)[NURSE].attempts) == ("sent", 2)
