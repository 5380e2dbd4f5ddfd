"""`rpm-logger remind`: dry run, JSON, sending once, the start-day rule (in this process
through the console entry point, on the clinic's frozen clock)."""

import json

from tests.cli.test_cli import Cli
from tests.reminders.conftest import with_slack
from tests.reminders.helpers import CHANNEL_ID, DOCTOR, NURSE, SlackWorkspace


def test_dry_run_json_shows_who_would_be_told_what_and_sends_nothing(
    remind: Cli, slack: SlackWorkspace,
) -> None:
    out = json.loads(with_slack(remind, slack)(
        "remind", "--date", "2026-11-15", "--dry-run", "--json").stdout)
    assert (out["date"], out["month"], out["dry_run"], out["skipped"]) == (
        "2026-11-15", "2026-11", True, None)
    assert [(m["kind"], m["recipient"], [p["patient"] for p in m["patients"]])
            for m in out["messages"]] == [
        ("dm", NURSE, ["P-2 (CD)", "P-1 (AB)"]), ("dm", DOCTOR, ["P-7 (MN)", "P-4 (GH)"]),
        ("channel", CHANNEL_ID, ["P-6 (KL)", "P-5 (IJ)"])]
    assert out["messages"][0]["patients"][1] == {
        "patient": "P-1 (AB)", "severity": "watch", "total_seconds": 720, "minutes": 12,
        "live": False, "days_left": 16, "minutes_needed": 8,
        "advice": "needs 8 more minutes and a live call"}
    assert out["messages"][2]["counts"] == {"critical": 1, "high": 1, "watch": 4}
    assert out["messages"][0]["text"].startswith("RPM: 2 patients need time this month")
    assert [o["status"] for o in out["outcomes"]] == ["planned"] * 3
    assert slack.api.calls == []


def test_remind_sends_once_and_the_dry_run_then_says_so(
    remind: Cli, slack: SlackWorkspace,
) -> None:
    cli = with_slack(remind, slack)
    first = cli("remind", "--date", "2026-11-15")
    assert first.stdout.splitlines()[:4] == [
        "Reminders for 2026-11-15 (month 2026-11)",
        "  dm U01NURSE: 2 patients: sent",
        "    P-2 (CD) [critical]: 0 / 20 min · live ✗ · 3 days left: "
        "needs 20 more minutes and a live call",
        "    P-1 (AB) [watch]: 12 / 20 min · live ✗ · 16 days left: "
        "needs 8 more minutes and a live call",
    ]
    sent = [json.loads(cli("remind", "--date", "2026-11-15", "--json").stdout)]
    sent.append(json.loads(cli("remind", "--date", "2026-11-15", "--dry-run", "--json").stdout))
    assert [o["status"] for o in sent[0]["outcomes"]] == ["already_sent"] * 3
    assert [o["status"] for o in sent[1]["outcomes"]] == ["already_sent"] * 3
    assert slack.channels() == sorted([CHANNEL_ID, "D01NURSE", "D02DOCTOR"])


def test_before_the_start_day_nothing_is_planned(remind: Cli) -> None:
    out = remind("remind", "--date", "2026-11-14", "--dry-run").stdout
    assert out == ("Reminders for 2026-11-14 (month 2026-11), dry run: nothing sent\n"
                   "  2026-11-14 is before the start day (15): no reminders\n")


def test_refusals_and_failures(remind: Cli, slack: SlackWorkspace) -> None:
    bad = remind("remind", "--date", "15/11/2026", "--dry-run", code=2)
    assert "'15/11/2026' is not a date: use YYYY-MM-DD" in bad.stderr
    unconfigured = remind("remind", "--date", "2026-11-15", code=2)
    assert "Slack is not configured: set SLACK_BOT_TOKEN" in unconfigured.stderr
    slack.refuse["D01NURSE"] = "account_inactive"
    failed = with_slack(remind, slack)("remind", "--date", "2026-11-15", code=1)
    assert "dm U01NURSE: 2 patients: FAILED (slack chat.postMessage: account_inactive)" \
        in failed.stdout
    assert "1 reminder(s) failed; the scheduler retries them later today" in failed.stderr
    assert slack.channels() == sorted([CHANNEL_ID, "D02DOCTOR"])
