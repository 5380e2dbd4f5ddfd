"""Issue 24, sign-in per person with OpenID Connect: the real app on loopback against a fake
provider over real HTTP (tests/fakes/oidc.py: discovery, JWKS, RS256-signed ID tokens).
"Sign in with Slack" by the Slack user id claim, Entra / Google Workspace by staff email;
admins see everything, other staff their patients, unknown or inactive people get 403 with
no PHI; a wrong state, a forged or refused token: a clear refusal, nothing written."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey
from pydantic import SecretStr
from sqlalchemy import text
from sqlmodel import select

from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Policy, Service, ServiceContext
from service.staff import StaffChanges
from store.db import Database
from store.migrate import upgrade_to_head
from store.models import AuditEvent
from tests.conftest import FrozenClock
from tests.fakes.oidc import (
    CLIENT_ID,
    CLIENT_SECRET,
    PUBLISHED_KEY,
    SLACK_USER_CLAIM,
    FakeOidc,
)
from tests.service.helpers import ADMIN, NURSE
from tests.web.browser import chromium_or_skip, dump_dom
from tests.web.support import TOKEN, Page, seed_month, served
from web.access import SESSION_COOKIE

PHI = ("P-1042", "P-2001", "P-2002", "JD", "AB", "Nina", "99457")


@pytest.fixture
def provider() -> Iterator[FakeOidc]:
    fake = FakeOidc()
    yield fake
    fake.close()


def _settings(provider: FakeOidc) -> Settings:
    return Settings(dashboard_token=SecretStr(TOKEN), oidc_issuer=provider.issuer,
                    oidc_client_id=CLIENT_ID, oidc_client_secret=SecretStr(CLIENT_SECRET))


@pytest.fixture
def dashboard(svc: Service, provider: FakeOidc) -> Iterator[str]:
    seed_month(svc)
    svc.staff.update(ADMIN, StaffChanges(email="Ada@Clinic.example"), actor="test")
    with served(create_app(_settings(provider), service=svc)) as base:
        yield base


@contextmanager
def _signed_in(base: str, provider: FakeOidc, **claims: Any) -> Iterator[httpx.Client]:
    """A browser (cookies kept, redirects followed) that went through /sign-in as `claims`."""
    provider.person = claims
    with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as browser:
        browser.get("/sign-in")
        yield browser


def _rows(html: str) -> list[str]:
    return sorted(r.attrs["data-patient"] for r in Page(html).find("tr", class_="patient"))


def test_sign_in_with_slack_limits_a_nurse_to_her_patients(
        dashboard: str, provider: FakeOidc, svc: Service) -> None:
    with _signed_in(dashboard, provider, **{SLACK_USER_CLAIM: NURSE}) as browser:
        cookie = next(c for c in browser.cookies.jar if c.name == SESSION_COOKIE)
        assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/"
        month = browser.get("/")
        assert month.status_code == 200 and _rows(month.text) == ["P-1042", "P-2002"]
        assert "Nina Nurse (U01NURSE)" in Page(month.text).one("span", id="signed-in").content
        own = browser.get("/patients/P-1042?month=2026-11")
        assert own.status_code == 200 and "JD" in own.text
        assert Page(own.text).find("table", id="access") == []  # the access log: admins'
        assert browser.get("/patients/P-1042/packet?month=2026-11").status_code == 200
        for refused in ("/patients/P-2001", "/patients/P-2001/packet", "/self-audit",
                        "/reports/2026-11.csv", "/?staff=U02DOCTOR"):
            answer = browser.get(refused)
            if refused.startswith("/?"):  # the filter is ignored: still her patients only
                assert _rows(answer.text) == ["P-1042", "P-2002"]
                continue
            assert answer.status_code == 403, refused
            assert not any(s in answer.text for s in ("P-2001", "AB", "99458")), refused
        out = browser.post("/sign-out")
        assert out.status_code == 200 and "signed out" in out.text
        assert SESSION_COOKIE not in browser.cookies
        again = Page(browser.get("/").text)  # signed out: sign in (or the token) again
        assert again.one("a", id="sign-in-link").attrs["href"] == "/sign-in"
        assert again.find("input", name="token")
    # what she saw, and (outside try of issue 24) what she asked for and was refused
    assert [(v.by, v.what, v.patient, v.outcome) for v in svc.access.log()] == [
        (NURSE, "report", None, "refused"), (NURSE, "packet", "P-2001", "refused"),
        (NURSE, "patient_page", "P-2001", "refused"), (NURSE, "packet", "P-1042", "viewed"),
        (NURSE, "patient_page", "P-1042", "viewed")]
    assert svc.audit_trail.verify().clean


def test_an_admin_found_by_email_sees_everything(dashboard: str, provider: FakeOidc) -> None:
    with _signed_in(dashboard, provider, email="ada@clinic.example",
                    email_verified=True) as browser:
        month = browser.get("/")
        assert _rows(month.text) == ["P-1042", "P-2001", "P-2002", "P-3003"]
        assert Page(month.text).find("select", name="staff")
        page = browser.get("/patients/P-2001?month=2026-11")
        assert page.status_code == 200 and Page(page.text).find("tr", class_="access")
        assert browser.get("/self-audit").status_code == 200


@pytest.mark.parametrize("claims", [
    {"email": "stranger@example.org", "email_verified": True},
    {"email": "ada@clinic.example", "email_verified": False},  # not the provider's word
    {SLACK_USER_CLAIM: "U0NOBODY"},
    {},
])
def test_an_unknown_identity_gets_403_and_no_phi(dashboard: str, provider: FakeOidc,
                                                 svc: Service, claims: dict[str, Any],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    svc.keys.key()  # made by the first sign-in (a record of its own): made before counting
    before = svc.audit_trail.verify().records
    with caplog.at_level(logging.INFO), _signed_in(dashboard, provider, **claims) as browser:
        answer = browser.get("/sign-in")
        assert answer.status_code == 403 and "not as active staff" in answer.text
        assert not any(s in answer.text for s in PHI)
        assert SESSION_COOKIE not in browser.cookies
    assert svc.audit_trail.verify().records == before
    # (not the initials: two capitals turn up in any request id)
    leaked = [s for s in ("stranger@", "ada@", "U0NOBODY", "P-1042", "P-2001", "Nina")
              if s in caplog.text]
    assert not leaked, (leaked, caplog.text)


def test_an_inactive_member_is_refused_at_sign_in_and_at_the_next_page(
        dashboard: str, provider: FakeOidc, svc: Service) -> None:
    with _signed_in(dashboard, provider, **{SLACK_USER_CLAIM: NURSE}) as browser:
        assert browser.get("/").status_code == 200
        svc.offboarding.offboard(NURSE, reassign_to=ADMIN, actor="test")
        ended = browser.get("/patients/P-1042")
        assert ended.status_code == 403 and "JD" not in ended.text
        again = browser.get("/sign-in")
        assert again.status_code == 403
        # told the account was deactivated, not to ask to be added (outside try)
        for answer in (ended, again):
            assert "has been deactivated" in answer.text and "add you" not in answer.text


def _actions(svc: Service, action: str) -> list[tuple[str, str]]:
    with svc.ctx.db.read_session() as session:
        return [(e.actor, e.entity) for e in session.exec(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))]


def _replayed(base: str, cookie: str, path: str = "/patients/P-1042?month=2026-11"
              ) -> httpx.Response:
    """A copy of a session cookie, sent from another client (an attacker's)."""
    with httpx.Client(base_url=base, timeout=10, cookies={SESSION_COOKIE: cookie}) as other:
        return other.get(path, follow_redirects=False)


def test_sign_out_ends_the_session_for_every_copy_of_its_cookie(
        dashboard: str, provider: FakeOidc, svc: Service) -> None:
    """Outside try of issue 24: sign-out only deleted the browser's cookie, so a copy kept
    working until the idle timeout. Now the session ends server-side: the copy is refused
    (401, the cookie deleted, no PHI); her other session (another browser) goes on."""
    with _signed_in(dashboard, provider, **{SLACK_USER_CLAIM: NURSE}) as laptop, \
            _signed_in(dashboard, provider, **{SLACK_USER_CLAIM: NURSE}) as phone:
        assert laptop.get("/").status_code == 200
        copied = laptop.cookies[SESSION_COOKIE]
        assert _replayed(dashboard, copied).status_code == 200  # the copy works, signed in
        assert laptop.post("/sign-out").status_code == 200
        replay = _replayed(dashboard, copied)
        assert replay.status_code == 401 and "Your session has ended" in replay.text
        assert 'rpm_session=""' in replay.headers["set-cookie"]
        assert not any(s in replay.text for s in PHI)
        assert phone.get("/patients/P-1042?month=2026-11").status_code == 200
        before = svc.audit_trail.verify().records
        with httpx.Client(base_url=dashboard, timeout=10,
                          cookies={SESSION_COOKIE: copied}) as other:
            assert other.post("/sign-out").status_code == 200  # ended already: no record
        assert svc.audit_trail.verify().records == before
    assert _actions(svc, "sign_out") == [(NURSE, "dashboard_session")]
    assert svc.audit_trail.verify().clean


def test_offboarding_ends_her_sessions_for_good(dashboard: str, provider: FakeOidc,
                                                svc: Service) -> None:
    """Offboarding (or `staff update --inactive`) ends her dashboard sessions server-side:
    made active again later, a copy of her old cookie still finds its session ended."""
    with _signed_in(dashboard, provider, email="ada@clinic.example") as browser:
        assert browser.get("/").status_code == 200
        copied = browser.cookies[SESSION_COOKIE]
    svc.staff.update(ADMIN, StaffChanges(active=False), actor="test")  # no patients, no timer
    svc.staff.update(ADMIN, StaffChanges(active=True), actor="test")
    assert _replayed(dashboard, copied, "/").status_code == 401
    with _signed_in(dashboard, provider, **{SLACK_USER_CLAIM: NURSE}) as browser:
        assert browser.get("/").status_code == 200
        copied = browser.cookies[SESSION_COOKIE]
    svc.offboarding.offboard(NURSE, reassign_to=ADMIN, actor="test")
    svc.staff.update(NURSE, StaffChanges(active=True), actor="test")
    replay = _replayed(dashboard, copied, "/")
    assert replay.status_code == 401 and "Your session has ended" in replay.text
    assert _actions(svc, "end") == [("test", "dashboard_session")] * 2
    with _signed_in(dashboard, provider, **{SLACK_USER_CLAIM: NURSE}) as browser:
        assert browser.get("/").status_code == 200  # a new sign-in works again
    assert svc.audit_trail.verify().clean


def test_an_idle_session_ends_after_dashboard_session_minutes(
        svc: Service, provider: FakeOidc, clock: FrozenClock) -> None:
    """DASHBOARD_SESSION_MINUTES (here 5) after her last page, the session is refused, over
    real HTTP: each page moves "last seen" on, so only idleness ends it."""
    seed_month(svc)
    settings = _settings(provider).model_copy(update={"dashboard_session_minutes": 5})
    with served(create_app(settings, service=svc)) as base, \
            _signed_in(base, provider, **{SLACK_USER_CLAIM: NURSE}) as browser:
        for _ in range(3):
            clock.advance(minutes=4)
            assert browser.get("/").status_code == 200
        clock.advance(minutes=5, seconds=1)
        idle = browser.get("/patients/P-1042?month=2026-11")
        assert idle.status_code == 401 and "Your session has ended" in idle.text
        assert "JD" not in idle.text and SESSION_COOKIE not in browser.cookies


def test_a_wrong_state_or_an_unverifiable_token_is_refused(
        dashboard: str, provider: FakeOidc, svc: Service,
        caplog: pytest.LogCaptureFixture) -> None:
    provider.person = {SLACK_USER_CLAIM: NURSE}
    svc.keys.key()
    before = svc.audit_trail.verify().records
    with httpx.Client(base_url=dashboard, timeout=10) as browser:
        to_provider = browser.get("/sign-in")
        assert to_provider.status_code == 302
        back = httpx.get(to_provider.headers["location"], timeout=10).headers["location"]
        code = back.split("code=")[1].split("&")[0]
        wrong = browser.get(f"/sign-in/callback?code={code}&state=not-the-state")
        assert wrong.status_code == 403 and "Sign-in did not complete" in wrong.text
        stranger = httpx.get(back, timeout=10)  # the right state, but not this browser's
        assert stranger.status_code == 403
    assert provider.token_requests == 0  # refused before the code was exchanged
    other_key = RSAKey.generate_key(2048)
    for tamper in ({"key": other_key}, {"tamper": lambda c: c | {"aud": "someone-else"}},
                   {"tamper": lambda c: c | {"exp": c["iat"] - 600, "iat": c["iat"] - 900}},
                   {"tamper": lambda c: c | {"iss": "https://evil.example"}},
                   {"tamper": lambda c: c | {"nonce": "replayed"}}):
        provider.key = tamper.get("key", provider.key)
        provider.tamper = tamper.get("tamper")
        with _signed_in(dashboard, provider, **{SLACK_USER_CLAIM: NURSE}) as browser:
            answer = browser.get("/")
            assert SESSION_COOKIE not in browser.cookies, tamper
            assert answer.status_code == 401, tamper  # never signed in: the token page
        provider.key, provider.tamper = PUBLISHED_KEY, None
    assert svc.audit_trail.verify().records == before
    assert "P-1042" not in caplog.text and CLIENT_SECRET not in caplog.text


def test_sign_in_in_headless_chromium(provider: FakeOidc, tmp_path: Path) -> None:
    """The browser follows the whole flow itself: /sign-in, the provider, the callback (the
    flow cookie and then the session cookie kept by Chromium), the month page. One database
    (SQLite): the browser is the point."""
    chromium = chromium_or_skip()
    db = Database(f"sqlite:///{tmp_path / 'browser.db'}")
    upgrade_to_head(db.engine)
    svc = Service(ServiceContext(db, Policy(), FrozenClock()))
    seed_month(svc)
    provider.person = {SLACK_USER_CLAIM: NURSE}
    with served(create_app(_settings(provider), service=svc)) as base:
        page = Page(dump_dom(chromium, tmp_path / "profile", f"{base}/sign-in"))
    db.dispose()
    assert sorted(r.attrs["data-patient"] for r in page.find("tr", class_="patient")) == \
        ["P-1042", "P-2002"]
    assert "Nina Nurse (U01NURSE)" in page.one("span", id="signed-in").content


def test_an_email_changed_behind_the_services_back_is_found_by_verify(svc: Service) -> None:
    """The email decides who signs in as a member: `audit verify` holds it against the
    trail like the role and the admin flag."""
    seed_month(svc)
    svc.staff.update(ADMIN, StaffChanges(email="ada@clinic.example"), actor="test")
    assert svc.audit_trail.verify().clean
    with svc.ctx.db.engine.begin() as conn:
        conn.execute(text("UPDATE staff SET email = 'mallory@evil.example' "
                          "WHERE slack_user_id = :id"), {"id": ADMIN})
    findings = svc.audit_trail.verify().findings
    assert [f.kind for f in findings] == ["staff_changed"]
    assert "email differs" in findings[0].message
