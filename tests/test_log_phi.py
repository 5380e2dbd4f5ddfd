"""No PHI in the logs: every record at DEBUG (ours, uvicorn's, Bolt's, slack_sdk's, the
drivers') while the Slack, Twilio, CLI and reminder paths run over real signed HTTP, with
outages and an unexpected database error among them, names no phone number in any format,
no patient name and no date of birth (security review's log rule, docs/security.md), in
either format `serve` writes them (LOG_FORMAT: text lines, or one JSON object per line)."""

import json
import logging
import os
import re
import time
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlencode

import httpx
import pytest

from configuration.settings import Settings
from observability.logs import JsonFormatter, formatter
from rpm_logger.app import create_app
from service import Service
from telephony.reconcile_job import run_reconcile
from tests.bot.conftest import SECRET, SlackSender, sign
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.fakes.slack_api import ScriptedReply, SlackApiRecorder
from tests.fakes.twilio_api import TwilioApiRecorder
from tests.faults import failing_statements
from tests.loopback import served
from tests.reminders.helpers import OPTIONS, sender
from tests.telephony.conftest import (
    ACCOUNT_SID,
    CAREGIVER_PHONE,
    CLINIC_NUMBER,
    NURSE_PHONE,
    NURSE_TWILIO_NUMBER,
    PATIENT_PHONE,
    STRANGER_PHONE,
    TwilioApp,
    new_sid,
    seed_clinic,
    status_form,
    twilio_settings,
)
from tests.telephony.test_rest import _listed

NOTE_PHONE, CLI_PHONE, CLI_CAREGIVER = "+12025550178", "+12025550145", "+12025550146"
# every number a patient, caregiver, unknown caller or staff member has in this test
NUMBERS = (NOTE_PHONE, CLI_PHONE, CLI_CAREGIVER, PATIENT_PHONE, CAREGIVER_PHONE,
           STRANGER_PHONE, NURSE_PHONE)
NOTE = "called John Doe (DOB 03/14/1950) on +1 202 555 0178 about meds"
WORDS = ("John", "Doe", "03/14/1950", "1950", "about meds")
CALL_END = datetime(2026, 11, 20, 19, 30, tzinfo=UTC)


def leaks(text: str) -> list[str]:
    """The phone numbers (in any format: E.164, digits only, (202) 555-0178, 202.555.0178,
    +1 202 555 0178 ...) and the words of NOTE that `text` contains."""
    flat = re.sub(r"[\s().+\-/]", "", text)
    found = [n for n in NUMBERS if n[2:] in flat]  # the 10 national digits, however split
    # a bare year only as a token of its own: a request id's hex or a duration of 1950.3 ms
    # is not the birth year (the date guard's run saw one)
    return found + [w for w in WORDS if (re.search(_TOKEN.format(w), text) if w.isdigit()
                                         else w.lower() in text.lower())]


