"""Issue 22: a dashboard request is one use-case call in one read transaction, on SQLite and
PostgreSQL. The month page used to read its overview, the staff for the filter and the
month's close in three."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from billing.months import Month
from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from tests.conftest import FrozenClock
from tests.service.helpers import NURSE
from tests.service.test_entry_transactions import counted
from tests.web.support import TOKEN, Page, seed_month


@pytest.fixture
def client(svc: Service) -> Iterator[TestClient]:
    seed_month(svc)
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=svc),
                    headers={"Authorization": f"Bearer {TOKEN}"}) as test_client:
        yield test_client


def test_the_month_page_is_one_read(client: TestClient, svc: Service) -> None:
    with counted(svc) as (opened, _):
        page = Page(client.get("/").text)
    assert len(page.find("tr", class_="patient")) == 4
    assert opened == ["read"]


def test_a_closed_months_page_is_one_read(client: TestClient, svc: Service,
                                          clock: FrozenClock) -> None:
    clock.now = datetime(2026, 12, 3, 15, tzinfo=UTC)
    svc.closes.close(Month(2026, 11), by="billing office")  # the page says who closed it
    for path in ("/?month=2026-11", f"/?month=2026-11&staff={NURSE}"):
        with counted(svc) as (opened, _):
            response = client.get(path)
        assert response.status_code == 200, path
        page = Page(response.text)
        assert "closed (billed) by billing office" in page.one("p", id="month-closed").content
        assert page.find("tr", class_="patient"), path
        assert opened == ["read"], path


def test_the_month_pages_staff_filter_is_read_with_it(client: TestClient,
                                                       svc: Service) -> None:
    with counted(svc) as (opened, _):
        page = Page(client.get(f"/?staff={NURSE.lower()}&month=2026-10").text)
    assert opened == ["read"]
    assert page.find("option", value=NURSE, selected="")  # the id cleaned, the member listed
    assert page.find("p", id="month-closed") == []


def test_the_self_audit_is_one_read(client: TestClient, svc: Service) -> None:
    with counted(svc) as (opened, _):
        response = client.get("/self-audit")
    assert response.status_code == 200
    assert opened == ["read"]


@pytest.mark.parametrize("path", [
    "/patients/P-1042", "/patients/P-1042?month=2026-10", "/patients/P-1042/packet",
    "/reports/2026-11.csv",
])
def test_a_view_of_a_patient_or_report_is_its_access_record_then_one_read(
        client: TestClient, svc: Service, path: str) -> None:
    """Issue 24: the access record (with the viewer's scope check) is written and committed
    first; only then is the page read, so nothing is shown that was not recorded."""
    with counted(svc) as (opened, _):
        response = client.get(path)
    assert response.status_code == 200, path
    assert opened == ["write", "read"], path


@pytest.mark.parametrize(("path", "status"), [("/?month=2026-13", 400), ("/?staff=nurse!", 400),
                                              ("/patients/P-9", 404)])
def test_a_refused_request_opens_at_most_one_transaction(client: TestClient, svc: Service,
                                                         path: str, status: int) -> None:
    with counted(svc) as (opened, _):
        assert client.get(path).status_code == status
    assert len(opened) <= 1 if status != 404 else opened == ["write"]  # refused: rolled back
