"""The dashboard's Self-audit page: the same findings as `rpm-logger audit checks`, linked
from the month page, behind the dashboard's guard, with phone numbers masked."""

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient

from billing.months import Month
from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from service.patients import PatientFields
from tests.service.helpers import log
from tests.web.support import RAW_PHONE_DIGITS, TOKEN, Page, seed_month

NOVEMBER = Month(2026, 11)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TEMPLATE = "left a message at (617) 555-0123"  # the note seed_month gives P-1042


@pytest.fixture
def client(svc: Service) -> Iterator[TestClient]:
    seed_month(svc)
    for i in range(4):  # the same note on four more patients: five in all
        svc.patients.add(f"P-400{i}", PatientFields(consent_on=date(2026, 9, 1)), actor="test")
        log(svc, "5m", patient=f"P-400{i}", note=TEMPLATE,
            started_at=datetime(2026, 11, 16, 15, tzinfo=UTC))
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=svc),
                    headers=AUTH) as test_client:
        yield test_client


def test_the_page_lists_the_services_findings(client: TestClient, svc: Service) -> None:
    month = Page(client.get("/?month=2026-11").text)
    assert month.one("a", id="self-audit-link").attrs["href"] == "/self-audit?month=2026-11"
    response = client.get("/self-audit?month=2026-11")
    assert response.status_code == 200
    page = Page(response.text)
    expected = svc.audit_checks.run(NOVEMBER).findings
    rows = page.find("tr", class_="finding")
    assert [(r.attrs["data-check"], r.attrs["data-patient"], r.attrs["data-staff"])
            for r in rows] == [(f.check, f.patient_id or "", f.staff_id or "")
                               for f in expected]
    assert {f.check for f in expected} >= {"thin_documentation", "late_documentation",
                                           "billing_prerequisites"}
    assert page.one("h2", id="self-audit").attrs["data-findings"] == str(len(expected))
    assert page.one("p", id="findings-count").content.startswith(f"{len(expected)} findings:")


def test_a_quoted_note_is_masked(client: TestClient) -> None:
    html = client.get("/self-audit?month=2026-11").text
    assert "the same note &#34;left a message at ***0123&#34; on 5 entries" in html
    for digits in RAW_PHONE_DIGITS:
        assert digits not in html


def test_a_clean_month_bad_input_and_the_guard(client: TestClient) -> None:
    clean = Page(client.get("/self-audit?month=2026-08").text)
    assert clean.one("p", id="findings-count").content == \
        "0 findings: the self-audit checks ran clean"
    assert clean.find("table", id="findings") == []
    assert client.get("/self-audit?month=2026-1").status_code == 400
    assert client.get("/self-audit", headers={"Authorization": "Bearer wrong"}).status_code \
        == 401
