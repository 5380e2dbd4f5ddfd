"""Every route of the fully configured app, walked with no, forged, expired and replayed
credentials over real HTTP on loopback: refused (401/403) and nothing changed in the database.

The table below must name every route the app serves (a new route without a row fails
`test_the_table_names_every_route`). Only /healthz is public; /metrics answers loopback
without a credential (these requests come from loopback) and refuses a wrong token even
there. Twilio signatures carry no timestamp, so a replayed signed callback is
indistinguishable from Twilio's retry: it is accepted and must leave exactly what the first
delivery left (idempotency by CallSid).
Deeper cases per adapter live in tests/bot/test_security_and_faults.py,
tests/telephony/test_webhooks.py and tests/web/test_access.py.
"""

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func
from sqlmodel import SQLModel, select

from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from service.sessions import DashboardLogin, session_cookie
from tests.bot.conftest import SECRET
from tests.bot.conftest import sign as slack_sign
from tests.fakes.slack_api import SlackApiRecorder
from tests.loopback import served
from tests.telephony.conftest import (
    ACCOUNT_SID,
    CALL_END,
    CLINIC_NUMBER,
    NURSE_TWILIO_NUMBER,
    PATIENT_PHONE,
    PUBLIC_BASE_URL,
    new_sid,
    seed_clinic,
    status_form,
    twilio_settings,
)
from tests.telephony.conftest import sign as twilio_sign
from tests.web.support import TOKEN
from web.access import COOKIE_NAME, SESSION_COOKIE, SESSION_SECONDS, cookie_value
from web.readings import signature_of

PHI = ("P-1042", "JD", "6175550123", "555-0123")
METRICS_TOKEN = "metrics-token-0b7e-5d21c9a4f3e86b17"
DEVICE_SECRET = "device-secret-5d1c"


def _settings(slack_api_url: str) -> Settings:
    """Slack, Twilio and DASHBOARD_TOKEN all set; no background jobs."""
    return twilio_settings(
        slack_signing_secret=SecretStr(SECRET), slack_bot_token=SecretStr("xoxb-test"),
        slack_api_url=slack_api_url, reminders_enabled=False, reconcile_enabled=False,
        dashboard_token=SecretStr(TOKEN), metrics_token=SecretStr(METRICS_TOKEN),
        device_webhook_secret=SecretStr(DEVICE_SECRET))


@dataclass
class Running:
    base_url: str
    service: Service
    slack: SlackApiRecorder
    http: httpx.Client

    def counts(self) -> dict[str, int]:
        """Rows in every table: 'nothing changed' means none of these moved."""
        with self.service.ctx.db.read_session() as session:
            return {table.name: session.exec(select(func.count()).select_from(table)).one()
                    for table in SQLModel.metadata.sorted_tables}

    def unchanged(self, before: dict[str, int], case: str) -> None:
        assert self.counts() == before, f"{case}: the database changed"


@pytest.fixture
def running(svc: Service, slack_api: SlackApiRecorder) -> Iterator[Running]:
    seed_clinic(svc)
    with served(create_app(_settings(slack_api.base_url), service=svc)) as base_url, \
            httpx.Client(base_url=base_url, timeout=10) as http:
        yield Running(base_url, svc, slack_api, http)


# -- the kinds of route and what each refuses -----------------------------------------------


def _public(app: Running, path: str, _form: Any) -> None:
    before = app.counts()
    response = app.http.get(path)
    assert response.status_code == 200 and response.json() == {"database": "ok"}
    app.unchanged(before, "public read")


def _dashboard(app: Running, path: str, _form: Any) -> None:
    now = int(app.service.ctx.now().timestamp())
    cases: dict[str, dict[str, Any]] = {
        "no credentials": {},
        "forged bearer": {"headers": {"Authorization": "Bearer not-the-token"}},
        "the token as a cookie": {"cookies": {COOKIE_NAME: TOKEN}},
        "forged cookie": {"cookies": {COOKIE_NAME: f"{now}.{'0' * 64}"}},
        "cookie redated": {"cookies": {
            COOKIE_NAME: f"{now}.{cookie_value(TOKEN, now - SESSION_SECONDS - 1).split('.')[1]}"}},
        "expired cookie (replayed after the session)": {"cookies": {
            COOKIE_NAME: cookie_value(TOKEN, now - SESSION_SECONDS - 1)}},
        "cookie of a rotated token": {"cookies": {
            COOKIE_NAME: cookie_value("the previous token", now)}},
        "wrong ?token=": {"params": {"token": "not-the-token"}},
    }
    for case, request in cases.items():
        before = app.counts()
        app.http.cookies.clear()
        for name, value in request.pop("cookies", {}).items():
            app.http.cookies.set(name, value)
        response = app.http.get(path, follow_redirects=False, **request)
        assert response.status_code == 401, case
        assert "set-cookie" not in response.headers, case
        assert not any(secret in response.text for secret in PHI), case
        app.unchanged(before, case)
    app.http.cookies.clear()
    _sessions(app, path)
    good = app.http.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert good.status_code == 200  # the row's request is a real page, so the 401s mean it


