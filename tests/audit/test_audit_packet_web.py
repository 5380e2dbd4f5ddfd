"""The dashboard's patient page links the month's audit packet; the packet route serves the
printable HTML the CLI prints, behind the dashboard's guard, with no phone number in it."""

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from billing.months import Month
from configuration.settings import Settings
from presentation import packet as packet_render
from rpm_logger.app import create_app
from service import Service
from tests.web.support import RAW_PHONE_DIGITS, TOKEN, Page, seed_month

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(svc: Service) -> Iterator[TestClient]:
    seed_month(svc)
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=svc),
                    headers=AUTH) as test_client:
        yield test_client


def test_the_patient_page_links_the_packet_of_the_month_shown(client: TestClient) -> None:
    for month in ("2026-11", "2026-10"):
        page = Page(client.get(f"/patients/P-1042?month={month}").text)
        [link] = [e for e in page.elements if e.attrs.get("id") == "packet-link"]
        assert link.attrs["href"] == f"/patients/P-1042/packet?month={month}"


def test_the_packet_route_serves_the_printable_packet(client: TestClient, svc: Service) -> None:
    response = client.get("/patients/p-1042/packet?month=2026-11")
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/html")
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    reading = packet_render.read(response.content)
    assert reading.intact and reading.kind == "html"
    assert reading.content["patient"]["patient_id"] == "P-1042"
    assert svc.audit_packets.verify(reading.content).changes == ()
    assert svc.audit_packets.packet("P-1042", Month(2026, 11)).content["entries"] == \
        reading.content["entries"]


def test_the_packet_shows_no_phone_number(client: TestClient) -> None:
    html = client.get("/patients/P-1042/packet?month=2026-11").text
    assert "left a message at" in html  # the note is there, its number masked
    without_hashes = re.sub(r"[0-9a-f]{64}", "", html)
    for digits in RAW_PHONE_DIGITS:
        assert digits not in without_hashes


@pytest.mark.parametrize(("path", "status"), [
    ("/patients/P-9999/packet?month=2026-11", 404),
    ("/patients/P-1042/packet?month=2026-1", 400),
])
def test_bad_input_is_a_clear_page(client: TestClient, path: str, status: int) -> None:
    assert client.get(path).status_code == status


def test_the_packet_needs_the_dashboard_token(svc: Service) -> None:
    seed_month(svc)
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=svc)) as anonymous:
        response = anonymous.get("/patients/P-1042/packet?month=2026-11")
    assert response.status_code == 401 and "packet-data" not in response.text
