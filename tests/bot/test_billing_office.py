"""`/rpm report [YYYY-MM]` (the CSV uploaded to the admin's DM with files_upload_v2, the
totals in the reply) and `/rpm month close YYYY-MM`, over real signed HTTP."""

import json

from billing.months import Month
from rpm_logger.render import report_csv
from service import Service
from store.db import Database
from tests.bot.conftest import SlackSender, all_text
from tests.bot.helpers import writes_fail
from tests.fakes.slack_api import RecordedCall, ScriptedReply, SlackApiRecorder
from tests.service.helpers import ADMIN, NURSE

UPLOADS = ("conversations.open", "files.getUploadURLExternal", "files.completeUploadExternal")


def _response(slack: SlackSender, response_url: str | None) -> RecordedCall:
    assert response_url is not None
    [posted] = slack.wait_for("/" + response_url.split("/", 3)[3])
    return posted


def test_an_admin_gets_the_csv_in_a_dm_and_the_totals_in_the_reply(
    slack: SlackSender, slack_api: SlackApiRecorder, seeded: Service,
) -> None:
    slack.command("log P-1042 21m review")
    slack.command("log P-1042 5m call")
    sent = slack.command("report 2026-11", user=ADMIN)
    assert "Building the report" in sent.text
    posted = _response(slack, sent.response_url)
    assert posted.body["replace_original"] is True
    assert posted.body["response_type"] == "ephemeral"
    text = all_text(posted.body)
    assert "📄 Sent `rpm-report-2026-11.csv` to your DM with me." in text
    assert ("*2026-11*: 1 patients · 1 billable · earned so far $52.00 · at risk $0.00 "
            "(0 patients) · open (not closed)") in text

    [opened] = slack_api.calls_to("conversations.open")
    assert opened.body["users"] == ADMIN
    [asked] = slack_api.calls_to("files.getUploadURLExternal")
    assert asked.body["filename"] == "rpm-report-2026-11.csv"
    [upload] = [c for c in slack_api.calls if c.path.startswith("/upload/")]
    expected = report_csv(seeded.months.report(Month(2026, 11)))
    assert upload.body["raw"] == expected and "P-1042" in expected
    assert asked.body["length"] == str(len(expected.encode()))
    [done] = slack_api.calls_to("files.completeUploadExternal")
    assert done.body["channel_id"] == "D04ADMIN"
    assert json.loads(done.body["files"])[0]["title"] == "rpm-report-2026-11.csv"
    assert "earned so far $52.00" in done.body["initial_comment"]


def test_the_report_defaults_to_this_month(slack: SlackSender,
                                          slack_api: SlackApiRecorder) -> None:
    sent = slack.command("report", user=ADMIN)
    assert "rpm-report-2026-11.csv" in all_text(_response(slack, sent.response_url).body)


def test_the_report_is_for_admins_only(slack: SlackSender, slack_api: SlackApiRecorder) -> None:
    sent = slack.command("report 2026-11", user=NURSE)
    text = all_text(_response(slack, sent.response_url).body)
    assert "Only an admin may do that. Admins: U04ADMIN." in text
    assert "P-1042" not in text
    assert all(slack_api.calls_to(m) == [] for m in UPLOADS)
    stranger = slack.command("report", user="U09NOBODY")
    assert "not set up as clinic staff" in all_text(_response(slack, stranger.response_url).body)


def test_a_bad_month_is_explained(slack: SlackSender, slack_api: SlackApiRecorder) -> None:
    assert "Give at most one month, as YYYY-MM" in slack.command("report nov", user=ADMIN).text
    sent = slack.command("report 2026-13", user=ADMIN)
    assert "Cannot read month '2026-13'" in all_text(_response(slack, sent.response_url).body)
    assert slack_api.calls_to("files.getUploadURLExternal") == []


def test_a_refused_upload_says_so_and_still_gives_the_totals(
    slack: SlackSender, slack_api: SlackApiRecorder,
) -> None:
    slack_api.script("files.getUploadURLExternal",
                     ScriptedReply(body={"ok": False, "error": "missing_scope"}))
    slack.command("log P-1042 21m review")
    sent = slack.command("report 2026-11", user=ADMIN)
    text = all_text(_response(slack, sent.response_url).body)
    assert "could not be uploaded to your DM" in text and "Sent" not in text
    assert "*2026-11*: 1 patients" in text
    assert slack_api.calls_to("files.completeUploadExternal") == []


def test_an_admin_closes_a_month_that_has_ended(slack: SlackSender, seeded: Service) -> None:
    refused = slack.command("month close 2026-10")
    assert "Only an admin may do that" in refused.text
    assert seeded.closes.get(Month(2026, 10)) is None
    early = slack.command("month close 2026-11", user=ADMIN)
    assert "2026-11 has not ended yet" in early.text
    closed = slack.command("month close 2026-10", user=ADMIN)
    assert "🔒 Closed 2026-10 (billed) by <@U04ADMIN>." in closed.text
    assert "refused, except an admin amendment that records its reason" in closed.text
    view = seeded.closes.get(Month(2026, 10))
    assert view is not None and view.closed_by == ADMIN
    assert "already closed" in slack.command("month close 2026-10", user=ADMIN).text
    assert "Use `month close YYYY-MM`" in slack.command("month close", user=ADMIN).text
    late = slack.command("log P-1042 5m review on 2026-10-30")
    assert "2026-10 is closed" in late.text


def test_an_outage_is_explained_without_a_stack_trace(
    slack: SlackSender, slack_api: SlackApiRecorder, seeded: Service,
) -> None:
    with writes_fail(seeded.ctx.db):
        closed = slack.command("month close 2026-10", user=ADMIN)
    assert "*not saved — try again*" in closed.text
    assert seeded.closes.get(Month(2026, 10)) is None
    db, down = seeded.ctx.db, Database("postgresql+psycopg://nobody@127.0.0.1:1/x")
    real = db.engine, db._write_engine
    db.engine, db._write_engine = down.engine, down._write_engine
    try:
        sent = slack.command("report 2026-11", user=ADMIN)
        text = all_text(_response(slack, sent.response_url).body)
    finally:
        db.engine, db._write_engine = real
    assert "so I cannot build the report — try again" in text and "Traceback" not in text
    assert slack_api.calls_to("files.getUploadURLExternal") == []
