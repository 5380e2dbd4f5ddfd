"""Issue 24, auditor access: `rpm-logger auditor grant` prints a one-time link that starts a
read-only session limited to the grant's months and patients; `auditor list`, `auditor
revoke`; an expired, revoked or replayed link (or a forged or idle session) is refused
with nothing changed and no PHI."""

import base64
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from service.access import EXPIRED, REVOKED
from service.auditors import USED
from service.errors import NotAllowed
from service.sessions import DashboardLogin, session_cookie, session_from_cookie
from store.models import AuditEvent
from tests.audit.conftest import cli_env
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.web.support import TOKEN, Page, seed_month
from web.access import SESSION_COOKIE

PHI = ("P-2001", "P-2002", "AB", "CK", "Nina", "99458")


def _records(svc: Service) -> int:
    return svc.audit_trail.verify().records


@pytest.fixture
def app_client(svc: Service) -> Iterator[TestClient]:
    """The dashboard with DASHBOARD_TOKEN set, reached over https (Secure cookies)."""
    seed_month(svc)
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=svc),
                    base_url="https://testserver") as client:
        yield client


def _grant(svc: Service, **scope: str) -> str:
    issued = svc.auditors.grant(name="Payer reviewer", months=scope.get("months", "2026-11"),
                                patients=scope.get("patients", "p-1042"),
                                expires_on=date(2026, 12, 31), actor="cli:ana")
    return issued.link_token


def _sign_in(client: TestClient, link: str) -> int:
    return client.post("/auditor/sign-in", data={"link": link},
                       follow_redirects=False).status_code


