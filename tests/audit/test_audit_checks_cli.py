"""`rpm-logger audit checks` (formats, exit codes) and the findings line of `month close`,
on SQLite and PostgreSQL, through the console entry point (tests/cli/runner.py)."""

import csv
import io
import json
from zoneinfo import ZoneInfo

import pytest

from billing.audit_checks import Finding
from presentation import render
from tests.cli.runner import Cli
from tests.cli.test_cli import cli as plain_cli  # noqa: F401 - the fixture, each database
from tests.conftest import FrozenClock

FINDINGS = ("4 findings: 1 thin_documentation, 1 live_without_evidence, 1 late_documentation, "
            "1 time_without_device_data")


@pytest.fixture
def checked(plain_cli: Cli) -> Cli:  # noqa: F811 - the imported fixture
    """tests/cli's `cli` (on the frozen clock, 2026-11-20) with a nurse, a doctor, P-1042
    (everything on file) and one October entry: typed "today" (2026-11-20) for 20 October
    (late), a two-letter note, marked live by hand."""
    cli = plain_cli
    cli("staff", "add", "U01NURSE", "--name", "Nina Nurse", "--role", "clinical_staff")
    cli("staff", "add", "U02DOC", "--name", "Dee Doctor", "--role", "physician",
        "--npi", "1234567890")
    cli("patient", "add", "P-1042", "--initials", "JD", "--consent", "2026-09-01",
        "--condition", "I10", "--provider", "U02DOC", "--enrolled", "2026-09-01",
        "--ordered-by", "U02DOC", "--order-date", "2026-08-20")
    cli("log", "P-1042", "25m", "call", "ok", "--staff", "U01NURSE", "--at", "2026-10-20T10:00")
    return cli


def test_the_three_formats_and_exit_codes(checked: Cli) -> None:
    table = checked("audit", "checks", "--month", "2026-10").stdout
    assert "thin_documentation  P-1042 U01NURSE #1" in table
    assert "source: OIG OEI-02-23-00261" in table
    assert table.rstrip().endswith(f"2026-10: {FINDINGS}")
    found = json.loads(checked("audit", "checks", "--month", "2026-10", "--format", "json").stdout)
    assert [f["check"] for f in found] == ["thin_documentation", "live_without_evidence",
                                           "late_documentation", "time_without_device_data"]
    assert found[0] == {"check": "thin_documentation", "patient_id": "P-1042",
                        "staff_id": "U01NURSE", "entry_ids": [1],
                        "message": found[0]["message"], "source": found[0]["source"]}
    rows = list(csv.DictReader(io.StringIO(
        checked("audit", "checks", "--month", "2026-10", "--format", "csv").stdout)))
    assert [(r["check"], r["patient_id"], r["entry_ids"]) for r in rows][0] == (
        "thin_documentation", "P-1042", "#1")
    failed = checked("audit", "checks", "--month", "2026-10", "--fail-on-findings", code=1)
    assert FINDINGS in failed.stderr and "thin_documentation" in failed.stdout


def test_a_clean_month_exits_0_even_with_fail_on_findings(checked: Cli) -> None:
    clean = checked("audit", "checks", "--month", "2026-09", "--fail-on-findings")
    assert clean.stdout.strip() == "2026-09: 0 findings: the self-audit checks ran clean"
    assert json.loads(checked("audit", "checks", "--month", "2026-09", "--format",
                          "json").stdout) == []


def test_default_month_and_refused_month(checked: Cli, clock: FrozenClock) -> None:
    now = clock().astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m")  # the CLI's
    assert checked("audit", "checks").stdout.startswith(f"{now}: ")
    refused = checked("audit", "checks", "--month", "2026-1", code=2)
    assert "'2026-01', not '2026-1'" in refused.stderr


def test_month_close_says_the_findings_with_or_without_yes(checked: Cli) -> None:
    unattended = checked("month", "close", "2026-10", code=2)  # no terminal, no --yes
    assert f"{FINDINGS} (information: the close still works" in unattended.stderr
    closed = checked("month", "close", "2026-10", "--yes", "--by", "billing")
    assert FINDINGS in closed.stderr and "closed 2026-10 by billing" in closed.stdout
    clean = checked("month", "close", "2026-09", "--yes")
    assert "0 findings: the self-audit checks ran clean on 2026-09." in clean.stderr


def test_findings_csv_is_spreadsheet_safe() -> None:
    finding = Finding("thin_documentation", "=HYPERLINK(\"x\")", "@U1", (3, 4),
                      "+1 entry", "-source")
    row = next(csv.DictReader(io.StringIO(render.findings_csv([finding]))))
    assert row == {"check": "thin_documentation", "patient_id": "'=HYPERLINK(\"x\")",
                   "staff_id": "'@U1", "entry_ids": "#3 #4", "message": "'+1 entry",
                   "source": "'-source"}
