"""`/rpm report [YYYY-MM]` (the CSV uploaded to the admin's DM with files_upload_v2, the
totals in the reply) and `/rpm month close YYYY-MM`, over real signed HTTP."""

import json
from datetime import UTC, datetime

from billing.months import Month
from presentation.render import SLACK_REPORT_COLUMNS, report_csv
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
    expected = report_csv(seeded.months.report(Month(2026, 11)), columns=SLACK_REPORT_COLUMNS)
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
    """Clinic finding (issue 26 item 12): a non-admin was first told "Building the report…
    will arrive in your DM", then "Only an admin may do that": the refusal is the answer."""
    sent = slack.command("report 2026-11", user=NURSE)
    text = sent.text
    assert "Only an admin may do that. Admins: <@U04ADMIN>." in text
    assert "Building the report" not in text and "P-1042" not in text
    assert all(slack_api.calls_to(m) == [] for m in UPLOADS)
    stranger = slack.command("report", user="U09NOBODY")
    assert "not set up as clinic staff" in stranger.text
    assert not any(c.path.startswith("/response") for c in slack_api.calls)


def test_a_bad_month_is_explained(slack: SlackSender, slack_api: SlackApiRecorder) -> None:
    assert "Give at most one month, as YYYY-MM" in slack.command("report nov", user=ADMIN).text
    # a refusal is the answer itself, never after "Building the report…" (issue 26 item 12)
    assert "Cannot read month '2026-13'" in slack.command("report 2026-13", user=ADMIN).text
    year_one = slack.command("report 0001-01", user=ADMIN)  # was an OverflowError
    assert "Not a month: 0001-01" in year_one.text
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
    loose = slack.command("month close 2026-1", user=ADMIN)
    assert "'2026-01', not '2026-1'" in loose.text
    asked = slack.command("month close 2026-10", user=ADMIN)
    assert "Close *2026-10*? It locks 0 patients (0 billable) · no codes · $0.00" in asked.text
    assert "Nothing in 2026-10 to bill" in all_text(asked.body)
    assert seeded.closes.get(Month(2026, 10)) is None  # asking changes nothing
    [button] = [e for b in asked.body["blocks"] if b["type"] == "actions"
                for e in b["elements"]]
    assert (button["action_id"], button["value"]) == ("close_month", "2026-10")
    nurse_click = slack.action("close_month", "2026-10", user=NURSE)
    assert "Only an admin" in all_text(_response(slack, nurse_click.response_url).body)
    clicked = slack.action("close_month", "2026-10", user=ADMIN)
    posted = _response(slack, clicked.response_url)
    assert posted.body["replace_original"] is True
    assert "🔒 Closed 2026-10 (billed) by Ada Admin (U04ADMIN): 0 patients" in all_text(posted.body)
    view = seeded.closes.get(Month(2026, 10))
    assert view is not None and view.closed_by == f"Ada Admin ({ADMIN})"
    assert "already closed" in slack.command("month close 2026-10", user=ADMIN).text
    assert "Use `month close YYYY-MM`" in slack.command("month close", user=ADMIN).text
    late = slack.command("log P-1042 5m review on 2026-10-30")
    assert "2026-10 is closed" in late.text


