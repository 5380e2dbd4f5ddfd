"""`GET /metrics` (issue 23 part 3): Prometheus's text format, loopback or METRICS_TOKEN only,
every metric labelled by route templates and fixed words, never by anything about a patient.

The app runs in this process over ASGI with real signed Slack and Twilio requests; what it
counted is read back from its own /metrics answer. SQLite only: nothing here depends on the
database but the SQLite disk's free space, which PostgreSQL has not."""

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from configuration.settings import Settings
from observability.metrics import Metrics
from reminders.job import scheduled_run
from rpm_logger.app import create_app
from service import Service
from telephony.reconcile_job import run_reconcile
from tests.bot.conftest import SECRET, SlackSender
from tests.fakes.slack_api import ScriptedReply, SlackApiRecorder
from tests.faults import failing_statements
from tests.loopback import IN_PROCESS_URL, in_process
from tests.reminders.helpers import seed_clinic as reminders_clinic
from tests.reminders.helpers import slack_settings
from tests.telephony.conftest import (
    CALL_END,
    NURSE_TWILIO_NUMBER,
    PATIENT_PHONE,
    STRANGER_PHONE,
    TwilioApp,
    new_sid,
    seed_clinic,
    status_form,
    twilio_settings,
)

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
TOKEN = "metrics-token-7c1e-a05f93d2b8e41c66"
NOTE = "called John Doe (DOB 03/14/1950) on +1 617 555 0123 about meds"
# what must never appear in /metrics: the patient's id (and its number), initials, phone
# numbers however written, the note's words
PHI = ("P-1042", "1042", "JD", "6175550123", "5550123", "555-0123", "6175550777", "John",
       "Doe", "1950", "about meds")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of a /metrics answer: (name, labels) -> value."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


# -- who may read it ---------------------------------------------------------------------------


def _client(app: object, host: str) -> TestClient:
    """The app (no lifespan: /metrics needs none) as seen from `host`."""
    return TestClient(app, client=(host, 50000))  # type: ignore[arg-type]