def _sessions(app: Running, path: str) -> None:
    """A forged, foreign or stale signed-in session on a dashboard page: 401, the cookie
    deleted, no PHI, nothing changed (the signing key is not even made)."""
    key = b"\x00" * 32
    now = int(app.service.ctx.now().timestamp())
    for case, value in {
        "forged session": session_cookie(key, DashboardLogin("staff", "U04ADMIN", now, now,
                                                              "s" * 32)),
        "not a session": "e30.0000", "huge": "x" * 4096,
    }.items():
        before = app.counts()
        app.http.cookies.clear()
        app.http.cookies.set(SESSION_COOKIE, value)
        response = app.http.get(path, follow_redirects=False)
        assert response.status_code == 401, case
        assert 'rpm_session=""' in response.headers.get("set-cookie", ""), case
        assert not any(secret in response.text for secret in PHI), case
        app.unchanged(before, case)
    app.http.cookies.clear()


def _auditor_link_page(app: Running, path: str, _form: Any) -> None:
    """The link's landing page uses nothing up and shows nothing but a button."""
    before = app.counts()
    response = app.http.get(path)
    assert response.status_code == 200 and 'name="link"' in response.text
    assert not any(secret in response.text for secret in PHI)
    app.unchanged(before, "the link's page")


def _auditor_sign_in(app: Running, path: str, _form: Any) -> None:
    """Forged, edited and replayed links: 403, no session, nothing changed."""
    for case, link in {"no link": "", "forged": "1." + "a" * 43 + "." + "0" * 64,
                       "not a link": "P-1042"}.items():
        before = app.counts()
        response = app.http.post(path, data={"link": link}, follow_redirects=False)
        assert response.status_code == 403 and "set-cookie" not in response.headers, case
        app.unchanged(before, case)
    issued = app.service.auditors.grant(name="Payer", months="2026-11", patients=None,
                                        expires_on=date(2026, 12, 31), actor="test")
    app.service.auditors.redeem(issued.link_token)
    before = app.counts()
    replayed = app.http.post(path, data={"link": issued.link_token}, follow_redirects=False)
    assert replayed.status_code == 403 and "set-cookie" not in replayed.headers
    assert "already used" in replayed.text
    app.unchanged(before, "replayed link")


def _oidc_unconfigured(app: Running, path: str, _form: Any) -> None:
    """Without OIDC_* settings the sign-in says so (tests/web/test_oidc.py: configured)."""
    before = app.counts()
    response = app.http.get(path, follow_redirects=False)
    assert response.status_code == 404 and "not configured" in response.text
    assert "set-cookie" not in response.headers
    app.unchanged(before, "sign-in without a provider")


def _sign_out(app: Running, path: str, _form: Any) -> None:
    before = app.counts()
    response = app.http.post(path)
    assert response.status_code == 200 and 'rpm_session=""' in response.headers["set-cookie"]
    app.unchanged(before, "sign-out")


def _metrics(app: Running, path: str, _form: Any) -> None:
    """Non-loopback clients: tests/test_metrics.py (an address these requests cannot have)."""
    for case, headers in {"forged bearer": {"Authorization": "Bearer not-the-token"},
                          "the dashboard's token": {"Authorization": f"Bearer {TOKEN}"},
                          "the token without Bearer": {"Authorization": METRICS_TOKEN}}.items():
        before = app.counts()
        response = app.http.get(path, headers=headers)
        assert response.status_code == 401 and response.content == b"", case
        app.unchanged(before, case)
    for headers in ({}, {"Authorization": f"Bearer {METRICS_TOKEN}"}):
        before = app.counts()
        assert "rpm_http_requests_total" in app.http.get(path, headers=headers).text
        app.unchanged(before, "a scrape")


