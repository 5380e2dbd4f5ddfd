"""The CLI on SQLite and PostgreSQL, in this process through the console entry point
(tests/cli/runner.py) on the frozen clock (2026-11-20 15:00 in New York), so no test depends
on the day it runs; a terminal's confirmation on a real pseudo-terminal. The real `rpm-logger`
script runs once per database in tests/voice/test_voice_access_cli.py
(test_the_script_runs_it_too), and where a process is what is proven (start-up imports,
serve, a SIGKILLed remind)."""

import csv
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from tests.cli.runner import SCRIPT, Cli
from tests.conftest import FrozenClock
from tests.snapshots import seeded_by_cli

__all__ = ["SCRIPT", "Cli"]  # tests elsewhere import them from here


@pytest.fixture
def cli(db_url: str, clock: FrozenClock) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    env.update(DATABASE_URL=db_url, CLINIC_TIMEZONE="America/New_York")
    return Cli(env, clock=clock)


@pytest.fixture
def seeded(cli: Cli) -> Cli:
    seeded_by_cli(
        cli,
        ("staff", "add", "U01NURSE", "--name", "Nina Nurse", "--role", "clinical_staff",
         "--phone", "+1 617 555 0101"),
        ("staff", "add", "U02DOC", "--name", "Dee Doctor", "--role", "physician",
         "--npi", "1234567890", "--admin"),
        ("patient", "add", "P-1042", "--initials", "JD", "--phone", "(617) 555-0123",
         "--caregiver-phone", "617.555.0124", "--assign", "U01NURSE", "--consent",
         "2026-10-01", "--condition", "I10", "--provider", "U02DOC", "--enrolled",
         "2026-01-01", "--ordered-by", "U02DOC", "--order-date", "2026-09-01"))  # billable
    return cli


def _this_month(clock: FrozenClock) -> str:
    return clock().astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m")


def test_log_status_report_round_trip(seeded: Cli, clock: FrozenClock) -> None:
    first = seeded("log", "p-1042", "12m", "review", "trend", "reviewed", "--staff", "U01NURSE")
    entry_id = int(first.stdout.strip())
    assert "Saved entry" in first.stderr
    second = seeded("log", "P-1042", "8m", "call", "--staff", "U01NURSE", "--json")
    logged = json.loads(second.stdout)
    assert logged["id"] == entry_id + 1 and logged["live"] is True
    status = json.loads(seeded("status", "P-1042", "--json").stdout)
    assert status["patient_id"] == "P-1042" and status["month"] == _this_month(clock)
    assert status["total_seconds"] == 1200 and status["live_interactions"] == 1
    assert status["codes"] == [{"code": "99457", "units": 1}]
    assert status["seconds_to_next_code"] == 1200
    assert status["needs_live_interaction"] is False
    assert isinstance(status["warnings"], list)
    report = json.loads(seeded("report", "--format", "json").stdout)
    assert report == [status]
    rows = list(csv.DictReader(io.StringIO(seeded("report", "--format", "csv").stdout)))
    assert rows[0]["codes"] == "99457" and rows[0]["total_seconds"] == "1200"
    table = seeded("report").stdout
    assert "P-1042 (JD)" in table and "20 min" in table and "1 patient enrolled" in table
    human = seeded("status", "P-1042").stdout
    assert "20 min (1200 seconds)" in human and "99457" in human


def test_19_minutes_59_never_reads_20(seeded: Cli) -> None:
    seeded("log", "P-1042", "19m 59s", "call", "--staff", "U01NURSE")
    human = seeded("status", "P-1042").stdout
    assert "19 min 59 s" in human and "99470" in human
    table = seeded("report").stdout
    assert "19 min" in table and "20 min" not in table


