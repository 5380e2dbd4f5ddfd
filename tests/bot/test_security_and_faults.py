"""Signatures, database outages and the 3-second budget, over real loopback HTTP."""

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.listeners import budget
from rpm_logger.app import create_app
from rpm_logger.settings import Settings
from service import Service
from store.db import Database
from tests.bot.conftest import SECRET, SlackSender, all_text, serve, sign
from tests.bot.helpers import entries, writes_fail
from tests.bot.test_grammar import WORDS
from tests.conftest import FrozenClock
from tests.fakes.slack_api import ScriptedReply, SlackApiRecorder
from tests.loopback import free_port


def _form(text: str) -> str:
    return ("token=x&team_id=T1&channel_id=C0CHAN&user_id=U01NURSE&command=%2Frpm"
            f"&text={text}&response_url=http%3A%2F%2F127.0.0.1%3A9%2Fr")


@pytest.mark.parametrize("case", ["forged", "expired", "missing", "future", "tampered"])
def test_bad_signatures_get_401_and_change_nothing(slack: SlackSender, seeded: Service,
                                                   case: str) -> None:
    body = _form("log+P-1042+12m+review")
    now = int(time.time())
    kind = "application/x-www-form-urlencoded"
    if case == "forged":
        response = slack.post(body, kind, signature=sign(body, now, "not-the-secret"))
    elif case == "expired":  # Slack's limit: older than 5 minutes
        response = slack.post(body, kind, timestamp=now - 301,
                              signature=sign(body, now - 301, SECRET))
    elif case == "future":
        response = slack.post(body, kind, timestamp=now + 301,
                              signature=sign(body, now + 301, SECRET))
    elif case == "tampered":
        response = slack.post(body.replace("12m", "99m"), kind, signature=sign(body, now))
    else:
        response = slack.http.post(slack.url, content=body.encode(),
                                   headers={"Content-Type": kind})
    assert response.status_code == 401
    assert entries(seeded) == []
    assert slack.recorder.calls == []  # not even auth.test: refused before any listener


def test_a_four_minute_old_signature_is_still_accepted(slack: SlackSender,
                                                       seeded: Service) -> None:
    sent = slack.command("log P-1042 12m review", timestamp=int(time.time()) - 240)
    assert sent.response.status_code == 200 and "Saved entry #1" in sent.text


def test_a_write_outage_says_not_saved_try_again(slack: SlackSender, seeded: Service,
                                                 clock: FrozenClock) -> None:
    slack.command("start P-1042")
    clock.advance(minutes=3)
    with writes_fail(seeded.ctx.db):
        sent = slack.command("log P-1042 12m review")
        assert sent.response.status_code == 200
        assert "*not saved — try again*" in sent.text
        assert "Saved" not in sent.text
        stop = slack.command("stop")
        assert "not saved — try again" in stop.text
    assert entries(seeded) == []
    assert "Timer for *P-1042 (JD)*" in slack.command("timer").text  # still running
    assert "Saved entry #1" in slack.command("log P-1042 12m review").text


def test_a_full_outage_answers_every_command_without_a_stack_trace(
    slack: SlackSender, seeded: Service
) -> None:
    db, down = seeded.ctx.db, Database("postgresql+psycopg://nobody@127.0.0.1:1/x")
    real = db.engine, db._write_engine
    db.engine, db._write_engine = down.engine, down._write_engine
    try:
        for text in ("log P-1042 12m review", "undo", "use P-1042", "void 1 x", "start P-1042"):
            sent = slack.command(text)
            assert sent.response.status_code == 200, text
            assert "not saved — try again" in sent.text, text
        for text in ("status", "status P-1042", "risk", "timer"):
            sent = slack.command(text)
            assert "database is not answering right now" in sent.text, text
            assert "try again" in sent.text and "Traceback" not in sent.text
        assert "*/rpm commands*" in slack.command("help").text  # help needs no database
    finally:
        db.engine, db._write_engine = real


def test_slow_work_acks_at_once_and_confirms_through_response_url_after_commit(
    slack: SlackSender, seeded: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget, "ACK_DEADLINE_SECONDS", 0)
    sent = slack.command("log P-1042 12m review")
    assert "Saving…" in sent.text and "Saved" not in sent.text
    [posted] = slack.wait_for("/" + sent.response_url.split("/", 3)[3])
    assert "Saved entry #1" in all_text(posted.body)
    assert posted.body["response_type"] == "ephemeral"
    assert len(entries(seeded)) == 1


def test_replies_come_back_well_within_three_seconds(slack: SlackSender) -> None:
    """Not a timed assertion: the ack path answered inline (no 'Saving…' fallback), which
    happens only when the work finished inside the ack deadline."""
    slack.command("help")  # first request: Bolt's auth.test
    for text in ("log P-1042 1m review", "status", "status P-1042", "risk", "timer"):
        assert "Saving…" not in slack.command(text).text


def test_url_verification_is_answered_when_signed(slack: SlackSender) -> None:
    body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})
    response = slack.post(body, "application/json")
    assert response.status_code == 200 and response.json() == {"challenge": "c-123"}
    forged = slack.post(body, "application/json", signature="v0=" + "0" * 64)
    assert forged.status_code == 401


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
       | st.lists(WORDS, min_size=1, max_size=7).map(" ".join))
def test_fuzz_over_http_every_input_gets_a_200_reply(slack: SlackSender, text: str) -> None:
    sent = slack.command(text)
    assert sent.response.status_code == 200
    assert sent.body["text"].strip() and "Something went wrong" not in sent.text


def test_an_unreachable_slack_api_at_the_first_command_still_saves_and_replies(
    seeded: Service,
) -> None:
    """Bolt's first-request auth.test fails to connect: the command is answered anyway (it
    needs no Web API), and auth.test is asked again on the next request, not cached."""
    closed = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    settings = Settings(slack_signing_secret=SECRET, slack_bot_token="xoxb-test",
                        slack_api_url=closed, reminders_enabled=False)
    with serve(create_app(settings, service=seeded)) as url:
        sender = SlackSender(url, SlackApiRecorder())
        try:
            first = sender.command("log P-1042 12m review")
            second = sender.command("status P-1042")
        finally:
            sender.http.close()
    assert first.response.status_code == 200 and "Saved entry #1" in first.text
    assert second.response.status_code == 200 and "P-1042" in second.text
    assert [e.duration_seconds for e in entries(seeded)] == [720]


def test_a_revoked_bot_token_is_refused_by_slack_and_nothing_is_saved(
    slack: SlackSender, seeded: Service
) -> None:
    slack.recorder.script("auth.test", ScriptedReply(body={"ok": False,
                                                           "error": "invalid_auth"}))
    sent = slack.command("log P-1042 12m review")
    assert "Saved" not in sent.text
    assert entries(seeded) == []


def test_a_nul_character_in_a_note_is_refused_and_saves_nothing(slack: SlackSender,
                                                                seeded: Service) -> None:
    """PostgreSQL cannot store NUL; both backends refuse it the same way (store/db.py)."""
    sent = slack.command("log P-1042 12m review left a message\x00")
    assert sent.response.status_code == 200
    assert "NUL character" in sent.text and "Something went wrong" not in sent.text
    assert entries(seeded) == []
