"""Issue 11: each billing rule through the CLI, on SQLite and PostgreSQL (in this process
through the console entry point, on the frozen clock: 2026-11-20 15:00 in New York, a second
later for each command).

Every scenario is in October 2026 or earlier (all past), clinic zone America/New_York; an entry
logged without --at ends at the frozen instant, whatever day the suite runs.
"""

import csv
import io
import json
import os
import subprocess
from typing import Any

import pytest

from tests.cli.test_cli import Cli
from tests.conftest import FrozenClock
from tests.snapshots import seeded_by_cli

NURSE = "U01NURSE"


ORDERED = ("--ordered-by", "U02DOC", "--order-date", "2025-12-01")  # billable at a close


class Typed(Cli):
    """The CLI on the frozen clock, each command a second after the one before, as a person
    types them: an amendment is after the close it amends (on one frozen instant the two
    would be simultaneous, and "changed after the close" could not be told)."""

    def __init__(self, env: dict[str, str], clock: FrozenClock) -> None:
        super().__init__(env, clock=clock)
        self.frozen = clock

    def __call__(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        self.frozen.advance(seconds=1)
        return super().__call__(*args, code=code)


@pytest.fixture
def rpm(db_url: str, clock: FrozenClock) -> Cli:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "TWILIO_", "CPT_", "MIN_LIVE"))}
    env.update(DATABASE_URL=db_url, CLINIC_TIMEZONE="America/New_York")
    cli = Typed(env, clock)
    seeded_by_cli(cli, ("staff", "add", NURSE, "--name", "Nina Nurse", "--role",
                        "clinical_staff"),
                  ("staff", "add", "U02DOC", "--name", "Dee Doctor", "--role", "physician"),
                  ("patient", "add", "P-100", "--initials", "AB", "--enrolled", "2026-01-01",
                   "--consent", "2026-01-01", *ORDERED))
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
    rpm("patient", "end", "P-100", "--on", "2026-10-10", "--yes")
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
    amended = rpm("patient", "end", "P-100", "--on", "2026-10-10", "--amend",
                  "discharged on the 10th", "--yes")
    assert ("1 entry (25 min) logged after 2026-10-10 will stop counting; closed month "
            "2026-10 changes (amended)." in amended.stderr), amended.stderr
    assert status(rpm, "P-100", "2026-10")["codes"] == []
    # a change that touches no closed month needs nothing
    rpm("patient", "add", "P-200", "--enrolled", "2026-01-01")
    rpm("patient", "update", "P-200", "--initials", "CD")


# 3 -----------------------------------------------------------------------------------------
def test_3_status_and_report_agree_after_an_earlier_end(rpm: Cli) -> None:
    log(rpm, "P-100", "25m", "call", "2026-10-05T10:00")
    rpm("patient", "end", "P-100", "--on", "2026-09-30", "--yes")
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
    payer = Cli({**rpm.env, "CPT_99458_MAX_UNITS": "2"}, clock=rpm.clock)  # read from its env
    assert status(payer, "P-100", "2026-10")["codes"] == [
        {"code": "99457", "units": 1}, {"code": "99458", "units": 2}]


# billing office findings ------------------------------------------------------------------
def export_rows(cli: Cli, month: str) -> dict[str, dict[str, str]]:
    return {r["entry_id"]: r for r in
            csv.DictReader(io.StringIO(cli("export", "--month", month).stdout))}


def test_finding_2_export_counts_what_the_month_counts(rpm: Cli) -> None:
    first = log(rpm, "P-100", "20m", "review", "2026-10-05T10:00")
    twice = log(rpm, "P-100", "20m", "review", "2026-10-05T10:00")
    short = log(rpm, "P-100", "29s", "call", "2026-10-06T10:00")
    rpm("patient", "add", "P-200", "--initials", "CD", "--enrolled", "2026-01-01",
        "--consent", "2026-01-01")
    late = log(rpm, "P-200", "25m", "review", "2026-10-20T10:00")
    rpm("patient", "end", "P-200", "--on", "2026-10-10", "--yes")
    rows = export_rows(rpm, "2026-10")
    cells = {k: (r["counts"], r["month_seconds"], r["counted_seconds"],
                 r["not_counted_seconds"], r["live"]) for k, r in rows.items()}
    assert cells == {str(first): ("yes", "1200", "1200", "0", "no"),
                     str(twice): ("no", "1200", "0", "1200", "no"),
                     str(short): ("yes", "29", "29", "0", "no"),
                     str(late): ("no", "1500", "0", "1500", "no")}
    assert "counted once" in rows[str(twice)]["not_counted_reason"]
    assert "outside the enrolment window" in rows[str(late)]["not_counted_reason"]
    assert rows[str(short)]["live_note"] == "under 30 s: not a live interaction"
    # the export adds up to status, patient by patient
    for patient, entries in (("P-100", (first, twice, short)), ("P-200", (late,))):
        month = status(rpm, patient, "2026-10")
        assert sum(int(rows[str(e)]["counted_seconds"]) for e in entries) == \
            month["total_seconds"]
        assert sum(int(rows[str(e)]["not_counted_seconds"]) for e in entries) == \
            month["not_counted_seconds"]


