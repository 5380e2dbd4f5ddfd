"""Issue 24, the access log: every view of a patient page, a packet, a report download or an
export is an audit record (who, when, what) written before anything is shown; listed by
`rpm-logger audit access`, shown to admins on the patient's page; fail closed."""

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient

from billing.months import Month
from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from service.access import PATIENT_PAGE, REFUSED, Role, Viewer, sees_patient
from service.errors import NotAllowed, NotFound, StoreUnavailable
from tests.audit.conftest import cli_env
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.faults import failing_commit, failing_statements
from tests.service.helpers import DOCTOR, NURSE
from tests.web.support import TOKEN, Page, seed_month

NOV = Month(2026, 11)


@pytest.fixture
def client(svc: Service) -> Iterator[TestClient]:
    seed_month(svc)
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=svc),
                    headers={"Authorization": f"Bearer {TOKEN}"}) as test_client:
        yield test_client


def test_every_view_is_recorded_and_the_admin_sees_them_on_the_patients_page(
        client: TestClient, svc: Service) -> None:
    assert client.get("/patients/p-1042/packet?month=2026-11").status_code == 200
    assert client.get("/reports/2026-11.csv").status_code == 200
    page = Page(client.get("/patients/P-1042?month=2026-11").text)
    assert client.get("/").status_code == 200  # the month page is no patient's page
    assert client.get("/self-audit").status_code == 200
    views = svc.access.log()
    assert [(v.by, v.what, v.patient, v.month, v.via) for v in views] == [
        ("dashboard-token", "patient_page", "P-1042", "2026-11", "web"),
        ("dashboard-token", "report", None, "2026-11", "web"),
        ("dashboard-token", "packet", "P-1042", "2026-11", "web"),
    ]
    shown = page.find("tr", class_="access")  # the page's own view is on it
    assert [(r.attrs["data-by"], r.attrs["data-what"]) for r in shown] == [
        ("dashboard-token", "patient_page"), ("dashboard-token", "packet")]
    assert svc.access.log(patient_ref="P-2001") == []
    assert svc.audit_trail.verify().clean  # chained like every other record


@pytest.mark.parametrize("fault", ["statement", "commit"])
def test_no_record_no_page(client: TestClient, svc: Service, fault: str) -> None:
    """Fail closed: the access record cannot be written, so nothing of the patient is read
    or shown (503), and nothing is recorded."""
    db = svc.ctx.db
    breaking = failing_statements(db, only="INSERT", message="disk I/O error") \
        if fault == "statement" else failing_commit(db, times=3)
    with breaking as failed:
        for path in ("/patients/P-1042", "/patients/P-1042/packet", "/reports/2026-11.csv"):
            response = client.get(path)
            assert response.status_code == 503, path
            for secret in ("JD", "99457", "Nina", "left a message"):
                assert secret not in response.text
    assert failed.failed
    assert svc.access.log() == []
    assert svc.audit_trail.verify().clean


def test_a_refused_view_records_nothing(client: TestClient, svc: Service) -> None:
    assert client.get("/patients/P-9999").status_code == 404
    assert svc.access.log() == []


def test_who_sees_which_patient_is_the_services_rule(svc: Service) -> None:
    seed_month(svc)
    nurse = Viewer(NURSE, Role.STAFF, staff_id=NURSE)
    assert svc.access.record(nurse, PATIENT_PAGE, NOV, "p-1042") == "P-1042"
    for other in ("P-2001", "P-9999"):  # another's patient, and none: the same refusal
        with pytest.raises(NotAllowed, match=REFUSED):
            svc.access.record(nurse, PATIENT_PAGE, NOV, other)
    with pytest.raises(NotAllowed):  # a report is every patient's: admins only
        svc.access.record(nurse, "report", NOV)
    with pytest.raises(NotFound, match="Did you mean"):  # an admin is told what exists
        svc.access.record(Viewer.admin("dashboard-token"), PATIENT_PAGE, NOV, "P-1024")
    # her refused asks are on record too (outside try of issue 24), the id that named no
    # patient as "?", never as typed; an admin's unknown id is not a refusal
    assert [(v.by, v.what, v.patient, v.unknown_patient, v.outcome)
            for v in svc.access.log()] == [
        (NURSE, "report", None, False, "refused"),
        (NURSE, PATIENT_PAGE, None, True, "refused"),
        (NURSE, PATIENT_PAGE, "P-2001", False, "refused"),
        (NURSE, PATIENT_PAGE, "P-1042", False, "viewed")]
    assert [v.patient for v in svc.access.log(refused=False)] == ["P-1042"]
    assert len(svc.access.log(refused=True, patient_ref="P-2001")) == 1
    svc.offboarding.offboard(NURSE, reassign_to=DOCTOR, actor="test")  # inactive now
    with pytest.raises(NotAllowed):  # deactivated: refused at the next view, unrecorded
        svc.access.record(nurse, PATIENT_PAGE, NOV, "P-1042")
    assert len(svc.access.log()) == 4
    auditor = Viewer("auditor:1", Role.AUDITOR, months=(NOV, NOV),
                     patients=frozenset({"P-1042"}))
    assert sees_patient(auditor, "p-1042", None, NOV)
    assert not sees_patient(auditor, "P-1042", None, Month(2026, 10))
    assert not sees_patient(auditor, "P-2001", DOCTOR, NOV)


