"""The audit packet of a patient with device readings (an outside billing office's try of
issue 28): the PDF prints and verifies, `--all` picks a month whose only codes are device
codes, a closed month's packet does not change with the next month's readings, and "billed
at close" names the device codes billed. On both databases."""

from datetime import date
from pathlib import Path

import pytest

from billing.months import Month
from service import Service
from service.devices import reading_from
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
