"""`/rpm month close` says the month's self-audit findings before the Confirm button (counts
per check only: no patient in Slack), and the close still works (signed HTTP on loopback)."""

from datetime import UTC, date, datetime

from billing.months import Month
from service import Service
from service.patients import PatientFields
from tests.bot.conftest import SlackSender, all_text
from tests.service.helpers import ADMIN, DOCTOR, log

OCT = Month(2026, 10)


def test_the_close_confirmation_says_the_findings(slack: SlackSender, seeded: Service) -> None:
    clean = slack.command("month close 2026-09", user=ADMIN)
    assert "✅ 0 findings: the self-audit checks ran clean on 2026-09." in all_text(clean.body)
    log(seeded, "25m", "call", note="ok", started_at=datetime(2026, 10, 20, 14, tzinfo=UTC))
    seeded.patients.update("P-1042", PatientFields(ordered_by=DOCTOR,
                                                   order_on=date(2026, 9, 1)), actor="test")
    asked = slack.command("month close 2026-10", user=ADMIN)
    text = all_text(asked.body)
    assert ("🔎 4 findings: 1 thin_documentation, 1 live_without_evidence, "
            "1 late_documentation, 1 time_without_device_data (information: the close still "
            "works") in text
    # the findings are counts per check: no patient named in them; the patients billed are
    # listed apart, with their time and device codes (clinic id and initials only)
    [findings] = [line for line in text.splitlines() if "findings" in line]
    assert "P-1042" not in findings
    assert "P-1042 (JD): time codes 99457; device codes none" in text
    clicked = slack.action("close_month", "2026-10", user=ADMIN)
    assert clicked.response.status_code == 200
    slack.wait_for("/" + (clicked.response_url or "").split("/", 3)[3])
    closed = seeded.closes.get(OCT)
    assert closed is not None and closed.billable == 1
