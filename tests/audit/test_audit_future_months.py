"""A month after the current clinic month is refused by `audit packet`, `audit checks` and
their dashboard pages (outside auditor: they were accepted silently, as a clean screen and
an empty packet), on SQLite and PostgreSQL."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from billing.months import Month
from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from service.errors import BadInput
from tests.cli.runner import Cli
from tests.web.support import TOKEN, seed_month

AUTH = {"Authorization": f"Bearer {TOKEN}"}
DECEMBER = Month(2026, 12)  # the frozen clock is in November 2026


def test_the_service_refuses_a_future_month(svc: Service) -> None:
    seed_month(svc)
    for attempt in (lambda: svc.audit_checks.run(DECEMBER),
                    lambda: svc.audit_packets.packet("P-1042", DECEMBER),
                    lambda: svc.audit_packets.billable(DECEMBER)):
        with pytest.raises(BadInput, match="after the current clinic month"):
            attempt()
    assert svc.audit_checks.run(Month(2026, 11)).month == "2026-11"  # this month: fine
    assert svc.audit_packets.packet("P-1042", Month(2026, 11)).month == "2026-11"


@pytest.fixture
def client(svc: Service) -> Iterator[TestClient]:
    seed_month(svc)
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=svc),
                    headers=AUTH) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/patients/P-1042/packet?month=2026-12",
                                  "/self-audit?month=2026-12"])
def test_the_dashboard_answers_400(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert "after the current clinic month" in response.text


def test_the_cli_exits_2(staffed_cli: Cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    staffed_cli("patient", "add", "P-1042", "--initials", "JD")
    for args in (("audit", "checks", "--month", "2099-01"),
                 ("audit", "packet", "P-1042", "--month", "2099-01"),
                 ("audit", "packet", "--all", "--month", "2099-01", "--out", str(tmp_path))):
        result = staffed_cli(*args, code=2)
        assert "after the current clinic month" in result.stderr
        assert result.stdout == ""