_TOKEN = r"(?<![0-9a-fA-F.]){}(?![0-9a-fA-F]|\.[0-9])"


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write of `record`: message, raw args, traceback."""
    parts = [str(record.msg), repr(record.args), record.getMessage(), record.exc_text or "",
             record.stack_info or ""]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


@pytest.mark.parametrize("number", [
    "+12025550178", "12025550178", "2025550178", "(202) 555-0178", "202-555-0178",
    "202.555.0178", "+1 202 555 0178", "1-202-555-0178", "+1 (202) 555-0178"])
def test_the_scan_finds_every_format(number: str) -> None:
    assert leaks(f"note: {number}!") == [NOTE_PHONE]
    assert leaks("+1******0178 and ***0178 and C-12 at 2026-11-20") == []


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record at DEBUG, uvicorn's too (its loggers do not propagate to the root)."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    for name in ("uvicorn", "uvicorn.access"):
        logging.getLogger(name).removeHandler(caplog.handler)


def _uvicorn_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    """After the server started (its dictConfig resets these loggers)."""
    for name in ("uvicorn", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.addHandler(caplog.handler)
        logger.setLevel(logging.DEBUG)


def _slack(slack: SlackSender, svc: Service) -> None:
    assert "Saved entry #1" in slack.command(f"log P-1042 12m review {NOTE}").text
    with failing_statements(svc.ctx.db):  # an outage
        assert "not saved — try again" in slack.command(f"log P-1042 5m call {NOTE}").text
    # an unexpected database error whose text names the value, as PostgreSQL's DETAIL does
    with failing_statements(svc.ctx.db, error="DataError", only="INSERT",
                            message=f"bad value\nDETAIL: Key (note)=({NOTE}) is invalid."):
        assert "Something went wrong" in slack.command(f"log P-1042 6m review {NOTE}").text
    # click-to-call: the Twilio REST client logs its requests at INFO
    assert "Calling your phone now" in slack.command("call P-1042").text
    _failed_signatures(slack)


def _failed_signatures(slack: SlackSender) -> None:
    """A clock more than 5 minutes off and a rotated signing secret: refused, and the
    request (note and all) is not what the logs keep (Bolt logged it at INFO)."""
    body = urlencode({"command": "/rpm", "text": f"log P-1042 10m call {NOTE}",
                      "user_id": "U01NURSE", "team_id": "T1", "channel_id": "C0CHAN"})
    now = int(time.time())
    for timestamp, secret in ((now - 600, SECRET), (now, "the-rotated-secret")):
        response = slack.post(body, "application/x-www-form-urlencoded", timestamp=timestamp,
                              signature=sign(body, timestamp, secret))
        assert response.status_code == 401


def _twilio(twilio: TwilioApp) -> None:
    def status(**kwargs: object) -> int:
        form = status_form(sid=new_sid(), status="completed", sequence=3, at=CALL_END,
                           **kwargs)  # type: ignore[arg-type]
        return twilio.post("/twilio/voice/status", form).status_code

    inbound = dict(from_=PATIENT_PHONE, to=NURSE_TWILIO_NUMBER, direction="inbound",
                   duration=400)
    assert status(**inbound) == 200  # answered: counted
    assert status(from_=NURSE_TWILIO_NUMBER, to=PATIENT_PHONE, direction="outbound-api",
                  duration=40, answered_by="machine_end_beep") == 200  # voicemail
    assert status(from_=STRANGER_PHONE, to=NURSE_TWILIO_NUMBER, direction="inbound",
                  duration=90) == 200  # unknown caller
    sms = {"AccountSid": twilio.settings.twilio_account_sid or "", "MessageSid": new_sid("SM"),
           "From": CAREGIVER_PHONE, "To": NURSE_TWILIO_NUMBER, "Body": NOTE}
    assert twilio.post("/twilio/messaging", sms).status_code == 200
    db = twilio.service.ctx.db
    with failing_statements(db):
        assert status(**inbound) == 503
    with failing_statements(db, error="DataError", only="INSERT",
                            message=f"bad value\nDETAIL: Key (from_number)=({PATIENT_PHONE})"):
        assert status(**inbound) == 500


def _reconcile(svc: Service, settings: Settings, twilio_api: TwilioApiRecorder) -> None:
    """The daily job, once with calls to store and once with Twilio unreachable."""
    start = svc.ctx.now() - timedelta(hours=2)
    twilio_api.calls = [
        _listed(new_sid(), status="completed", from_=STRANGER_PHONE, to=NURSE_TWILIO_NUMBER,
                direction="inbound", start=start, seconds=95),
        _listed(new_sid(), status="completed", from_=CAREGIVER_PHONE, to=NURSE_TWILIO_NUMBER,
                direction="inbound", start=start, seconds=130)]
    assert run_reconcile(svc, settings) == 2
    assert run_reconcile(svc, settings.model_copy(
        update={"twilio_api_url": "http://127.0.0.1:9"})) == 0


def _cli(db_url: str, clock: FrozenClock) -> None:
    """The CLI in this process (its logs are captured) on the test's frozen clock: on the real
    clock the patient it adds fell outside the frozen month and no reminder was planned."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    run = Cli({**env, "DATABASE_URL": db_url}, clock=clock)
    run("staff", "add", "U09MARY", "--name", "Mary Major", "--role", "clinical_staff",
        "--phone", "202 555 0147")
    run("patient", "add", "P-2001", "--initials", "JD", "--phone", "(202) 555-0145",
        "--caregiver-phone", "202.555.0146", "--assign", "U09MARY")
    run("patient", "add", "P-2002", "--phone", "+1 202 555 0145", code=2)  # taken
    run("patient", "show", "P-2001")
    run("log", "P-2001", "5m", "call", NOTE, "--staff", "U09MARY")
    run("patient", "update", "P-2001", "--remove-phone", "202-555-0146")