@SQLITE
def test_loopback_or_the_token_reads_it_and_anyone_else_gets_401_and_nothing_else(
    svc: Service,
) -> None:
    app = create_app(Settings(metrics_token=SecretStr(TOKEN), reminders_enabled=False),
                     service=svc)
    right, wrong = {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": "Bearer guess"}
    loopback, outside = _client(app, "127.0.0.1"), _client(app, "10.1.2.3")
    for client, headers in ((loopback, {}), (loopback, right), (outside, right),
                            (_client(app, "::1"), {})):
        answer = client.get("/metrics", headers=headers)
        assert answer.status_code == 200, headers
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "rpm_http_requests_total" in answer.text
    for client, headers in ((outside, {}), (outside, wrong), (loopback, wrong),
                            (outside, {"Authorization": TOKEN})):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.content == b"" and "set-cookie" not in refused.headers
        assert refused.headers["www-authenticate"] == "Bearer"


@SQLITE
def test_without_a_token_only_loopback_reads_it(svc: Service) -> None:
    app = create_app(Settings(reminders_enabled=False), service=svc)
    assert _client(app, "127.0.0.1").get("/metrics").status_code == 200
    outside = _client(app, "10.1.2.3")
    assert outside.get("/metrics").status_code == 401
    assert outside.get("/metrics", headers={"Authorization": "Bearer x"}).status_code == 401


@SQLITE
def test_the_dashboard_and_metrics_share_one_loopback_decision(
    svc: Service, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One function decides "is this client on this machine" (web.access.from_loopback), so
    that forwarded-header handling (a proxy in front) is added in one place."""
    from web import access

    monkeypatch.setattr(access, "is_loopback", lambda host: host == "10.1.2.3")
    with _client(create_app(Settings(reminders_enabled=False), service=svc),
                 "10.1.2.3") as client:
        assert client.get("/metrics").status_code == 200
        assert client.get("/?month=2026-11").status_code == 200


# -- what it counts, and no PHI anywhere -------------------------------------------------------


@dataclass
class Running:
    http: httpx.Client
    slack: SlackSender
    twilio: TwilioApp
    service: Service

    def scrape(self) -> str:
        answer = self.http.get("/metrics")
        assert answer.status_code == 200
        return answer.text


@pytest.fixture
def running(svc: Service, slack_api: SlackApiRecorder) -> Iterator[Running]:
    seed_clinic(svc)
    settings = twilio_settings(slack_api, slack_signing_secret=SecretStr(SECRET),
                               reconcile_enabled=False)
    with in_process(create_app(settings, service=svc)) as http:
        yield Running(http, SlackSender(IN_PROCESS_URL, slack_api, http),
                      TwilioApp(IN_PROCESS_URL, svc, settings, http, slack_api), svc)


def _touch_the_patient(app: Running) -> None:
    """Requests about P-1042 (JD) on every route kind, by id and by phone number."""
    for path in ("/patients/P-1042?month=2026-11", "/patients/+16175550123",
                 "/patients/P-1042/packet?month=2026-11", "/patients/P-9999"):
        app.http.get(path)
    assert "Saved entry" in app.slack.final_text(app.slack.command(f"log P-1042 12m review {NOTE}"))
    assert "Saved entry" not in app.slack.final_text(app.slack.command("log P-1042 0m review"))
    assert app.twilio.status(sid=new_sid(), status="completed", from_=PATIENT_PHONE,
                             to=NURSE_TWILIO_NUMBER, direction="inbound", sequence=3,
                             at=CALL_END, duration=400).status_code == 200
    assert app.twilio.status(sid=new_sid(), status="completed", from_=STRANGER_PHONE,
                             to=NURSE_TWILIO_NUMBER, direction="inbound", sequence=3,
                             at=CALL_END, duration=90).status_code == 200
    odd = status_form(sid=new_sid(), status="completed", from_=PATIENT_PHONE,
                      to=NURSE_TWILIO_NUMBER, direction="inbound", sequence=3, at=CALL_END)
    odd["CallDuration"] = "-4"
    assert app.twilio.post("/twilio/voice/status", odd).status_code == 400


@SQLITE
def test_requests_touching_a_patient_are_counted_by_route_template_and_no_phi_appears(
    running: Running,
) -> None:
    _touch_the_patient(running)
    text = running.scrape()
    found = samples(text)
    page = {"route": "/patients/{patient_id}", "method": "GET"}
    assert value(found, "rpm_http_requests_total", **page, status="200") == 2
    assert value(found, "rpm_http_requests_total", **page, status="404") == 1
    assert value(found, "rpm_http_request_duration_seconds_count",
                 route="/patients/{patient_id}") == 3
    assert value(found, "rpm_http_requests_total", route="/twilio/voice/status",
                 method="POST", status="400") == 1
    assert value(found, "rpm_slack_commands_total", kind="log", outcome="answered") >= 1
    assert sum(value(found, "rpm_slack_commands_total", kind="log", outcome=o)
               for o in ("answered", "saving")) == 2
    assert value(found, "rpm_twilio_callbacks_total", outcome="counted") == 1
    assert value(found, "rpm_twilio_callbacks_total", outcome="unmatched") == 1
    assert value(found, "rpm_twilio_callbacks_total", outcome="invalid") == 1
    assert value(found, "rpm_slack_backlog_limit") == 256
    labels = {v for (_, pairs) in found for _, v in pairs}
    assert not [v for v in labels if re.search(r"[0-9]", v) and not re.fullmatch(
        r"[0-9]{3}|[0-9.e+]+|\+Inf", v)], labels  # digits only in statuses and buckets
    assert [secret for secret in PHI if secret in _without_values(text)] == []


def _without_values(text: str) -> str:
    """The exposition without its sample values: a value is a number and holds no PHI, but
    a byte count or a timestamp may hold "1042" by chance (CI saw free disk bytes do)."""
    return "\n".join(line if line.startswith("#") else line.rsplit(" ", 1)[0]
                     for line in text.splitlines() if line)


@SQLITE
def test_database_and_slack_api_errors_and_the_sqlite_disk_are_exported(
    running: Running, slack_api: SlackApiRecorder,
) -> None:
    """Bolt's own auth.test refused is a Slack API error, counted through the client Bolt
    makes for each request (the command is not answered; the next one asks again)."""
    slack_api.script("auth.test", ScriptedReply(200, {"ok": False, "error": "invalid_auth"}))
    running.slack.command("status P-1042")
    with failing_statements(running.service.ctx.db):
        assert "not saved" in running.slack.final_text(running.slack.command(
            "log P-1042 5m review"))
    found = samples(running.scrape())
    assert value(found, "rpm_database_errors_total", kind="unavailable") >= 1
    assert value(found, "rpm_slack_api_errors_total", method="auth.test") == 1
    free, size = value(found, "rpm_sqlite_disk_free_bytes"), value(
        found, "rpm_sqlite_disk_size_bytes")
    assert 0 < free <= size and not math.isnan(free)


@SQLITE
def test_reminders_reconciliation_and_api_errors_are_counted(
    svc: Service, slack_api: SlackApiRecorder,
) -> None:
    """What the jobs count: a reminder Slack refuses is failed (and a Slack API error), those
    sent are sent; a reconciliation Twilio refuses is failed (and a Twilio API error) and
    leaves the last success where it was."""
    metrics = Metrics(clock=lambda: 1_800_000_000.0)
    reminders_clinic(svc)
    slack_api.script("chat.postMessage", ScriptedReply(200, {"ok": False,
                                                             "error": "channel_not_found"}))
    assert scheduled_run(svc, slack_settings(slack_api), metrics) is not None
    metrics.reconcile_leading(True)  # the scheduler leader begins to reconcile
    assert run_reconcile(svc, twilio_settings(twilio_api_url="http://127.0.0.1:9"), metrics) == 0
    found = samples(metrics.exposition().decode())
    assert value(found, "rpm_reminders_total", outcome="failed") == 1
    assert value(found, "rpm_reminders_total", outcome="sent") == 2
    assert value(found, "rpm_slack_api_errors_total", method="chat.postMessage") == 1
    assert value(found, "rpm_reconcile_runs_total", result="failed") == 1
    assert value(found, "rpm_twilio_api_errors_total", operation="list_calls") == 1
    assert value(found, "rpm_reconcile_last_success_timestamp_seconds") == 1_800_000_000.0


@SQLITE
def test_only_the_scheduler_leader_shows_a_reconciliation_to_alert_on(svc: Service) -> None:
    """Of several processes on one database only the leader reconciles: the others show 0,
    which the 26-hour rule skips; the leader counts from when it began until a success."""
    from telephony.reconcile_job import ReconcileScheduler

    leading = [False]
    metrics = Metrics(clock=lambda: 1_800_000_000.0)
    down = twilio_settings(twilio_api_url="http://127.0.0.1:9")
    scheduler = ReconcileScheduler(down, svc, leading=lambda: leading[0], metrics=metrics)
    last = "rpm_reconcile_last_success_timestamp_seconds"
    assert scheduler.run_once(svc, down) == 0
    assert value(samples(metrics.exposition().decode()), last) == 0
    leading[0] = True
    scheduler.run_once(svc, down)  # Twilio unreachable: failed, counted from now
    found = samples(metrics.exposition().decode())
    assert value(found, last) == 1_800_000_000.0
    assert value(found, "rpm_reconcile_runs_total", result="failed") == 1
    leading[0] = False  # another process took over
    scheduler.run_once(svc, down)
    assert value(samples(metrics.exposition().decode()), last) == 0