def test_an_auditor_sees_only_the_grants_months_and_patients(
        app_client: TestClient, svc: Service) -> None:
    link = _grant(svc)
    form = Page(app_client.get("/auditor/sign-in", params={"link": link}).text)
    assert form.one("input", name="link").attrs["value"] == link  # the GET uses nothing up
    started = app_client.post("/auditor/sign-in", data={"link": link}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == "/"
    cookie = [p.strip().lower() for p in started.headers["set-cookie"].split(";")]
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= set(cookie)
    month = app_client.get("/")
    assert month.status_code == 200
    page = Page(month.text)
    assert [r.attrs["data-patient"] for r in page.find("tr", class_="patient")] == ["P-1042"]
    assert "Payer reviewer (auditor #1, 2026-11, read-only)" in page.one(
        "span", id="signed-in").content
    assert page.find("select", name="staff") == [] and "/reports/" not in month.text
    assert app_client.get("/patients/P-1042?month=2026-11").status_code == 200
    assert app_client.get("/patients/P-1042/packet?month=2026-11").status_code == 200
    for refused in ("/patients/P-2001?month=2026-11", "/patients/P-1042?month=2026-10",
                    "/?month=2026-10", "/self-audit", "/reports/2026-11.csv",
                    "/patients/P-9999?month=2026-11"):
        answer = app_client.get(refused)
        assert answer.status_code == 403, refused
        assert not any(secret in answer.text for secret in PHI), refused
        assert "Did you mean" not in answer.text
    views = svc.access.log()  # the month page and the self-audit are no patient's views
    assert [(v.by, v.what, v.patient, v.month, v.outcome) for v in views] == [
        ("auditor:1", "patient_page", None, "2026-11", "refused"),  # P-9999: no patient
        ("auditor:1", "report", None, "2026-11", "refused"),
        ("auditor:1", "patient_page", "P-1042", "2026-10", "refused"),  # outside its months
        ("auditor:1", "patient_page", "P-2001", "2026-11", "refused"),
        ("auditor:1", "packet", "P-1042", "2026-11", "viewed"),
        ("auditor:1", "patient_page", "P-1042", "2026-11", "viewed")]
    assert views[0].unknown_patient and not views[1].unknown_patient
    assert svc.audit_trail.verify().clean


def test_a_replayed_revoked_or_expired_link_is_refused_and_changes_nothing(
        app_client: TestClient, svc: Service, clock: FrozenClock) -> None:
    link = _grant(svc)
    assert _sign_in(app_client, link) == 303
    app_client.cookies.clear()
    before = _records(svc)
    replay = app_client.post("/auditor/sign-in", data={"link": link})
    assert replay.status_code == 403 and USED in replay.text
    assert SESSION_COOKIE not in replay.headers.get("set-cookie", "")
    tampered = link[:-1] + ("0" if link[-1] != "0" else "1")
    for bad in (tampered, "", "1.x.y", link.replace("1.", "2.", 1), "x" * 10_000):
        answer = app_client.post("/auditor/sign-in", data={"link": bad})
        assert answer.status_code == 403 and "not a valid auditor sign-in link" in answer.text
    revoked_link = _grant(svc, months="2026-10..2026-11", patients="P-1042,P-2001")
    svc.auditors.revoke("2", actor="cli:ana")
    answer = app_client.post("/auditor/sign-in", data={"link": revoked_link})
    assert answer.status_code == 403 and REVOKED in answer.text
    late_link = _grant(svc)
    clock.advance(days=42)  # past 2026-12-31 in New York
    answer = app_client.post("/auditor/sign-in", data={"link": late_link})
    assert answer.status_code == 403 and EXPIRED in answer.text
    assert _records(svc) == before + 3  # the two grants and the revoke; no refusal wrote
    assert svc.access.log() == []


def test_revoking_or_expiry_ends_a_running_session_and_idle_sessions_end(
        app_client: TestClient, svc: Service, clock: FrozenClock) -> None:
    assert _sign_in(app_client, _grant(svc)) == 303
    clock.advance(minutes=29)
    assert app_client.get("/").status_code == 200  # each answer moves "last seen" on
    clock.advance(minutes=29)
    assert app_client.get("/").status_code == 200
    clock.advance(minutes=31)
    idle = app_client.get("/")
    assert idle.status_code == 401 and "Your session has ended" in idle.text
    assert _sign_in(app_client, _grant(svc)) == 303
    assert app_client.get("/").status_code == 200
    copied = app_client.cookies[SESSION_COOKIE]
    svc.auditors.revoke("2", actor="cli:ana")
    ended = app_client.get("/patients/P-1042?month=2026-11")
    assert ended.status_code == 403 and REVOKED in ended.text
    assert 'rpm_session=""' in ended.headers["set-cookie"]  # the browser forgets it
    assert not any(secret in ended.text for secret in PHI + ("JD",))
    with svc.ctx.db.read_session() as session:  # and the server ended its session
        [end] = session.exec(select(AuditEvent).where(AuditEvent.action == "end")).all()
    assert (end.actor, end.entity, end.entity_id) == ("cli:ana", "dashboard_session",
                                                      "auditor:2")
    app_client.cookies.clear()
    assert app_client.get("/", cookies={SESSION_COOKIE: copied}).status_code == 403
    # a running session past the grant's last day (2026-12-31): refused, saying so
    link = _grant(svc)
    clock.now = datetime(2027, 1, 1, 4, 40, tzinfo=UTC)  # 23:40 on its last day in New York
    assert _sign_in(app_client, link) == 303
    assert app_client.get("/").status_code == 200
    clock.advance(minutes=25)  # 00:05 on 2027-01-01 in New York
    late = app_client.get("/patients/P-1042?month=2026-11")
    assert late.status_code == 403 and EXPIRED in late.text
    assert not any(secret in late.text for secret in PHI + ("JD",))


def test_a_forged_or_stale_session_cookie_is_refused(app_client: TestClient,
                                                     svc: Service) -> None:
    key = svc.keys.key()
    now = int(svc.ctx.now().timestamp())
    sid = "s" * 32
    before_sessions = json.dumps({"i": now, "k": "auditor", "s": "1", "t": now},
                                 separators=(",", ":"), sort_keys=True)  # before 0020
    old = base64.urlsafe_b64encode(before_sessions.encode()).decode().rstrip("=")
    old_mac = hmac.new(key, b"rpm-logger session v1:" + old.encode(), "sha256").hexdigest()
    forged = [session_cookie(b"k" * 32, DashboardLogin("auditor", "1", now, now, sid)),
              session_cookie(key, DashboardLogin("auditor", "1", now, now, sid))[:-2] + "00",
              session_cookie(key, DashboardLogin("staff", "U01NURSE", now - 13 * 3600, now,
                                                 sid)),
              f"{old}.{old_mac}",
              "e30.abc", "not a cookie", "x" * 5000]
    for value in forged:
        answer = app_client.get("/", cookies={SESSION_COOKIE: value})
        assert answer.status_code == 401, value
        assert "Your session has ended" in answer.text
        assert not any(secret in answer.text for secret in PHI + ("P-1042",))
    # a correctly signed session for a grant whose link was never used: refused
    assert app_client.get("/", cookies={SESSION_COOKIE: session_cookie(
        key, DashboardLogin("auditor", "7", now, now, sid))}).status_code == 403
    # an open grant, but a session id the server never started: refused as ended
    started = svc.auditors.redeem(_grant(svc))
    assert app_client.get("/", cookies={SESSION_COOKIE: session_cookie(
        key, started)}).status_code == 200
    unstarted = app_client.get("/", cookies={SESSION_COOKIE: session_cookie(
        key, replace(started, sid=sid))})
    assert unstarted.status_code == 401 and "Your session has ended" in unstarted.text
    assert session_from_cookie(key, forged[1], now, idle_s=60, max_s=3600) is None


def test_a_link_works_once_even_through_the_service(svc: Service) -> None:
    seed_month(svc)
    link = _grant(svc)
    session = svc.auditors.redeem(link)
    assert (session.kind, session.subject) == ("auditor", "1")
    with pytest.raises(NotAllowed, match="already used"):
        svc.auditors.redeem(link)


def test_two_browsers_racing_with_one_link_get_one_session(svc: Service) -> None:
    seed_month(svc)
    link = _grant(svc)
    svc.keys.key()
    outcomes: list[str] = []

    def use() -> None:
        try:
            outcomes.append(svc.auditors.redeem(link).kind)
        except NotAllowed as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted(["auditor"] + [USED] * 3)  # one wins, the rest told
    assert [g.link_used_at is not None for g in svc.auditors.list()] == [True]
    assert svc.audit_trail.verify().clean


def test_the_cli_grants_lists_and_revokes(db_url: str, clock: FrozenClock) -> None:
    cli = Cli(cli_env(db_url) | {"USER": "ana", "LOGNAME": "ana",
                                 "PUBLIC_BASE_URL": "https://rpm.example.org/"}, clock=clock)
    cli("patient", "add", "P-1042", "--initials", "JD")
    cli("patient", "add", "P-1045", "--initials", "KL")
    granted = cli("auditor", "grant", "--name", "Payer reviewer", "--months",
                  "2026-10..2026-12", "--patients", "p-1042,P-1045", "--expires", "2026-12-31")
    url = urlsplit(granted.stdout.strip())
    assert (url.scheme, url.netloc, url.path) == ("https", "rpm.example.org",
                                                  "/auditor/sign-in")
    assert parse_qs(url.query)["link"][0].startswith("1.")
    assert "granted #1: Payer reviewer: 2026-10..2026-12, P-1042, P-1045, through " \
           "2026-12-31; the link above works once" in granted.stderr
    listed = cli("auditor", "list").stdout
    assert "#1  Payer reviewer: 2026-10..2026-12, P-1042, P-1045" in listed
    assert "granted by cli:ana  [link not used yet]" in listed
    for bad, why in ((["--months", "2026-12..2026-10"], "backwards"),
                     (["--months", "2026-1"], "2026-01"),
                     (["--patients", "P-9"], "No patient"),
                     (["--expires", "2026-11-19"], "that day is over")):
        args = {"--months": "2026-11", "--expires": "2026-12-31"}
        args.update(dict(zip(bad[::2], bad[1::2], strict=True)))
        flat = [x for pair in args.items() for x in pair]
        result = cli("auditor", "grant", "--name", "X", *flat, code=2)
        assert why in result.stderr, (bad, result.stderr)
    assert cli("auditor", "revoke", "1").stdout.startswith("revoked #1: Payer reviewer")
    assert "already revoked" in cli("auditor", "revoke", "1", code=2).stderr
    assert "No auditor grant #9" in cli("auditor", "revoke", "9", code=2).stderr
    assert "[revoked 2026-11-20 15:00 EST by cli:ana]" in cli("auditor", "list").stdout
    cli("audit", "verify")


def test_an_auditors_patient_page_shows_only_the_grants_months_of_history_readably(
        svc: Service, clock: FrozenClock) -> None:
    """Outside auditor: a grant for 2026-10..2026-11 saw a December `patient.reassign` on the
    patient's page, and values as Python wrote them (`{'file': ...}`, `['2026-10-01', None]`)."""
    from billing.months import Month
    from service.access import Role, Viewer
    from service.patients import PatientFields
    from tests.service.helpers import DOCTOR

    seed_month(svc)
    svc.patients.update("P-1042", PatientFields(enrolled_on=date(2026, 10, 1)),
                        actor="test")
    clock.advance(days=15)  # December
    svc.patients.update("P-1042", PatientFields(assign=DOCTOR), actor="test")
    auditor = Viewer("auditor:1", Role.AUDITOR, grant_id=1,
                     months=(Month(2026, 10), Month(2026, 11)))
    november = Month(2026, 11)
    admin_page = svc.dashboard.patient("P-1042", november, viewer=Viewer.admin("t"))
    audit_page = svc.dashboard.patient("P-1042", november, viewer=auditor)
    assert any(a.at.month == 12 for a in admin_page.audit)
    assert audit_page.audit and all(a.at.month in (10, 11) for a in audit_page.audit)
    cells = [cell for a in admin_page.audit for change in a.changes for cell in change[1:]]
    assert any("2026-10-01 to open" in c for c in cells), cells
    assert not any(c.startswith(("[", "{", "(")) or "None" in c for c in cells), cells


def test_audit_values_read_as_words() -> None:
    from service.dashboard import audit_changes

    [(_, old, new)] = audit_changes(None, {"import": {"file": "x.csv", "sha256": "ab" * 32,
                                                      "line": 2}}, region="US")
    assert (old, new) == ("", "file x.csv, sha256 abababababab…, line 2")
    [(_, _, spans)] = audit_changes(None, {"episodes": [["2026-10-01", "2026-10-20"],
                                                        ["2026-11-02", None]]}, region="US")
    assert spans == "2026-10-01 to 2026-10-20; 2026-11-02 to open"
