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
from service.errors import NotAllowed, NotFound
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
    assert [v.by for v in svc.access.log()] == [NURSE]
    svc.offboarding.offboard(NURSE, reassign_to=DOCTOR, actor="test")  # inactive now
    with pytest.raises(NotAllowed):  # deactivated: refused at the next view
        svc.access.record(nurse, PATIENT_PAGE, NOV, "P-1042")
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
    assert listed[0].split() == ["when", "who", "what", "patient", "month", "via"]
    assert [line.split()[3:] for line in listed[1:4]] == [
        ["cli:ana", "packet", "P-1", "2026-11", "cli"],
        ["cli:ana", "export", "(all)", "2026-11", "cli"],
        ["cli:ana", "report", "(all)", "2026-11", "cli"]]
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
