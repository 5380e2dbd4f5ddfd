"""Issue 27.6 at the CLI: only 0-9 are digits. A duration, a month, an NPI or a `--since` in
other digits ('１２m', '２０２６-１１', '²d') is refused with that reason, exit 2, and nothing is
saved; on SQLite and PostgreSQL."""

import json

import pytest
from click.testing import CliRunner

from rpm_logger.cli import cli as rpm_logger_cli
from tests.cli.test_cli import Cli, cli, seeded  # noqa: F401 - the CLI's fixtures

REASON = "only the digits 0 to 9 are read"


def _total_seconds(cli: Cli) -> int:  # noqa: F811
    return int(json.loads(cli("status", "P-1042", "--json").stdout)["total_seconds"])


def test_a_duration_in_other_digits_is_refused_and_nothing_saved(seeded: Cli) -> None:  # noqa: F811
    for duration in ("１２m", "٣m", "1²m"):
        refused = seeded("log", "P-1042", duration, "review", "--staff", "U01NURSE", code=2)
        assert f"Cannot use duration '{duration}': {REASON}." in refused.stderr
    assert _total_seconds(seeded) == 0
    seeded("log", "P-1042", "12m", "review", "--staff", "U01NURSE")
    assert _total_seconds(seeded) == 720


def test_a_month_in_other_digits_is_refused(seeded: Cli) -> None:  # noqa: F811
    """'２０２６-１１' was read as 2026-11."""
    refused = seeded("report", "--month", "２０２６-１１", code=2)
    assert f"Cannot read month '２０２６-１１': {REASON}" in refused.stderr
    assert refused.stdout == ""


def test_an_npi_in_other_digits_is_refused(seeded: Cli) -> None:  # noqa: F811
    """'١٢٣٤٥٦٧٨٩٠' was stored as the NPI claims would carry."""
    refused = seeded("staff", "add", "U03DOC", "--name", "Ann Other", "--role", "physician",
                     "--npi", "١٢٣٤٥٦٧٨٩٠", code=2)
    assert "must be 10 digits, 0 to 9" in refused.stderr
    assert "U03DOC" not in seeded("staff", "list").stdout


def test_a_reconcile_window_in_other_digits_is_refused_not_a_traceback(
        seeded: Cli) -> None:  # noqa: F811
    """'²d' passed isdigit() and int() raised (exit 1 with a traceback); '٣d' was 72 hours."""
    for since in ("²d", "٣d"):
        refused = seeded("calls", "reconcile", "--since", since, code=2)
        assert f"Cannot use duration '{since}': {REASON}." in refused.stderr
        assert "Traceback" not in refused.stderr


@pytest.mark.parametrize(("port", "said"), [
    ("８０００", REASON), ("٨٠٠٠", REASON), ("80.5", "not a whole number"),
    ("-1", "not a whole number"), ("0", "0 is not between 1 and 65535"),
    ("70000", "70000 is not between 1 and 65535"),
])
def test_serve_refuses_a_port_it_cannot_read_and_starts_nothing(port: str, said: str) -> None:
    """click's int took '８０００' for 8000 (a helper's outside try)."""
    result = CliRunner().invoke(rpm_logger_cli, ["serve", "--port", port])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--port'" in result.output and said in result.output