def test_finding_6_staff_shares_add_up_to_counted_time(rpm: Cli) -> None:
    log(rpm, "P-100", "20m", "review", "2026-10-05T10:00")
    log(rpm, "P-100", "20m", "review", "2026-10-05T10:00")
    rpm("patient", "add", "P-103", "--enrolled", "2026-01-01", "--consent", "2026-01-01")
    log(rpm, "P-103", "25m", "review", "2026-10-20T10:00")
    rpm("patient", "end", "P-103", "--on", "2026-10-10", "--yes")
    rows = {r["patient_id"]: r for r in csv.DictReader(io.StringIO(
        rpm("report", "--month", "2026-10", "--format", "csv").stdout))}
    assert rows["P-100"]["total_seconds"] == "1200"
    assert rows["P-100"]["staff"] == \
        "Nina Nurse (U01NURSE, clinical_staff) 20 min counted (40 min logged)"
    p103 = report(rpm, "2026-10")["P-103"]
    assert p103["total_seconds"] == 0
    assert [(s["seconds"], s["logged_seconds"]) for s in p103["staff"]] == [(0, 1500)]


def test_finding_7_a_short_call_is_never_shown_live(rpm: Cli) -> None:
    out = rpm("log", "P-100", "29s", "call", "--staff", NURSE, "--at", "2026-10-05T10:00")
    short = int(out.stdout.strip())
    assert "(live)" not in out.stderr
    assert "29 s of call (under 30 s: not a live interaction)" in out.stderr
    assert f"Warning: entry #{short} is not a live interaction" in out.stderr
    listing = rpm("entries", "P-100", "--month", "2026-10").stdout
    assert "(live)" not in listing and "under 30 s: not a live interaction" in listing
    logged = json.loads(rpm("log", "P-100", "10s", "call", "--staff", NURSE, "--at",
                            "2026-10-06T10:00", "--json").stdout)
    assert logged["live"] is False


def test_finding_8_a_duplicated_clock_timed_call_is_one_live_interaction(rpm: Cli) -> None:
    first = log(rpm, "P-100", "20m", "call", "2026-10-05T10:00")
    twice = log(rpm, "P-100", "20m", "call", "2026-10-05T10:00")
    month = status(rpm, "P-100", "2026-10")
    assert (month["live_interactions"], month["total_seconds"]) == (1, 1200)
    rows = export_rows(rpm, "2026-10")
    assert (rows[str(first)]["live"], rows[str(twice)]["live"]) == ("yes", "no")
    assert rows[str(twice)]["live_note"] == f"same live interaction as entry #{first}"


def test_finding_3_an_enrolment_amendment_is_the_cause_of_the_difference(rpm: Cli) -> None:
    rpm("patient", "add", "P-200", "--initials", "CD", "--enrolled", "2026-01-01",
        "--consent", "2026-01-01", *ORDERED)
    log(rpm, "P-200", "25m", "call", "2026-10-05T10:00")
    rpm("month", "close", "2026-10", "--yes")
    rpm("patient", "end", "P-200", "--on", "2026-09-30", "--amend", "enrolled in error",
        "--yes")
    summary = rpm("report", "--month", "2026-10", "--summary").stdout
    assert "cause: amendment: enrolment ended (enrolled in error)" in summary
    assert "without an amendment" not in summary
    totals = json.loads(rpm("report", "--month", "2026-10", "--summary", "--format",
                            "json").stdout)
    [difference] = totals["changed_since_close"]
    assert difference["cause"] == "amendment: enrolment ended (enrolled in error)"


def test_finding_4_the_closed_month_guard_follows_what_the_change_does(rpm: Cli) -> None:
    rpm("patient", "add", "P-2007", "--initials", "EF", "--consent", "2026-01-01")
    rpm("patient", "add", "P-2001", "--initials", "GH", "--consent", "2026-01-01")
    rpm("month", "close", "2026-10", "--yes")
    # nothing of October changes: allowed without an amendment
    rpm("patient", "update", "P-2001", "--enrolled", "2026-12-01")
    # October's programme gains a patient: needs one, and the refusal says how
    refused = rpm("patient", "update", "P-2007", "--enrolled", "2026-10-01", code=2)
    assert "2026-10 is closed" in refused.stderr
    assert "--amend REASON" in refused.stderr and "patient update" in refused.stderr
    assert "P-2007" not in report(rpm, "2026-10")
    rpm("patient", "update", "P-2007", "--enrolled", "2026-10-01", "--amend", "late enrolment")
    assert "P-2007" in report(rpm, "2026-10")