def _reminders(svc: Service, slack_api: SlackApiRecorder) -> None:
    slack_api.script("chat.postMessage", ScriptedReply(200, {"ok": False,
                                                             "error": "channel_not_found"}))
    run = svc.reminders.run_due(sender(slack_api), OPTIONS)
    assert run is not None and {o.status for o in run.outcomes} >= {"failed", "sent"}


def test_no_phone_number_name_or_birth_date_reaches_any_log(
    all_logs: pytest.LogCaptureFixture, svc: Service, db_url: str, clock: FrozenClock,
    slack_api: SlackApiRecorder, tmp_path: Path,
) -> None:
    seed_clinic(svc)
    twilio_api = TwilioApiRecorder(ACCOUNT_SID).start()
    settings: Settings = twilio_settings(
        slack_api, slack_signing_secret=SECRET, reconcile_enabled=False,
        twilio_api_url=twilio_api.base_url, twilio_caller_id=CLINIC_NUMBER)
    assert settings.reminders_enabled is False
    try:
        with served(create_app(settings, service=svc)) as url, \
                httpx.Client(timeout=30) as http:
            _uvicorn_at_debug(all_logs)
            slack = SlackSender(url, slack_api, http)
            _slack(slack, svc)
            _twilio(TwilioApp(url, svc, settings, http, slack_api))
        _reconcile(svc, settings, twilio_api)
    finally:
        twilio_api.stop()
    _cli(db_url, clock)
    _reminders(svc, slack_api)

    assert not svc.ctx.db.engine.echo  # SQLAlchemy echo stays off
    assert not logging.getLogger("sqlalchemy.engine.Engine").isEnabledFor(logging.INFO)
    records = all_logs.records
    found = {r.name for r in records}
    # the scan saw what it claims to: uvicorn's access log, Bolt, our adapters' errors
    assert {"uvicorn.access", "uvicorn.error", "rpm_logger.bot", "rpm_logger.telephony",
            "rpm_logger.reminders"} <= found, found
    assert not rest_dumps(records)  # twilio's request dumps stay below every level
    # slack_sdk logs every reply and DM at DEBUG: its body (a patient's label, P-1042 (JD))
    # and a reply's response_url (a capability to post) are withheld (attack finding 4)
    assert any(r.name.startswith("slack_sdk") and "Sending a request" in r.getMessage()
               for r in records)
    bodies = [f"{r.name}: {r.getMessage()[:300]}" for r in records
              if "(JD)" in record_text(r) or "/response/" in record_text(r)]
    assert bodies == [], "\n".join(bodies)
    assert any("DataError" in record_text(r) for r in records)
    leaked = [f"{r.name} {r.levelname} {leaks(record_text(r))}: ...{record_text(r)[-800:]}"
              for r in records if leaks(record_text(r))]
    assert leaked == [], "\n\n".join(leaked)
    assert any(r.name == "rpm_logger.access" for r in records)  # the app's access lines
    assert formatted_leaks(records) == []


def formatted_leaks(records: list[logging.LogRecord]) -> list[str]:
    """The records as `serve` writes them, in both LOG_FORMATs: what a line holds beyond the
    record's own text (access fields, request ids, a formatted traceback) is scanned too,
    and every JSON line is one object, decoded before the scan (JSON escapes non-ASCII)."""
    found = []
    for record in records:
        text = formatter("text").format(record)
        line = JsonFormatter().format(record)
        assert "\n" not in line, line
        fields = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(fields), line
        for written in (text, line, " ".join(str(v) for v in fields.values())):
            if leaks(written) or "(JD)" in written or "/response/" in written:
                found.append(f"{record.name}: {written[-800:]}")
    return found


def rest_dumps(records: list[logging.LogRecord]) -> list[str]:
    """The twilio library's REST request/response dumps (URL, query, headers) among records."""
    return [f"{r.name} {r.levelname}: {r.getMessage()}" for r in records
            if "Twilio API Request" in r.getMessage() or r.getMessage().startswith(
                ("Headers:", "Response Status Code", "Response Headers", "Query Params"))
            or r.name.startswith("twilio")]