def _slack(app: Running, path: str, _form: Any) -> None:
    body = urlencode({"token": "x", "team_id": "T1", "channel_id": "C0CHAN",
                      "user_id": "U01NURSE", "command": "/rpm", "text": "log P-1042 12m review",
                      "response_url": app.slack.root_url + "/response/1"})
    now = int(time.time())
    old = now - 301  # Slack's window is 5 minutes
    cases = {
        "no credentials": {},
        "forged signature": {"X-Slack-Request-Timestamp": str(now),
                             "X-Slack-Signature": slack_sign(body, now, "not-the-secret")},
        "replayed after 5 minutes": {"X-Slack-Request-Timestamp": str(old),
                                     "X-Slack-Signature": slack_sign(body, old)},
        "replayed with a new timestamp": {"X-Slack-Request-Timestamp": str(now),
                                          "X-Slack-Signature": slack_sign(body, old)},
    }
    for case, headers in cases.items():
        before = app.counts()
        response = app.http.post(path, content=body.encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded", **headers})
        assert response.status_code == 401, case
        app.unchanged(before, case)
    assert app.slack.calls == []  # refused before any listener ran


def _twilio(app: Running, path: str, make_form: Callable[[], dict[str, str]]) -> None:
    form = make_form()
    signed_url = PUBLIC_BASE_URL + path
    cases = {
        "no credentials": {},
        "forged signature": {"X-Twilio-Signature": twilio_sign(signed_url, form,
                                                               "f" * 32)},
        "signature of another path": {"X-Twilio-Signature": twilio_sign(
            PUBLIC_BASE_URL + "/twilio/other", form)},
    }
    for case, headers in cases.items():
        before = app.counts()
        response = app.http.post(path, data=form, headers=headers)
        assert response.status_code == 403, case
        app.unchanged(before, case)
    # a replay is a retry: the second delivery changes nothing the first did not
    signature = {"X-Twilio-Signature": twilio_sign(signed_url, form)}
    first = app.http.post(path, data=form, headers=signature)
    # the DM the first queued is delivered by the courier on its own schedule (its claim and
    # its send are writes of their own): counted once it is out
    deadline = time.monotonic() + 10
    while app.service.notices.unsent():
        assert time.monotonic() < deadline, "the call's DM was never delivered"
        time.sleep(0.02)
    after_first = app.counts()
    replayed = app.http.post(path, data=form, headers=signature)
    assert first.status_code == replayed.status_code == 200
    app.unchanged(after_first, "replayed signed callback")


def _devices(app: Running, path: str, _form: Any) -> None:
    """The device vendors' webhook: HMAC-SHA256 of TIMESTAMP.BODY, 5 minutes (web/readings.py).
    The timestamp is the service's clock (frozen here), as the route reads it."""
    body = json.dumps({"reading_id": "vendor-1", "patient_id": "P-1042", "kind": "weight",
                       "measured_at": "2026-11-03T07:12:00-05:00",
                       "values": {"kg": 81.5}}).encode()
    now = int(app.service.ctx.now().timestamp())
    old = now - 301
    secret = DEVICE_SECRET.encode()
    cases = {
        "no credentials": {},
        "forged signature": {"X-RPM-Timestamp": str(now),
                             "X-RPM-Signature": signature_of(b"not-the-secret", str(now), body)},
        "replayed after 5 minutes": {"X-RPM-Timestamp": str(old),
                                     "X-RPM-Signature": signature_of(secret, str(old), body)},
        "replayed with a new timestamp": {"X-RPM-Timestamp": str(now),
                                          "X-RPM-Signature": signature_of(secret, str(old),
                                                                          body)},
    }
    for case, headers in cases.items():
        before = app.counts()
        response = app.http.post(path, content=body, headers={
            "Content-Type": "application/json", **headers})
        assert response.status_code == 401, case
        app.unchanged(before, case)
    signed = {"Content-Type": "application/json", "X-RPM-Timestamp": str(now),
              "X-RPM-Signature": signature_of(secret, str(now), body)}
    first = app.http.post(path, content=body, headers=signed)
    after_first = app.counts()
    replayed = app.http.post(path, content=body, headers=signed)
    assert first.status_code == replayed.status_code == 200
    assert replayed.json()["replayed"] == 1
    app.unchanged(after_first, "replayed signed readings")


# -- the table: every route of the app ------------------------------------------------------


def _completed_call() -> dict[str, str]:
    return status_form(sid=new_sid(), status="completed", from_=PATIENT_PHONE,
                       to=NURSE_TWILIO_NUMBER, direction="inbound", sequence=3, at=CALL_END,
                       duration=90)


def _incoming_call() -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "CallSid": new_sid(), "CallStatus": "ringing",
            "Direction": "inbound", "From": PATIENT_PHONE, "To": CLINIC_NUMBER}


