"""Signatures, database outages and the 3-second budget, over real loopback HTTP."""

import hashlib
import hmac
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.listeners import budget
from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from store.db import Database
from tests.bot.conftest import SECRET, SlackSender, all_text, serve, sign
from tests.bot.helpers import entries, writes_fail
from tests.bot.test_grammar import WORDS
from tests.conftest import FrozenClock
from tests.fakes.slack_api import RecordedCall, ScriptedReply, SlackApiRecorder
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


@pytest.mark.real_server  # Bolt's 3 s, as Slack's HTTP request sees them
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


def test_fifty_concurrent_first_requests_share_one_auth_test(slack: SlackSender) -> None:
    """After a restart every first request used to ask Slack for the bot's identity; 200 of
    them made 140 auth.test calls and replies slow enough for Slack to show a timeout."""
    def slow_auth_test(_: RecordedCall) -> dict[str, Any]:
        threading.Event().wait(0.5)  # the window in which the other requests arrive
        return {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1",
                "url": "https://example.slack.com/"}

    slack.recorder.on("auth.test", slow_auth_test)
    with ThreadPoolExecutor(max_workers=50) as pool:
        sent = list(pool.map(lambda i: slack.command(f"log P-1042 {i % 9 + 1}m review"),
                             range(50)))
    assert all(s.response.status_code == 200 for s in sent)
    assert all("Saved entry" in slack.final_text(s) for s in sent)
    assert len(slack.recorder.calls_to("auth.test")) == 1


def test_concurrent_first_requests_while_slack_is_unreachable_all_get_answers(
    seeded: Service,
) -> None:
    """The shared auth.test fails to connect: every waiting request goes on without it."""
    closed = f"http://127.0.0.1:{free_port()}/api/"
    settings = Settings(slack_signing_secret=SECRET, slack_bot_token="xoxb-test",
                        slack_api_url=closed, reminders_enabled=False)
    responses = SlackApiRecorder().start()  # where a "Saving…" ack's real answer is posted
    with serve(create_app(settings, service=seeded)) as url:
        sender = SlackSender(url, responses)
        try:
            with ThreadPoolExecutor(max_workers=10) as pool:
                sent = list(pool.map(lambda _: sender.command("status P-1042"), range(10)))
            answers = [sender.final_text(s) for s in sent]
        finally:
            sender.http.close()
            responses.stop()
    assert all(s.response.status_code == 200 for s in sent)
    assert all("P-1042" in a for a in answers)


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


# -- malformed requests: 401 unsigned, 400 signed but unreadable, never a 500 -----------------

_JSON, _FORM = "application/json", "application/x-www-form-urlencoded"
_NESTED = "[" * 100_000 + "]" * 100_000  # deeper than Python's recursion limit


def _raw(slack: SlackSender, body: bytes, content_type: str, timestamp: str,
         signature: str) -> int:
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp.encode(),
               "X-Slack-Signature": signature.encode()}  # bytes: sent as typed, UTF-8
    return slack.http.post(slack.url, content=body, headers=headers).status_code


@pytest.mark.parametrize(("body", "content_type"), [
    (b"{not json", _JSON), (b"\xff\xfe\x00bad", _FORM), (b"\xff\xfe{", _JSON),
    (b"payload={", _FORM), (b"payload=%7B%22type%22%3A", _FORM), (_NESTED.encode(), _JSON),
    (b"payload=" + _NESTED.encode(), _FORM),
], ids=["json", "utf8-form", "utf8-json", "payload", "payload-cut", "nested", "nested-form"])
@pytest.mark.parametrize("timestamp", ["now", "abc", "1.5", "", "9" * 400, "-5", "\u0661\u0662"],
                         ids=["now", "abc", "float", "empty", "400-digits", "negative", "arabic"])
def test_unsigned_malformed_requests_get_401_never_a_500(
        slack: SlackSender, seeded: Service, body: bytes, content_type: str,
        timestamp: str) -> None:
    ts = str(int(time.time())) if timestamp == "now" else timestamp
    assert _raw(slack, body, content_type, ts, "v0=" + "0" * 64) == 401
    assert _raw(slack, body, content_type, ts, "") == 401
    assert entries(seeded) == [] and slack.recorder.calls == []


@pytest.mark.parametrize("signature", ["v0=zz", "v1=" + "0" * 64, "v0=" + "é" * 64, "x" * 5000],
                         ids=["short", "v1", "non-ascii", "long"])