def test_at_without_zone_is_clinic_time_and_future_is_refused(seeded: Cli,
                                                               clock: FrozenClock) -> None:
    out = seeded("log", "P-1042", "10m", "review", "--staff", "U01NURSE",
                 "--at", "2026-10-31T23:30", "--json")
    assert json.loads(out.stdout)["started_at"] == "2026-11-01T03:30:00+00:00"
    assert json.loads(seeded("status", "P-1042", "--month", "2026-10", "--json").stdout)[
        "total_seconds"] == 600
    future = (clock() + timedelta(hours=2)).isoformat()
    refused = seeded("log", "P-1042", "10m", "review", "--staff", "U01NURSE", "--at", future,
                     code=2)
    assert "future" in refused.stderr


def test_void_through_the_cli(seeded: Cli) -> None:
    entry_id = seeded("log", "P-1042", "20m", "call", "--staff", "U01NURSE").stdout.strip()
    refused = seeded("void", entry_id, "--reason", "dup", "--staff", "U01NURSE", code=0)
    assert f"voided entry #{entry_id}" in refused.stdout
    again = seeded("void", entry_id, "--reason", "dup", "--staff", "U01NURSE", code=2)
    assert "already voided" in again.stderr
    assert json.loads(seeded("status", "P-1042", "--json").stdout)["total_seconds"] == 0
    entries = seeded("entries", "P-1042").stdout
    assert "VOIDED by Nina Nurse (U01NURSE): dup" in entries


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("log", "P-1042", "0", "review", "--staff", "U01NURSE"), "at least one second"),
        (("log", "P-1042", "300m", "review", "--staff", "U01NURSE"), "240-minute limit"),
        (("log", "P-1042", "10m", "dance", "--staff", "U01NURSE"), "Valid activities"),
        (("log", "P-1024", "10m", "review", "--staff", "U01NURSE"), "Did you mean P-1042"),
        (("log", "P-1042", "10m", "review", "--staff", "U09NOBODY"), "No staff member"),
        (("log", "P-1042", "10m", "review", "--staff", "U01NURSE", "--at", "yesterday"),
         "ISO 8601"),
        (("log", "P-1042", "10m", "review"), "Missing option '--staff'"),
        (("status", "P-1042", "--month", "2026-13"), "YYYY-MM"),
        # 0001-01 crashed every month screen with OverflowError (no day before it)
        (("status", "P-1042", "--month", "0001-01"), "Not a month: 0001-01"),
        (("report", "--month", "0001-01"), "Not a month: 0001-01"),
        (("report", "--summary", "--month", "0001-01"), "Not a month: 0001-01"),
        (("export", "--month", "0001-01"), "Not a month: 0001-01"),
        (("month", "close", "0001-01", "--by", "billing", "--yes"), "Not a month: 0001-01"),
        (("month", "close", "9999-12", "--by", "billing", "--yes"), "Not a month: 9999-12"),
        (("patient", "add", "P-2000", "--phone", "12"), "not a valid phone number: 2 digits"),
        (("patient", "add", "P-2000", "--consent", "01/10/2026"), "YYYY-MM-DD"),
        (("patient", "add", "P-1042"), "already exists"),
        (("staff", "add", "U05X", "--name", "X", "--role", "boss"), "Unknown role"),
        (("report", "--format", "pdf"), "pdf"),
        # tester finding 9: these printed the table, or click's "No such option: -5"
        (("report", "--summary", "--format", "csv"), "--summary prints the totals as a table"),
        (("log", "P-1042", "-5m", "review", "--staff", "U01NURSE"),
         "Cannot log a negative duration ('-5m')"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message_and_changes_nothing(
    seeded: Cli, args: tuple[str, ...], message: str
) -> None:
    before = seeded("report", "--format", "json").stdout
    result = seeded(*args, code=2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert seeded("report", "--format", "json").stdout == before


def test_patient_and_staff_management(seeded: Cli) -> None:
    seeded("patient", "update", "P-1042", "--phone", "617-555-0199", "--remove-phone",
           "+16175550123", "--condition", "e11.9")
    shown = seeded("patient", "show", "p-1042").stdout
    assert "E11.9, I10" in shown and "1 patient, 1 caregiver" in shown
    assert "555" not in shown  # phones are counted, never printed
    # staff by name beside the id (outside auditor: "Billing provider U01DOC")
    for label, who in (("Assigned to", "Nina Nurse (U01NURSE)"),
                       ("Billing provider", "Dee Doctor (U02DOC)"),
                       ("Ordered by", "Dee Doctor (U02DOC)")):
        assert any(line.startswith(label) and line.endswith(who)
                   for line in shown.splitlines()), (label, shown)
    seeded("patient", "end", "P-1042", "--on", "2026-11-02")
    assert "2026-11-02" in seeded("patient", "show", "P-1042").stdout
    # --inactive with a patient still assigned: refused, pointing to `staff offboard`
    refused = seeded("staff", "update", "U01NURSE", "--role", "qhp", "--inactive", code=2)
    assert "staff offboard U01NURSE --reassign-to" in refused.stderr
    assert "P-1042" in seeded("patient", "list", "--assigned-to", "U01NURSE").stdout
    seeded("patient", "update", "P-1042", "--assign", "U02DOC")
    seeded("staff", "update", "U01NURSE", "--role", "qhp", "--no-admin", "--inactive")
    assert "U01NURSE" not in seeded("staff", "list").stdout
    assert "inactive since" in seeded("staff", "list", "--all").stdout


def _without_database(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k != "DATABASE_URL" and not k.startswith(("SLACK_", "TWILIO_"))}
    return {**env, "RPM_DATA_DIR": str(tmp_path / "data")}


def test_db_upgrade_and_a_fresh_default_sqlite_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # as the script's cwd was: nothing lands in the checkout
    Cli(_without_database(tmp_path))("db", "upgrade")
    assert (tmp_path / "data" / "rpm-logger.db").exists()


READING_COMMANDS = [("backup", "--out", "backup.rpm-backup"), ("staff", "list"),
                    ("patient", "list"), ("report",), ("export",), ("audit", "verify"),
                    ("audit", "checks"), ("status", "P-1042"), ("entries", "P-1042"),
                    ("month", "show", "2026-10"), ("calls", "list")]


@pytest.mark.parametrize("command", READING_COMMANDS, ids=" ".join)
def test_without_database_url_a_reading_command_creates_no_database(
        command: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside IT's finding (issue 23): a bare `backup --out` without the env file backed up
    a new, empty default database and exited 0; `staff list` left ./data/rpm-logger.db."""
    monkeypatch.chdir(tmp_path)
    result = Cli(_without_database(tmp_path))(*command, code=2)
    database = (tmp_path / "data" / "rpm-logger.db").resolve()
    assert result.stderr == (f"error: no database at {database}: set DATABASE_URL (or run "
                             "from the service's folder); nothing was created\n")
    assert list(tmp_path.iterdir()) == []  # no folder, no file, no archive


def test_without_database_url_serve_upgrade_and_adding_create_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's first run stays: `db upgrade` (as `serve` and `restore`) and a command
    that adds data make the default file; reading commands work once it is there."""
    monkeypatch.chdir(tmp_path)
    cli = Cli(_without_database(tmp_path))
    cli("staff", "add", "U01NURSE", "--name", "Nina Nurse", "--role", "clinical_staff")
    assert (tmp_path / "data" / "rpm-logger.db").exists()
    assert "U01NURSE" in cli("staff", "list").stdout


def test_db_upgrade_warns_when_connected_as_a_superuser(cli: Cli, db_url: str) -> None:
    """Outside IT (issue 23): `db upgrade` as `postgres` put the tables in `public`, silently.
    The tests' server role is a superuser; SQLite has no roles."""
    result = cli("db", "upgrade")
    if db_url.startswith("sqlite"):
        assert result.stderr == ""
        return
    [warning] = result.stderr.splitlines()
    assert warning.startswith("warning: connected as the PostgreSQL superuser postgres: the "
                              "tables are in schema public")
    assert "deploy/postgres-setup.sql" in warning


def test_database_down_exits_1(tmp_path: Path) -> None:
    env = {**_without_database(tmp_path),
           "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    result = Cli(env)("report", code=1)
    assert "database unavailable" in result.stderr and "Traceback" not in result.stderr


def test_bad_configuration_exits_2(tmp_path: Path) -> None:
    env = {**_without_database(tmp_path), "CLINIC_TIMEZONE": "Mars/Olympus"}
    result = Cli(env)("report", code=2)
    assert "CLINIC_TIMEZONE" in result.stderr


def test_export_masks_a_phone_number_typed_into_a_note_or_void_reason(seeded: Cli) -> None:
    """As the dashboard and the audit packet do (outside auditor review: export printed it)."""
    seeded("log", "P-1042", "12m", "review", "called back +1 617 555 0122, titrate",
           "--staff", "U01NURSE", "--at", "2026-10-20T10:00")
    logged = seeded("log", "P-1042", "3m", "review", "dup", "--staff", "U01NURSE", "--at",
                    "2026-10-21T10:00", "--json")
    seeded("void", str(json.loads(logged.stdout)["id"]), "--reason",
           "wrong chart, was (617) 555-0199", "--staff", "U01NURSE")
    export = seeded("export", "--month", "2026-10").stdout
    assert "555 0122" not in export and "555-0199" not in export
    rows = list(csv.DictReader(io.StringIO(export)))
    assert any("0122, titrate" in r["note"] and "***" in r["note"] for r in rows)
    assert any("0199" in r["void_reason"] and "***" in r["void_reason"] for r in rows)


def test_a_staff_member_closing_from_the_cli_signs_as_from_slack(seeded: Cli) -> None:
    """--by names a staff member (by whole name or Slack id): recorded as Slack records
    them, "Name (id)" on every screen (outside auditor: "by Bea Billing" against "UBIL0001")."""
    closed = seeded("month", "close", "2026-10", "--by", "dee doctor", "--yes")
    assert "closed 2026-10 by Dee Doctor (U02DOC)" in closed.stdout
    summary = seeded("report", "--month", "2026-10", "--summary").stdout
    assert "2026-10 (closed by Dee Doctor (U02DOC))" in summary
    reopened = seeded("month", "reopen", "2026-10", "--reason", "wrong month", "--not-billed",
                      "--by", "U02DOC", "--yes")
    assert "reopened 2026-10 by Dee Doctor (U02DOC)" in reopened.stdout


def test_month_close_export_and_summary(seeded: Cli) -> None:
    seeded("log", "P-1042", "25m", "call", "--staff", "U01NURSE", "--at", "2026-10-20T10:00")
    closed = seeded("month", "close", "2026-10", "--by", "billing office", "--yes")
    assert "closed 2026-10 by billing office" in closed.stdout
    assert "closed on" in seeded("month", "show", "2026-10").stdout
    refused = seeded("log", "P-1042", "5m", "review", "--staff", "U01NURSE", "--at",
                     "2026-10-21T10:00", code=2)
    assert "2026-10 is closed" in refused.stderr
    amended = seeded("log", "P-1042", "5m", "review", "--staff", "U01NURSE", "--at",
                     "2026-10-21T10:00", "--amend", "paper log found", "--json")
    entry_id = json.loads(amended.stdout)["id"]
    seeded("void", str(entry_id), "--reason", "typo", "--staff", "U01NURSE", code=2)
    seeded("void", str(entry_id), "--reason", "typo", "--staff", "U01NURSE", "--amend")
    summary = seeded("report", "--month", "2026-10", "--summary").stdout
    assert "2026-10 (closed by billing office)" in summary and "$52.00" in summary
    totals = json.loads(seeded("report", "--month", "2026-10", "--summary", "--format",
                               "json").stdout)
    assert totals["units"] == {"99457": 1} and totals["expected_amount"] == 52.0
    rows = list(csv.DictReader(io.StringIO(seeded("report", "--month", "2026-10", "--format",
                                                  "csv").stdout)))
    assert rows[0]["month_closed_by"] == "billing office"
    assert rows[0]["staff"] == "Nina Nurse (U01NURSE, clinical_staff) 25 min"
    assert rows[0]["billing_provider"] == "Dee Doctor" and rows[0]["provider_npi"] == "1234567890"
    export = list(csv.DictReader(io.StringIO(seeded("export", "--month", "2026-10").stdout)))
    assert [r["duration_seconds"] for r in export] == ["1500", "300"]
    assert export[0]["started_clinic"] == "2026-10-20T10:00:00-04:00"
    assert export[0]["started_utc"] == "2026-10-20T14:00:00+00:00"
    assert export[1]["amendment_reason"] == "paper log found; void: typo"
    assert export[1]["void_reason"] == "typo" and export[1]["counts"] == "no"


def test_entries_and_month_show_read_in_clinic_time(seeded: Cli, clock: FrozenClock) -> None:
    """Issue 12 #12: 21:30 in New York on 20 November is that day, not 02:30Z on the 21st."""
    clock.now = datetime(2026, 11, 21, 12, tzinfo=UTC)  # the next morning: 21:30 is past
    seeded("log", "P-1042", "5m", "review", "--staff", "U01NURSE", "--at", "2026-11-20T21:30")
    listed = seeded("entries", "P-1042", "--month", "2026-11").stdout
    assert "2026-11-20 21:30 EST" in listed and "2026-11-21" not in listed


def test_an_over_long_staff_name_is_refused_alike_on_both_databases(cli: Cli) -> None:
    """Issue 12 #9: PostgreSQL printed a traceback where SQLite stored the name."""
    refused = cli("staff", "add", "U07LONG", "--name", "N" * 300, "--role", "clinical_staff",
                  code=2)
    assert "The name is over 200 characters (300)" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert "U07LONG" not in cli("staff", "list", "--all").stdout


def test_month_close_says_what_it_locks_and_needs_a_yes(seeded: Cli) -> None:
    seeded("log", "P-1042", "25m", "call", "--staff", "U01NURSE", "--at", "2026-10-20T10:00")
    loose = seeded("month", "close", "2026-1", "--yes", code=2)
    assert "'2026-01', not '2026-1'" in loose.stderr
    unattended = seeded("month", "close", "2026-10", code=2)
    assert "locks 1 patient (1 with billable codes), 99457 x1, $52.00" in unattended.stderr
    assert "pass --yes" in unattended.stderr
    said_no = seeded.on_terminal("n", "month", "close", "2026-10")
    assert said_no.returncode == 2 and "not confirmed" in said_no.stderr
    assert "2026-10: open" in seeded("month", "show", "2026-10").stdout
    said_yes = seeded.on_terminal("y", "month", "close", "2026-10", "--by", "billing")
    assert said_yes.returncode == 0, said_yes.stderr
    assert "closed 2026-10 by billing: 1 patient" in said_yes.stdout
    empty = seeded("month", "close", "2026-09", code=2)
    assert "Nothing in 2026-09 to bill" in empty.stderr


def test_month_reopen_undoes_a_mistaken_close_and_both_stay_on_record(seeded: Cli) -> None:
    seeded("log", "P-1042", "25m", "call", "--staff", "U01NURSE", "--at", "2026-10-20T10:00")
    seeded("month", "close", "2026-10", "--yes", "--by", "billing")
    seeded("month", "reopen", "2026-10", "--reason", "claims not sent yet", "--not-billed",
           code=2)  # no terminal, no --yes: nothing changed
    unsaid = seeded("month", "reopen", "2026-10", "--reason", "claims not sent yet", "--yes",
                    code=2)  # issue 26 #5: billed or not must be said
    assert "Say whether 2026-10's claims were sent: --billed or --not-billed." in unsaid.stderr
    assert "A billed month is normally amended, not reopened" in unsaid.stderr
    assert "2026-10: closed" in seeded("month", "show", "2026-10").stdout
    reopened = seeded("month", "reopen", "2026-10", "--reason", "claims not sent yet",
                      "--not-billed", "--by", "ops", "--yes")
    assert "reopened 2026-10 by ops: claims not sent yet (not billed yet" in reopened.stdout
    seeded("log", "P-1042", "5m", "review", "--staff", "U01NURSE", "--at", "2026-10-21T10:00")
    shown = seeded("month", "show", "2026-10").stdout
    assert "2026-10: open" in shown and "closed by billing" in shown
    assert "reopened by ops: claims not sent yet (not billed yet" in shown
    seeded("month", "reopen", "2026-10", "--reason", "again", "--billed", "--yes", code=2)


def test_month_reopen_of_a_billed_month_says_amend_instead_and_keeps_the_billed_base(
        seeded: Cli) -> None:
    seeded("log", "P-1042", "8m", "call", "--staff", "U01NURSE", "--at", "2026-10-20T10:00")
    seeded("month", "close", "2026-10", "--yes", "--by", "billing")
    reopened = seeded("month", "reopen", "2026-10", "--reason", "a review was missed",
                      "--billed", "--yes")
    assert "A billed month is normally amended, not reopened" in reopened.stderr
    assert "its claims had been sent" in reopened.stdout
    seeded("log", "P-1042", "4m", "review", "--staff", "U01NURSE", "--at", "2026-10-21T10:00")
    seeded("month", "close", "2026-10", "--yes", "--by", "billing")
    report = seeded("report", "--month", "2026-10").stdout
    assert "corrected claim adding 99470" in report


def test_unquoted_durations_and_clinic_times(seeded: Cli, clock: FrozenClock) -> None:
    """Issue 13 items 10 and 12: `12 mins` typed unquoted is one duration (as in Slack), and
    `entries` shows clinic time with the zone, not `13:53Z`."""
    entry_id = int(seeded("log", "P-1042", "12", "mins", "review", "trend", "--staff",
                          "U01NURSE").stdout.strip())
    seeded("log", "P-1042", "1h", "5m", "call", "--staff", "U01NURSE")
    assert "Which activity?" in seeded("log", "P-1042", "12", "mins", "--staff", "U01NURSE",
                                       code=2).stderr
    listed = seeded("entries", "P-1042").stdout.splitlines()  # oldest start first
    assert listed[0].startswith(f"#{entry_id + 1}  ") and "65 min  call (live)" in listed[0]
    assert listed[1].startswith(f"#{entry_id}  ") and "12 min  review" in listed[1]
    zone = clock().astimezone(ZoneInfo("America/New_York")).tzname()
    assert all(f" {zone}  " in line and "Z " not in line for line in listed)


def test_an_amendment_names_the_close_by_its_clinic_day(seeded: Cli, db_url: str) -> None:
    """Outside auditor: `log --amend` said 'closed on 2026-11-28' (the UTC day) where status,
    month show and the packet said 2026-11-27 (21:48 in New York)."""
    seeded("log", "P-1042", "25m", "call", "--staff", "U01NURSE", "--at", "2026-10-20T10:00")
    seeded("month", "close", "2026-10", "--by", "billing office", "--yes")
    engine = create_engine(db_url)
    with engine.begin() as conn:  # the close at 21:48 in New York, the next day in UTC
        conn.execute(text("UPDATE month_close_events SET at = :at"),
                     {"at": datetime(2026, 11, 28, 2, 48)})
    engine.dispose()
    amended = seeded("log", "P-1042", "5m", "review", "--staff", "U01NURSE", "--at",
                     "2026-10-21T10:00", "--amend", "paper log found")
    assert "closed on 2026-11-27 by billing office" in amended.stderr
    assert "2026-11-28" not in amended.stderr
