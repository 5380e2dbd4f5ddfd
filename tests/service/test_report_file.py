"""A report and its totals line come from one read (helper "reports" #1): a log landing
between two reads made `/rpm report`'s CSV and the CLI table disagree with their totals."""

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner

import service.months as months_module
from billing.months import Month
from bot import dispatch, grammar
from configuration.settings import get_settings
from rpm_logger.cli import cli
from service import Service
from tests.service.helpers import ADMIN, log, seed

NOV = Month(2026, 11)


@pytest.fixture
def clinic(svc: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    """P-1042 with 15 live minutes (nothing billable yet); the first month scan that ends
    is followed by 10 more minutes (99457 from then on), as if a nurse logged them."""
    seed(svc)
    log(svc, "15m", "call", started_at=datetime(2026, 11, 3, 15, tzinfo=UTC))
    real = months_module.month_totals
    landed: list[bool] = []

    def scan_then_log(*args: Any, **kwargs: Any) -> Iterator[Any]:
        yield from real(*args, **kwargs)
        if not landed:  # once (the log's own reply scans the month too)
            landed.append(True)
            log(svc, "10m", started_at=datetime(2026, 11, 4, 15, tzinfo=UTC))

    monkeypatch.setattr(months_module, "month_totals", scan_then_log)
    return svc


def test_slack_report_csv_and_totals_agree(clinic: Service) -> None:
    sent = dispatch.report(clinic, grammar.Report("2026-11"), dispatch.Caller(ADMIN, "D0A"))
    assert isinstance(sent, dispatch.ReportFile)
    rows = list(csv.DictReader(io.StringIO(sent.content)))
    assert sent.totals.billable == sum(1 for r in rows if r["codes"])
    assert sent.totals.expected_amount == sum(Decimal(r["expected_amount"]) for r in rows)
    assert set(sent.totals.units) == {rows[0]["codes"]}  # the one patient's one code


def test_cli_report_table_and_totals_agree(clinic: Service, db_url: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    monkeypatch.setattr("rpm_logger.wiring.build_service", lambda settings, **_: clinic)
    result = CliRunner().invoke(cli, ["report", "--month", "2026-11"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    row_amount = re.search(r"\$\d+\.\d\d", next(x for x in lines if x.startswith("P-1042")))
    earned = re.search(r"\$\d+\.\d\d", next(x for x in lines if x.startswith("Earned")))
    assert row_amount and earned and row_amount.group() == earned.group(), result.output
    code = re.split(r"  +", lines[2])[3]  # the row's Codes cell
    assert f"Codes          {code} x1" in result.output, result.output


def test_totals_are_those_of_the_rows_written(svc: Service) -> None:
    """`report_file` hands the rows to the writer and counts the same rows: its totals are
    `totals()`'s when nothing changes in between."""
    seed(svc)
    log(svc, "25m", "call", started_at=datetime(2026, 11, 3, 15, tzinfo=UTC))
    rows, totals = svc.months.report_file(NOV, lambda summaries: list(summaries))
    assert [r.patient_id for r in rows] == ["P-1042"]
    assert totals == svc.months.totals(NOV)
    assert (totals.patients, totals.billable, totals.units) == (1, 1, {"99457": 1})