def test_the_cli_records_report_export_and_packet_as_its_operator(
        db_url: str, clock: FrozenClock) -> None:
    env = cli_env(db_url) | {"USER": "ana", "LOGNAME": "ana"}
    cli = Cli(env, clock=clock)
    cli("patient", "add", "P-1", "--initials", "AB")
    cli("patient", "add", "P-2", "--initials", "CD")
    cli("report", "--month", "2026-11", "--format", "csv")
    cli("export", "--month", "2026-11")
    cli("audit", "packet", "P-1", "--month", "2026-11")
    listed = cli("audit", "access").stdout.splitlines()
    assert listed[0].split() == ["when", "who", "what", "patient", "month", "via", "outcome"]
    assert [line.split()[3:] for line in listed[1:4]] == [
        ["cli:ana", "packet", "P-1", "2026-11", "cli", "viewed"],
        ["cli:ana", "export", "(all)", "2026-11", "cli", "viewed"],
        ["cli:ana", "report", "(all)", "2026-11", "cli", "viewed"]]
    assert listed[0].startswith("when") and "EST" in listed[1]
    assert listed[-1] == "3 views"
    assert len(cli("audit", "access", "--patient", "p-1").stdout.splitlines()) == 3
    assert cli("audit", "access", "--patient", "P-2").stdout == "no views recorded\n"
    assert cli("audit", "access", "--by", "CLI:ANA", "--json").stdout.count('"by"') == 3
    assert cli("audit", "access", "--by", "dashboard-token").stdout == "no views recorded\n"
    tomorrow = date.fromordinal(clock.now.date().toordinal() + 1).isoformat()
    assert cli("audit", "access", "--since", tomorrow).stdout == "no views recorded\n"
    assert "P-3" in cli("audit", "access", "--patient", "P-3", code=2).stderr
    cli("audit", "verify")


def test_a_refused_ask_is_on_record_and_listed_by_audit_access(
        client: TestClient, svc: Service, db_url: str, clock: FrozenClock) -> None:
    """Outside try of issue 24: an auditor (or a signed-in member) asking for a patient
    outside their scope got a 403 and left no trace. Now the ask is an access record, action
    `refused` (who, when, what, the patient): on the patient's page for admins and in
    `audit access` (`--refused`: those only). A request with no session is refused before
    anyone's scope is looked at and records nothing."""
    link = svc.auditors.grant(name="Payer", months="2026-11", patients="P-1042",
                              expires_on=date(2026, 12, 31), actor="cli:ana").link_token
    app = client.app
    with TestClient(app, base_url="https://testserver") as auditor:
        assert auditor.post("/auditor/sign-in", data={"link": link}).status_code == 200
        assert auditor.get("/patients/P-1042?month=2026-11").status_code == 200
        refused = auditor.get("/patients/P-2001/packet?month=2026-11")
        assert refused.status_code == 403 and "AB" not in refused.text
    with TestClient(app, base_url="https://testserver") as stranger:
        for cookies in ({}, {"rpm_session": "forged.0000"}):
            assert stranger.get("/patients/P-2001", cookies=cookies).status_code == 401
    page = Page(client.get("/patients/P-2001?month=2026-11").text)
    assert [(r.attrs["data-by"], r.attrs["data-what"], r.attrs["data-outcome"])
            for r in page.find("tr", class_="access")] == [
        ("dashboard-token", "patient_page", "viewed"), ("auditor:1", "packet", "refused")]
    cli = Cli(cli_env(db_url), clock=clock)
    listed = cli("audit", "access", "--refused").stdout.splitlines()
    assert [line.split()[3:] for line in listed[1:-1]] == [
        ["auditor:1", "packet", "P-2001", "2026-11", "web", "refused"]]
    assert listed[-1] == "1 refused"
    assert cli("audit", "access").stdout.splitlines()[-1] == "2 views, 1 refused"
    assert cli("audit", "access", "--refused", "--by", "dashboard-token").stdout == \
        "no refused asks recorded\n"
    assert '"outcome": "refused"' in cli("audit", "access", "--refused", "--json").stdout
    assert svc.audit_trail.verify().clean


def test_a_refusal_that_cannot_be_recorded_shows_nothing(svc: Service) -> None:
    """The refused ask's record fails to write: still refused, nothing recorded (a 503 on
    the dashboard, as for a view), no PHI."""
    seed_month(svc)
    nurse = Viewer(NURSE, Role.STAFF, staff_id=NURSE)
    with failing_statements(svc.ctx.db, only="INSERT", message="disk I/O error") as failed, \
            pytest.raises(StoreUnavailable):
        svc.access.record(nurse, PATIENT_PAGE, NOV, "P-2001")
    assert failed.failed and svc.access.log() == []