def test_finding_11_closed_month_refusals_name_the_way_out(rpm: Cli) -> None:
    entry = log(rpm, "P-100", "25m", "call", "2026-10-05T10:00")
    rpm("month", "close", "2026-10", "--yes")
    refused = rpm("log", "P-100", "5m", "review", "--staff", NURSE, "--at",
                  "2026-10-06T10:00", code=2)
    assert "--amend REASON" in refused.stderr
    assert "Slack cannot amend a closed month" in refused.stderr
    refused = rpm("void", str(entry), "--reason", "wrong patient", "--staff", NURSE, code=2)
    assert "void from the CLI with `--amend`" in refused.stderr


def test_finding_9_text_status_of_a_closed_month_says_so(rpm: Cli) -> None:
    entry = log(rpm, "P-100", "25m", "call", "2026-10-05T10:00")
    rpm("month", "close", "2026-10", "--yes")
    text = rpm("status", "P-100", "--month", "2026-10").stdout
    assert "2026-10 (closed on " in text and " by cli:" in text
    assert "Billed at close" not in text  # nothing differs yet
    rpm("void", str(entry), "--reason", "wrong patient", "--staff", NURSE, "--amend")
    text = rpm("status", "P-100", "--month", "2026-10").stdout
    assert "Billed at close  99457; supports none now" in text
    assert "amendment: #" in text and "refund owed for 99457" in text


def test_finding_12_small_things(rpm: Cli) -> None:
    rpm("patient", "add", "P-400", "--enrolled", "2026-01-01", "--consent", "2026-01-01")
    rpm("staff", "add", "U03CLERK", "--name", "Cleo Clerk", "--role", "non_clinical")
    rpm("log", "P-400", "5m", "review", "--staff", "U03CLERK", "--at", "2026-10-05T10:00")
    log(rpm, "P-400", "10m", "review", "2026-10-06T10:00")
    log(rpm, "P-400", "10m", "review", "2026-10-06T10:00")  # 10 min counted once
    rpm("month", "close", "2026-10", "--yes")
    # a second close is refused before it says what it would lock
    again = rpm("month", "close", "2026-10", "--yes", code=2)
    assert "already closed" in again.stderr and "locks" not in again.stderr
    # closed with nothing billed reads "none"; a month never closed stays blank
    rows = {r["patient_id"]: r for r in csv.DictReader(io.StringIO(
        rpm("report", "--month", "2026-10", "--format", "csv").stdout))}
    assert rows["P-400"]["billed_at_close"] == "none"
    rows = {r["patient_id"]: r for r in csv.DictReader(io.StringIO(
        rpm("report", "--month", "2026-09", "--format", "csv").stdout))}
    assert all(r["billed_at_close"] == "" for r in rows.values())
    # every second left out in one figure, non-clinical time included and named
    month = status(rpm, "P-400", "2026-10")
    assert month["uncounted_seconds"] == month["not_counted_seconds"] == 300 + 600
    assert month["non_clinical_seconds"] == 300
    assert sum(n["seconds"] for n in month["not_counted"]) == 900
    # no advice for a month that has ended, enrolled or not
    assert "Still needed  nothing: the month has ended" in \
        rpm("status", "P-400", "--month", "2026-10").stdout
    rpm("patient", "add", "P-401", "--enrolled", "2026-11-01")
    assert "more for 99470" not in rpm("status", "P-401", "--month", "2026-10").stdout


def test_2_a_backdated_end_says_what_stops_counting_and_asks_first(rpm: Cli) -> None:
    """Outside tester: a backdated end silently stopped counting time already logged."""
    log(rpm, "P-100", "15m", "call", "2026-10-20T10:00")
    log(rpm, "P-100", "10m", "review", "2026-10-21T10:00")
    log(rpm, "P-100", "5m", "review", "2026-10-09T10:00")  # before the end day: still counts
    refused = rpm("patient", "end", "P-100", "--on", "2026-10-10", code=2)
    assert ("Ending P-100 (AB) on 2026-10-10: 2 entries (25 min) logged after 2026-10-10 "
            "will stop counting." in refused.stderr), refused.stderr
    assert "nothing changed" in refused.stderr
    assert status(rpm, "P-100", "2026-10")["total_seconds"] == 30 * 60  # unchanged
    rpm("patient", "end", "P-100", "--on", "2026-10-10", "--yes")
    assert status(rpm, "P-100", "2026-10")["total_seconds"] == 5 * 60
    # nothing logged after the end day: nothing to confirm
    rpm("patient", "add", "P-300", "--enrolled", "2026-01-01")
    rpm("patient", "end", "P-300", "--on", "2026-10-10")
