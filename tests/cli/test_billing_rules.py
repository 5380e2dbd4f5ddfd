"""Issue 11: each billing rule through the real CLI, on SQLite and PostgreSQL.

Every scenario is in October 2026 or earlier (all past), clinic zone America/New_York.
"""

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli import Cli

NURSE = "U01NURSE"


@pytest.fixture
def rpm(db_url: str, tmp_path: Path) -> Cli:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "TWILIO_", "CPT_", "MIN_LIVE"))}
    env.update(DATABASE_URL=db_url, CLINIC_TIMEZONE="America/New_York")
    cli = Cli(env)
    cli("staff", "add", NURSE, "--name", "Nina Nurse", "--role", "clinical_staff")
    cli("patient", "add", "P-100", "--initials", "AB", "--enrolled", "2026-01-01",
        "--consent", "2026-01-01")
    return cli


def log(cli: Cli, patient: str, duration: str, activity: str, at: str, *extra: str) -> int:
    out = cli("log", patient, duration, activity, "--staff", NURSE, "--at", at, *extra)
    return int(out.stdout.strip())


def status(cli: Cli, patient: str, month: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(cli("status", patient, "--month", month,
                                            "--json").stdout)
    # the seconds left out are a number a billing system can read, never an object's repr
    assert isinstance(result["not_counted_seconds"], int), result["not_counted_seconds"]
    return result


def report(cli: Cli, month: str) -> dict[str, dict[str, Any]]:
    rows = json.loads(cli("report", "--month", month, "--format", "json").stdout)
    assert all(isinstance(row["not_counted_seconds"], int) for row in rows)
    return {row["patient_id"]: row for row in rows}


def money(row: dict[str, Any]) -> tuple[list[dict[str, Any]], float]:
    return row["codes"], row["expected_amount"]


# 1 -----------------------------------------------------------------------------------------
def test_1_a_short_call_logged_by_hand_is_not_live(rpm: Cli) -> None:
    short = log(rpm, "P-100", "29s", "call", "2026-10-05T10:00")
    log(rpm, "P-100", "25m", "review", "2026-10-05T11:00")
    month = status(rpm, "P-100", "2026-10")
    assert month["live_interactions"] == 0 and month["codes"] == []
    assert month["total_seconds"] == 25 * 60 + 29  # its seconds still count as time
    assert any(f"entry #{short} is under the clinic's 30 s floor" in w
               for w in month["warnings"])
    log(rpm, "P-100", "20s", "education", "2026-10-06T10:00", "--live")  # --live too
    assert status(rpm, "P-100", "2026-10")["live_interactions"] == 0
    log(rpm, "P-100", "30s", "call", "2026-10-07T10:00")
    month = status(rpm, "P-100", "2026-10")
    assert month["live_interactions"] == 1
    assert month["codes"] == [{"code": "99457", "units": 1}]


# 2 -----------------------------------------------------------------------------------------
def test_2_ending_the_window_before_the_work_stops_it_counting(rpm: Cli) -> None:
    first = log(rpm, "P-100", "15m", "call", "2026-10-20T10:00")
    second = log(rpm, "P-100", "10m", "review", "2026-10-21T10:00")
    assert status(rpm, "P-100", "2026-10")["codes"] == [{"code": "99457", "units": 1}]
    rpm("patient", "end", "P-100", "--on", "2026-10-10")
    month = status(rpm, "P-100", "2026-10")
    assert (month["codes"], month["expected_amount"], month["total_seconds"]) == ([], 0.0, 0)
    assert month["not_counted_seconds"] == 25 * 60
    assert any("outside the enrolment window" in w and f"#{first}" in w and f"#{second}" in w
               for w in month["warnings"])
    assert money(report(rpm, "2026-10")["P-100"]) == ([], 0.0)


def test_2_moving_enrolment_after_the_work_stops_it_counting(rpm: Cli) -> None:
    log(rpm, "P-100", "15m", "call", "2026-10-05T10:00")
    log(rpm, "P-100", "10m", "review", "2026-10-06T10:00")
    rpm("patient", "update", "P-100", "--enrolled", "2026-10-15")
    row = report(rpm, "2026-10")["P-100"]
    assert (row["codes"], row["expected_amount"], row["not_counted_seconds"]) == ([], 0.0, 1500)
    assert status(rpm, "P-100", "2026-10")["codes"] == []


def test_2_a_window_change_into_a_closed_month_needs_an_amendment(rpm: Cli) -> None:
    log(rpm, "P-100", "25m", "call", "2026-10-20T10:00")
    rpm("month", "close", "2026-10", "--yes")
    refused = rpm("patient", "end", "P-100", "--on", "2026-10-10", code=2)
    assert "2026-10 is closed" in refused.stderr
    refused = rpm("patient", "update", "P-100", "--enrolled", "2026-10-25", code=2)
    assert "2026-10 is closed" in refused.stderr
    assert status(rpm, "P-100", "2026-10")["codes"] == [{"code": "99457", "units": 1}]
    rpm("patient", "end", "P-100", "--on", "2026-10-10", "--amend", "discharged on the 10th")
    assert status(rpm, "P-100", "2026-10")["codes"] == []
    # a change that touches no closed month needs nothing
    rpm("patient", "add", "P-200", "--enrolled", "2026-01-01")
    rpm("patient", "update", "P-200", "--initials", "CD")


# 3 -----------------------------------------------------------------------------------------
def test_3_status_and_report_agree_after_an_earlier_end(rpm: Cli) -> None:
    log(rpm, "P-100", "25m", "call", "2026-10-05T10:00")
    rpm("patient", "end", "P-100", "--on", "2026-09-30")
    assert "P-100" not in report(rpm, "2026-10")
    month = status(rpm, "P-100", "2026-10")
    assert money(month) == ([], 0.0)
    assert any("not enrolled in 2026-10" in w for w in month["warnings"])


# 4 -----------------------------------------------------------------------------------------
def test_4_no_99458_before_2020(rpm: Cli) -> None:
    rpm("patient", "add", "P-2019", "--consent", "2019-01-02")
    log(rpm, "P-2019", "45m", "call", "2019-06-05T10:00")
    assert status(rpm, "P-2019", "2019-06")["codes"] == [{"code": "99457", "units": 1}]
    log(rpm, "P-2019", "45m", "call", "2020-01-06T10:00")
    assert status(rpm, "P-2019", "2020-01")["codes"] == [
        {"code": "99457", "units": 1}, {"code": "99458", "units": 1}]


# 5 -----------------------------------------------------------------------------------------
def test_5_time_before_the_consent_date_does_not_count(rpm: Cli) -> None:
    rpm("patient", "add", "P-300", "--enrolled", "2026-10-01", "--consent", "2026-10-20")
    log(rpm, "P-300", "15m", "call", "2026-10-05T10:00")
    log(rpm, "P-300", "10m", "review", "2026-10-06T10:00")
    month = status(rpm, "P-300", "2026-10")
    assert (month["codes"], month["total_seconds"], month["live_interactions"]) == ([], 0, 0)
    assert any("before the consent date" in w for w in month["warnings"])
    assert money(report(rpm, "2026-10")["P-300"]) == ([], 0.0)
    # no consent date on file: codes as before, with the warning
    rpm("patient", "add", "P-301", "--enrolled", "2026-10-01")
    log(rpm, "P-301", "25m", "call", "2026-10-05T12:00")
    month = status(rpm, "P-301", "2026-10")
    assert month["codes"] == [{"code": "99457", "units": 1}]
    assert any("no consent on file" in w for w in month["warnings"])


# 6 -----------------------------------------------------------------------------------------
def test_6_the_same_clock_timed_minutes_count_once(rpm: Cli) -> None:
    log(rpm, "P-100", "20m", "call", "2026-10-05T10:00")
    twice = log(rpm, "P-100", "20m", "call", "2026-10-05T10:00")
    month = status(rpm, "P-100", "2026-10")
    assert (month["total_seconds"], month["codes"]) == (1200, [{"code": "99457", "units": 1}])
    assert month["not_counted"] == [{"entry_id": twice, "seconds": 1200, "reason":
                                     "overlaps other clock-timed time of this patient "
                                     "(counted once)"}]
    assert report(rpm, "2026-10")["P-100"]["total_seconds"] == 1200


def test_6_estimated_entries_are_still_summed(rpm: Cli) -> None:
    rpm("log", "P-100", "20m", "review", "--staff", NURSE)
    rpm("log", "P-100", "20m", "call", "--staff", NURSE)
    month = json.loads(rpm("status", "P-100", "--json").stdout)
    assert month["total_seconds"] == 2400 and month["not_counted_seconds"] == 0


# 7 -----------------------------------------------------------------------------------------
def test_7_an_entry_across_midnight_is_split_between_the_months(rpm: Cli) -> None:
    entry = log(rpm, "P-100", "20m", "call", "2026-09-30T23:50")
    september, october = status(rpm, "P-100", "2026-09"), status(rpm, "P-100", "2026-10")
    assert (september["total_seconds"], october["total_seconds"]) == (600, 600)
    # the live interaction belongs to the month in which it started
    assert (september["live_interactions"], october["live_interactions"]) == (1, 0)
    assert f"#{entry}" in rpm("entries", "P-100", "--month", "2026-10").stdout
    assert "10 min in this month" in rpm("entries", "P-100", "--month", "2026-10").stdout
    for month, share in (("2026-09", "600"), ("2026-10", "600")):
        rows = list(csv.DictReader(io.StringIO(rpm("export", "--month", month).stdout)))
        assert [(r["entry_id"], r["month_seconds"]) for r in rows] == [(str(entry), share)]
    # a close of either month locks it
    rpm("month", "close", "2026-10", "--yes")
    refused = rpm("void", str(entry), "--reason", "wrong patient", "--staff", NURSE, code=2)
    assert "2026-10 is closed" in refused.stderr
    refused = rpm("log", "P-100", "20m", "review", "--staff", NURSE,
                  "--at", "2026-09-30T23:55", code=2)
    assert "2026-10 is closed" in refused.stderr
    rpm("void", str(entry), "--reason", "wrong patient", "--staff", NURSE, "--amend")


# 8 -----------------------------------------------------------------------------------------
def test_8_the_99458_cap_defaults_to_three(rpm: Cli) -> None:
    log(rpm, "P-100", "90m", "call", "2026-10-05T10:00")
    assert status(rpm, "P-100", "2026-10")["codes"] == [
        {"code": "99457", "units": 1}, {"code": "99458", "units": 3}]
    payer = Cli({**rpm.env, "CPT_99458_MAX_UNITS": "2"})
    assert status(payer, "P-100", "2026-10")["codes"] == [
        {"code": "99457", "units": 1}, {"code": "99458", "units": 2}]