def test_click_to_call_and_reconciliation_log_no_request_dump_at_info(
    svc: Service, caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 13 item 15: at the service's level (INFO) the twilio library logged every REST
    request (its URL, query and headers); click-to-call and reconciliation now log nothing
    of it, and no phone number."""
    from telephony.rest import click_to_call
    from tests.service.helpers import NURSE

    caplog.set_level(logging.INFO)
    seed_clinic(svc)
    twilio_api = TwilioApiRecorder(ACCOUNT_SID).start()
    settings = twilio_settings(twilio_api_url=twilio_api.base_url,
                               twilio_caller_id=CLINIC_NUMBER)
    try:
        assert click_to_call(svc, settings, "P-1042", by=NURSE).call.state == "in_progress"
        _reconcile(svc, settings, twilio_api)
    finally:
        twilio_api.stop()
    assert [r for r in twilio_api.requests if r.method == "POST"]  # the REST calls happened
    assert rest_dumps(caplog.records) == []
    assert [leaks(record_text(r)) for r in caplog.records if leaks(record_text(r))] == []


def test_the_dashboard_login_token_never_reaches_the_access_log(
    svc: Service, all_logs: pytest.LogCaptureFixture,
) -> None:
    """`/?token=` logs a browser in once; the access log keeps the path, not the secret."""
    token = "dashboard-secret-4f9a1c-7e20b5d83a96"
    settings = Settings(dashboard_token=token, reminders_enabled=False)
    with served(create_app(settings, service=svc)) as url:
        _uvicorn_at_debug(all_logs)
        with httpx.Client() as http:
            assert http.get(f"{url}/?token={token}&month=2026-11").status_code in (200, 303)
    access = [record_text(r) for r in all_logs.records if r.name == "uvicorn.access"]
    assert any("token=[withheld]" in line and "month=2026-11" in line for line in access)
    server_side = [r for r in all_logs.records if not r.name.startswith(("httpx", "httpcore"))]
    assert not any(token in record_text(r) for r in server_side)  # httpx: this test's client


# -- phone lookups on the dashboard: the access log keeps no number, in any spelling ---------

LOOKUPS = [
    "/patients/+16175550123", "/patients/(617)%20555-0123", "/patients/617.555.0123",
    "/patients/%2B1%20617%20555%200123", "/patients/%252B16175550123",
    "/patients/\uff16\uff11\uff17\uff15\uff15\uff15\uff10\uff11\uff12\uff13",
    "/patients/617\u2010555\u20100123", "/patients/617/555/0123",
    "/patients/tel:+1-617-555-0123?month=2026-11", "/patients/P-1042?month=2026-11&q=6175550123",
    "/patient/617-555-0123", "/?staff=617%20555%200123", "/patients/617_555_0123.",
]


def _digits(text: str) -> str:
    """Only the digits of `text` as a person reads it: percent-decoded (repeatedly) and
    with full-width and other scripts' digits as ASCII."""
    for _ in range(5):
        text = unquote(text)
    text = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.digit(c)) for c in text if c.isdigit())


def test_a_phone_lookup_never_reaches_the_access_log(
    svc: Service, all_logs: pytest.LogCaptureFixture,
) -> None:
    from tests.web.support import seed_month

    seed_month(svc)
    with served(create_app(Settings(reminders_enabled=False), service=svc)) as url:
        _uvicorn_at_debug(all_logs)
        with httpx.Client() as http:
            statuses = {path: http.get(url + path).status_code for path in LOOKUPS}
    assert statuses["/patients/+16175550123"] == 200  # the lookup itself still works
    assert statuses["/patients/(617)%20555-0123"] == 200
    access = [r for r in all_logs.records if r.name == "uvicorn.access"]
    assert len(access) == len(LOOKUPS)
    # uvicorn passes the path as the third argument; the rest is address, method, status
    leaked = [r.getMessage() for r in access if "5550123" in _digits(str(r.args[2]))]
    assert leaked == []
    kept = [r.getMessage() for r in access]
    assert any("/patients/[withheld]" in line for line in kept)
    assert any("month=2026-11" in line for line in kept)  # what is not a number stays
    # the app's own access lines name the route template, in both formats
    ours = [r for r in all_logs.records if r.name == "rpm_logger.access"]
    assert len(ours) == len(LOOKUPS)
    lines = [f.format(r) for r in ours for f in (formatter("text"), JsonFormatter())]
    assert [line for line in lines if "5550123" in _digits(line)] == []
    assert any('"route": "/patients/{patient_id}"' in line for line in lines)
