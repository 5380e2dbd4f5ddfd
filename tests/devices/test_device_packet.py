"""The audit packet of a patient with device readings (an outside billing office's try of
issue 28): the PDF prints and verifies, `--all` picks a month whose only codes are device
codes, a closed month's packet does not change with the next month's readings, and "billed
at close" names the device codes billed. On both databases."""

import json
from datetime import date
from pathlib import Path

import pytest

from billing.months import Month
from presentation import packet as printing
from service import Service
from service.devices import reading_from
from service.patients import PatientFields
from tests.backup.conftest import cli_env
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.devices.test_device_screens import lend_and_read
from tests.service.helpers import seed

OCT, NOV = Month(2026, 10), Month(2026, 11)
V6 = "rpm-logger audit packet v6"


def _read(svc: Service, day: str) -> None:
    svc.devices.ingest([reading_from({
        "device_serial": "BP-0042", "kind": "blood_pressure", "values": {"systolic": 121},
        "measured_at": f"{day}T08:00:00-05:00"})], source="webhook", actor="webhook")


@pytest.fixture
def cli(svc: Service, db_url: str, clock: FrozenClock) -> Cli:
    seed(svc)  # P-1042: consent 2026-10-01, no time in November
    lend_and_read(svc, date(2026, 10, 20), 17)  # 20 Oct - 5 Nov: period 20 Oct - 18 Nov
    return Cli(cli_env(db_url), clock=clock)


def test_the_pdf_packet_of_a_patient_with_device_readings_prints_and_verifies(
        cli: Cli, tmp_path: Path) -> None:
    from tests.audit.packet_reading import pdf_lines

    out = tmp_path / "P-1042-2026-11.pdf"
    cli("audit", "packet", "P-1042", "--month", "2026-11", "--format", "pdf", "--out",
        str(out))
    lines = [line.text for line in pdf_lines(out.read_bytes())]
    assert any("Device readings (clinic days)" in line for line in lines)
    assert any("2026-11-03" in line for line in lines)  # a counted day, in its table
    cli("audit", "packet", "--verify", str(out))  # exit 0


def test_all_includes_a_month_whose_only_codes_are_device_codes(
        cli: Cli, svc: Service, tmp_path: Path) -> None:
    folder = tmp_path / "all"
    cli("audit", "packet", "--month", "2026-11", "--all", "--format", "pdf", "--out",
        str(folder))
    assert "packet-P-1042-2026-11.pdf" in {p.name for p in folder.iterdir()}
    chosen = {p.patient_id: p for p in svc.audit_packets.billable(NOV)}
    assert "P-1042" in chosen
    assert chosen["P-1042"].content["month"]["codes"] == []  # device codes only


def test_a_months_packet_does_not_change_with_the_next_months_readings(
        cli: Cli, svc: Service) -> None:
    october = svc.audit_packets.packet("P-1042", OCT)
    devices = october.content["month"]["devices"]
    # the period 20 Oct - 18 Nov runs past October: its days up to 31 October only, and
    # its codes are November's claim
    assert [d["day"] for d in devices["days"]][-1] == "2026-10-31"
    assert len(devices["days"]) == 12
    [period] = devices["periods"]
    assert period["days"] == 12 and period["codes_text"] is None
    assert devices["codes_text"] == ""
    printed_v6 = svc.audit_packets.packet("P-1042", OCT, fmt=V6)
    assert len(printed_v6.content["month"]["devices"]["days"]) == 17  # as v6 printed it
    assert svc.audit_packets.verify(printed_v6.content).changes == ()
    _read(svc, "2026-11-10")  # a normal reading in November, in the same period
    assert svc.audit_packets.verify(october.content).changes == ()
    # a v6 packet printed before keeps verifying as printed: its November days did change,
    # and the change is named by its day, readably
    changes = svc.audit_packets.verify(printed_v6.content).changes
    assert "month.devices.days[2026-11-10]: added since printing" in "\n".join(changes)
    assert all("..." not in change for change in changes), changes


def test_billed_at_close_names_the_device_codes_billed(svc: Service, db_url: str,
                                                       clock: FrozenClock) -> None:
    from fastapi.testclient import TestClient

    from configuration.settings import Settings
    from rpm_logger.app import create_app
    from tests.web.support import TOKEN, Page

    seed(svc)
    svc.patients.update("P-1042", PatientFields(enrolled_on=date(2026, 10, 1)), actor="t")
    lend_and_read(svc, date(2026, 10, 1), 10)  # 1-30 October: 99453;99445, October's
    cli = Cli(cli_env(db_url), clock=clock)
    cli("month", "close", "2026-10", "--yes", "--by", "billing")
    for day in range(11, 17):  # 16 days now: 99454 (the webhook keeps them)
        _read(svc, f"2026-10-{day}")
    assert "P-1042" in {p.patient_id for p in svc.audit_packets.billable(OCT)}
    packet = svc.audit_packets.packet("P-1042", OCT)
    billed = packet.content["billed_at_close"]
    assert billed["device_codes_text"] == "99453;99445" and billed["device_differs"] is True
    page = printing.html(packet)
    assert "Billed at close</dt><dd>time codes none; device codes 99453;99445" in page
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=svc)) as client:
        html = client.get("/?month=2026-10", headers={"Authorization": f"Bearer {TOKEN}"}).text
    row = Page(html).one("tr", class_="changed")
    assert "device codes 99453;99445" in row.content
    assert "device codes 99453;99454" in row.content
    assert json.loads(printing.canonical_json(packet.content))  # the content stays JSON
