"""`rpm-logger device ...` and `rpm-logger import readings FILE.csv [--dry-run]` on both
databases: all or nothing, stored once, an unknown serial kept unmatched then attached."""

from pathlib import Path

import pytest

from service import Service
from service.patients import PatientFields
from store import devices as device_rows
from tests.backup.conftest import cli_env
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.service.helpers import seed

CSV = """reading_id,device_serial,patient_id,measured_at,kind,systolic,diastolic,kg
v-1,BP-0042,,2026-11-03T07:12:00-05:00,blood_pressure,128,82,
v-2,BP-0042,,2026-11-04T07:12:00-05:00,blood_pressure,131,85,
,SC-9,,2026-11-04T08:00:00-05:00,weight,,,81.5
"""


@pytest.fixture
def cli(svc: Service, db_url: str, clock: FrozenClock) -> Cli:
    seed(svc)
    return Cli(cli_env(db_url), clock=clock)


def test_lend_import_once_and_attach(cli: Cli, tmp_path: Path) -> None:
    added = cli("device", "add", "BP-0042", "--patient", "p-1042", "--kind", "bp_cuff",
                "--from", "2026-11-01")
    assert added.stdout == "BP-0042\tP-1042\tbp_cuff\t2026-11-01\t-\n"
    file = tmp_path / "vendor.csv"
    file.write_text(CSV)
    dry = cli("import", "readings", str(file), "--dry-run")
    assert "3 readings: would store 3, 0 already stored, 1 unmatched" in dry.stdout
    first = cli("import", "readings", str(file))
    assert "3 readings: stored 3, 0 already stored, 1 unmatched" in first.stdout
    again = cli("import", "readings", str(file))
    assert "stored 0, 3 already stored" in again.stdout
    assert "SC-9\t1\t" in cli("device", "unmatched").stdout
    hint = cli("device", "add", "SC-9", "--patient", "P-1042", "--kind", "scale",
               "--from", "2026-11-01")
    assert "1 unmatched readings of SC-9" in hint.stderr
    assert "1 reading attached; 0 still unmatched" in cli("device", "attach", "sc-9").stdout
    assert cli("device", "unmatched").stdout == "serial\treadings\tfirst\tlast\n"
    listed = cli("device", "list", "--patient", "P-1042").stdout.splitlines()
    assert listed[0] == "serial\tpatient\tkind\tfrom\tto" and len(listed) == 3
    assert "2026-11-10" in cli("device", "end", "BP-0042", "--on", "2026-11-10").stdout
    for text in (first.stdout, again.stdout, listed[1]):
        assert "128" not in text and "81.5" not in text  # values are never printed


def test_a_bad_line_stores_nothing(cli: Cli, tmp_path: Path) -> None:
    file = tmp_path / "vendor.csv"
    file.write_text(CSV.replace("blood_pressure,131", "mood,131"))
    refused = cli("import", "readings", str(file), code=2)
    assert refused.stderr.startswith("error: line 3, kind: one of")
    assert "131" not in refused.stderr
    assert cli("device", "unmatched").stdout == "serial\treadings\tfirst\tlast\n"
    bad = cli("device", "add", "BP 1", "--patient", "P-1042", "--kind", "bp_cuff", code=2)
    assert "not a device serial" in bad.stderr


def test_a_lending_from_a_future_day_or_of_a_lent_device_is_refused(cli: Cli) -> None:
    """Today is 20 November in the clinic: a cuff is lent from the day the patient has it;
    a cuff still lent says to whom."""
    future = cli("device", "add", "BP-0042", "--patient", "P-1042", "--kind", "bp_cuff",
                 "--from", "2026-11-21", code=2)
    assert "--from 2026-11-21 is after today (2026-11-20)" in future.stderr
    assert cli("device", "list").stdout.count("\n") == 1  # the header only
    cli("device", "add", "BP-0042", "--patient", "P-1042", "--kind", "bp_cuff",
        "--from", "2026-11-01")
    again = cli("device", "add", "BP-0042", "--patient", "P-1042", "--kind", "bp_cuff",
                code=2)
    assert "Device BP-0042 is lent to P-1042 until it is ended: end it first" in again.stderr


def test_a_row_whose_patient_is_not_the_serials_is_a_bad_line(cli: Cli, svc: Service,
                                                                tmp_path: Path) -> None:
    svc.patients.add("P-2077", PatientFields(initials="AB"), actor="test")
    cli("device", "add", "BP-0042", "--patient", "P-1042", "--kind", "bp_cuff",
        "--from", "2026-11-01")
    file = tmp_path / "vendor.csv"
    file.write_text(CSV.replace("v-2,BP-0042,,", "v-2,BP-0042,P-2077,"))
    refused = cli("import", "readings", str(file), code=2)
    assert refused.stderr.startswith("error: line 3, patient_id: another patient than the "
                                      "one device_serial is lent to")
    assert refused.stderr.rstrip().endswith("; nothing was stored")
    with svc.ctx.db.read() as conn:
        assert device_rows.reading_count(conn) == 0


def test_the_readings_template_imports_as_it_is(cli: Cli, tmp_path: Path) -> None:
    template = cli("import", "template", "readings").stdout
    assert template.splitlines() == [
        "reading_id,device_serial,patient_id,measured_at,kind,systolic,diastolic",
        "vendor-123,BP-0042,P-1042,2026-11-03T07:12:00-05:00,blood_pressure,128,82"]
    cli("device", "add", "BP-0042", "--patient", "P-1042", "--kind", "bp_cuff",
        "--from", "2026-11-01")
    file = tmp_path / "template.csv"
    file.write_text(template)
    assert "1 reading: stored 1, 0 already stored, 0 unmatched" in cli(
        "import", "readings", str(file)).stdout


def test_a_malformed_readings_file_names_its_line_and_stores_nothing(
        cli: Cli, tmp_path: Path) -> None:
    file = tmp_path / "vendor.csv"
    for content, said in [
        (CSV.replace("v-2,", 'v-2,"' + "x" * 200_000 + '",'), "line 3: not readable as CSV"),
        (CSV + ",SC-9,,2026-11-05T08:00:00-05:00,weight,,,80,1\n", "line 5: more cells"),
        (CSV.replace(",kg", ",systolic"), "line 1: systolic is named twice"),
        (CSV.replace(",kg", ",John Doe").replace(",81.5", ",DOB 1950"),
         "line 4, column 8: a number"),
    ]:
        file.write_text(content)
        refused = cli("import", "readings", str(file), code=2)
        assert said in refused.stderr and "nothing was stored" in refused.stderr, refused
        assert "John" not in refused.stderr and "1950" not in refused.stderr
    assert cli("device", "unmatched").stdout == "serial\treadings\tfirst\tlast\n"