def _screened_leg(**extra: str) -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "CallSid": new_sid(), "ParentCallSid": new_sid(),
            "CallStatus": "in-progress", "Direction": "outbound-dial", **extra}


def _menu_turn() -> dict[str, str]:
    """A staff voice menu turn (a PIN keyed) for a call with no menu session."""
    return {"AccountSid": ACCOUNT_SID, "CallSid": new_sid(), "CallStatus": "in-progress",
            "Direction": "inbound", "From": PATIENT_PHONE, "To": CLINIC_NUMBER,
            "Digits": "4321"}


def _sms() -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "MessageSid": new_sid("SM"), "From": PATIENT_PHONE,
            "To": NURSE_TWILIO_NUMBER, "Body": "ok"}


@dataclass(frozen=True)
class Row:
    check: Callable[[Running, str, Any], None]
    path: str  # the route's template filled in
    form: Callable[[], dict[str, str]] | None = None


ROUTES: dict[tuple[str, str], Row] = {
    ("GET", "/healthz"): Row(_public, "/healthz"),
    ("GET", "/metrics"): Row(_metrics, "/metrics"),
    ("GET", "/"): Row(_dashboard, "/?month=2026-11"),
    ("GET", "/patients/{patient_id}"): Row(_dashboard, "/patients/P-1042"),
    ("GET", "/patients/{patient_id}/packet"): Row(_dashboard, "/patients/P-1042/packet"),
    ("GET", "/reports/{month}.csv"): Row(_dashboard, "/reports/2026-11.csv"),
    ("GET", "/self-audit"): Row(_dashboard, "/self-audit?month=2026-11"),
    ("GET", "/auditor/sign-in"): Row(_auditor_link_page, "/auditor/sign-in?link=1.x.y"),
    ("POST", "/auditor/sign-in"): Row(_auditor_sign_in, "/auditor/sign-in"),
    ("POST", "/sign-out"): Row(_sign_out, "/sign-out"),
    ("GET", "/sign-in"): Row(_oidc_unconfigured, "/sign-in"),
    ("GET", "/sign-in/callback"): Row(_oidc_unconfigured, "/sign-in/callback?code=x&state=y"),
    ("POST", "/slack/events"): Row(_slack, "/slack/events"),
    ("POST", "/devices/readings"): Row(_devices, "/devices/readings"),
    ("POST", "/twilio/voice/status"): Row(_twilio, "/twilio/voice/status", _completed_call),
    ("POST", "/twilio/voice/incoming"): Row(_twilio, "/twilio/voice/incoming",
                                            _incoming_call),
    ("POST", "/twilio/voice/screen"): Row(_twilio, "/twilio/voice/screen", _screened_leg),
    ("POST", "/twilio/voice/screen/answer"): Row(_twilio, "/twilio/voice/screen/answer",
                                                 lambda: _screened_leg(Digits="1")),
    ("POST", "/twilio/voice/menu"): Row(_twilio, "/twilio/voice/menu?t=1", _menu_turn),
    ("POST", "/twilio/messaging"): Row(_twilio, "/twilio/messaging", _sms),
}


def _served_routes(routes: list[Any]) -> set[tuple[str, str]]:
    """(method, path) of every route, through included routers (HEAD goes where GET goes)."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None:
            assert not getattr(getattr(route, "include_context", None), "prefix", ""), route
            found |= _served_routes(inner.routes)
            continue
        found |= {(method, route.path) for method in route.methods - {"HEAD"}}
    return found


def test_the_table_names_every_route() -> None:
    app = create_app(_settings("http://127.0.0.1:9/api/"))
    assert _served_routes(app.routes) == set(ROUTES)


@pytest.mark.parametrize("route", list(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_every_route_refuses_bad_credentials_and_changes_nothing(
    running: Running, route: tuple[str, str],
) -> None:
    row = ROUTES[route]
    row.check(running, row.path, row.form)


def test_a_replayed_status_callback_leaves_one_call_and_one_entry(running: Running) -> None:
    form = _completed_call()
    signature = {"X-Twilio-Signature": twilio_sign(PUBLIC_BASE_URL + "/twilio/voice/status",
                                                   form)}
    before = running.counts()
    for _ in range(3):
        assert running.http.post("/twilio/voice/status", data=form,
                                 headers=signature).status_code == 200
    after = running.counts()
    assert after["calls"] - before["calls"] == 1
    assert after["time_entries"] - before["time_entries"] == 1
    assert running.service.months.summary("P-1042").total_seconds == 90