def test_an_admin_reopens_a_mistaken_close(slack: SlackSender, seeded: Service) -> None:
    seeded.closes.close(Month(2026, 10), by=ADMIN)
    assert "Use `month close YYYY-MM` or `month reopen YYYY-MM REASON`" in slack.command(
        "month reopen 2026-10", user=ADMIN).text
    assert "Only an admin" in slack.command("month reopen 2026-10 wrong month").text
    asked = slack.command("month reopen 2026-10 closed the wrong month", user=ADMIN)
    assert "Reopen *2026-10*? It was closed by Ada Admin (U04ADMIN)" in asked.text
    assert "Were its claims sent?" in asked.text
    assert "A billed month is normally amended, not reopened" in all_text(asked.body)
    buttons = {b["action_id"]: b for block in asked.body["blocks"] if block["type"] == "actions"
               for b in block["elements"]}
    assert set(buttons) == {"reopen_month_billed", "reopen_month_not_billed"}
    assert seeded.closes.get(Month(2026, 10)) is not None  # asking changed nothing
    value = buttons["reopen_month_not_billed"]["value"]
    nurse_click = slack.action("reopen_month_not_billed", value, user=NURSE)
    assert "Only an admin" in all_text(_response(slack, nurse_click.response_url).body)
    assert seeded.closes.get(Month(2026, 10)) is not None
    clicked = slack.action("reopen_month_not_billed", value, user=ADMIN)
    posted = all_text(_response(slack, clicked.response_url).body)
    assert ("🔓 Reopened 2026-10 by Ada Admin (U04ADMIN): closed the wrong month "
            "(not billed yet") in posted
    assert seeded.closes.get(Month(2026, 10)) is None
    assert [(v.action, v.billed) for v in seeded.closes.history(Month(2026, 10))] == [
        ("close", None), ("reopen", False)]
    again = slack.action("reopen_month_billed", value, user=ADMIN)
    assert "not closed, so there is nothing to reopen" in all_text(
        _response(slack, again.response_url).body)
    expired = slack.action("reopen_month_billed", "{}", user=ADMIN)
    assert "That question has expired" in all_text(_response(slack, expired.response_url).body)


def test_the_billed_button_reopens_a_billed_month(slack: SlackSender, seeded: Service) -> None:
    seeded.closes.close(Month(2026, 10), by=ADMIN)
    asked = slack.command("month reopen 2026-10 a review was missed", user=ADMIN)
    [value] = {b["value"] for block in asked.body["blocks"] if block["type"] == "actions"
               for b in block["elements"]}
    clicked = slack.action("reopen_month_billed", value, user=ADMIN)
    posted = all_text(_response(slack, clicked.response_url).body)
    assert "(its claims had been sent: later closes are compared with what was billed)" \
        in posted
    assert [v.billed for v in seeded.closes.history(Month(2026, 10))] == [None, True]


def test_the_report_shows_billed_at_close_vs_now_and_the_slack_csv_leaves_out_phi(
    slack: SlackSender, slack_api: SlackApiRecorder, seeded: Service,
) -> None:
    from service.closes import Amendment
    from tests.service.helpers import log

    log(seeded, "12m", "call", started_at=datetime(2026, 10, 20, 15, tzinfo=UTC))
    review = log(seeded, "10m", started_at=datetime(2026, 10, 21, 15, tzinfo=UTC))
    seeded.closes.close(Month(2026, 10), by=ADMIN)
    seeded.ctx.clock.advance(minutes=5)  # type: ignore[attr-defined]
    seeded.entries.void(review, reason="wrong patient", by=ADMIN,
                        amendment=Amendment(reason="wrong patient", by=ADMIN))
    sent = slack.command("report 2026-10", user=ADMIN)
    text = all_text(_response(slack, sent.response_url).body)
    assert "P-1042 (JD): billed 99457 at close, supports 99470 now" in text
    assert "wrong patient" in text and "refund owed $26.00" in text
    [upload] = [c for c in slack_api.calls if c.path.startswith("/upload/")]
    header = upload.body["raw"].splitlines()[0].split(",")
    assert "conditions" not in header and "consent_on" not in header
    assert "billed_at_close" in header and "I10" not in upload.body["raw"]


def test_an_outage_is_explained_without_a_stack_trace(
    slack: SlackSender, slack_api: SlackApiRecorder, seeded: Service,
) -> None:
    with writes_fail(seeded.ctx.db):
        clicked = slack.action("close_month", "2026-10", user=ADMIN)
        closed = _response(slack, clicked.response_url)
    assert "*not saved — try again*" in all_text(closed.body)
    assert seeded.closes.get(Month(2026, 10)) is None
    db, down = seeded.ctx.db, Database("postgresql+psycopg://nobody@127.0.0.1:1/x")
    real = db.engine, db._write_engine
    db.engine, db._write_engine = down.engine, down._write_engine
    try:
        text = slack.command("report 2026-11", user=ADMIN).text  # answered in the ack
    finally:
        db.engine, db._write_engine = real
    assert "so I cannot build the report — try again" in text and "Traceback" not in text
    assert slack_api.calls_to("files.getUploadURLExternal") == []