def test_odd_signature_headers_get_401(slack: SlackSender, signature: str) -> None:
    ts = str(int(time.time()))
    assert _raw(slack, b"command=%2Frpm", _FORM, ts, signature) == 401


@pytest.mark.parametrize(("body", "content_type"), [
    (b"{not json", _JSON), (b"\xff\xfe{", _JSON), (b"\xffcommand=%2Frpm", _FORM),
    (b"payload={", _FORM), (_NESTED.encode(), _JSON), (b"payload=" + _NESTED.encode(), _FORM),
], ids=["json", "utf8-json", "utf8-form", "payload", "nested", "nested-form"])
def test_signed_unreadable_bodies_get_400(slack: SlackSender, seeded: Service, body: bytes,
                                          content_type: str) -> None:
    ts = int(time.time())
    base = b"v0:%d:" % ts + body
    signature = "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
    assert _raw(slack, body, content_type, str(ts), signature) == 400
    assert entries(seeded) == []


def _signed(slack: SlackSender, body: bytes, content_type: str) -> int:
    ts = int(time.time())
    base = b"v0:%d:" % ts + body
    signature = "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
    return _raw(slack, body, content_type, str(ts), signature)


_VIEW = {"id": "V1", "callback_id": "log_modal", "state": {"values": {}},
         "private_metadata": ""}
_USER = {"id": "U01NURSE", "team_id": "T1"}
# signed payloads Slack would not send, that Bolt's parsing and matching raised on (500)
ODD_SHAPES = {
    "view-without-type": {"type": "view_submission", "team": {"id": "T1"}, "user": _USER,
                          "view": _VIEW},
    "view-null": {"type": "view_submission", "team": {"id": "T1"}, "user": _USER,
                  "view": None},
    "view-a-list": {"type": "view_submission", "user": _USER, "view": [1]},
    "view-closed-no-type": {"type": "view_closed", "user": _USER, "view": {"id": "V1"}},
    "event-null": {"type": "event_callback", "team_id": "T1", "event": None},
    "event-a-string": {"type": "event_callback", "team_id": "T1", "event": "app_home_opened"},
    "event-a-list": {"type": "event_callback", "team_id": "T1", "event": [{"type": "x"}]},
    "event-without-type": {"type": "event_callback", "team_id": "T1", "event": {"user": "U1"}},
    "actions-null": {"type": "block_actions", "user": _USER, "team": {"id": "T1"},
                     "actions": None},
    "actions-a-dict": {"type": "block_actions", "user": _USER, "actions": {"action_id": "x"}},
    "action-a-string": {"type": "block_actions", "user": _USER, "actions": ["x"]},
    "user-a-string": {"type": "block_actions", "user": "U01NURSE", "actions": []},
    "team-a-list": {"type": "view_submission", "team": [1], "user": _USER,
                    "view": {**_VIEW, "type": "modal"}},
    "type-a-number": {"type": 5, "event": {"type": "app_home_opened"}},
    "shortcut-without-callback": {"type": "shortcut", "user": _USER, "team": {"id": "T1"}},
    "enterprise-a-list": {"type": "event_callback", "enterprise": [1], "team_id": "T1",
                          "event": {"type": "app_home_opened", "user": "U1"}},
    "authorizations-a-string": {"type": "event_callback", "team_id": "T1",
                                "authorizations": "x",
                                "event": {"type": "app_home_opened", "user": "U1"}},
    "container-null": {"type": "block_actions", "user": _USER, "container": None,
                       "channel": None, "actions": [{"action_id": "x", "type": "button"}]},
}


# readable by Bolt, matched by no listener: Bolt's own 404, as for any unknown request
HANDLED_AS_UNKNOWN = {"shortcut-without-callback", "container-null"}


@pytest.mark.parametrize("content_type", [_JSON, _FORM], ids=["json", "form"])
@pytest.mark.parametrize("name", list(ODD_SHAPES))
def test_signed_payloads_bolt_cannot_handle_get_400_never_a_500(
        slack: SlackSender, seeded: Service, name: str, content_type: str) -> None:
    """Attack finding 6: signed, readable, but not a shape Slack sends: Bolt raised while
    parsing or matching it (KeyError 'type', AttributeError on None) and answered 500."""
    payload = json.dumps(ODD_SHAPES[name])
    from urllib.parse import quote
    body = payload if content_type == _JSON else "payload=" + quote(payload)
    status = _signed(slack, body.encode(), content_type)
    assert status == (404 if name in HANDLED_AS_UNKNOWN else 400), status
    assert entries(seeded) == []
