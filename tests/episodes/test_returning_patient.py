"""Issue 26 #10: a patient who ended and enrolled again (enrolment episodes), end to end
through the CLI on SQLite and PostgreSQL, on a frozen clock in December 2026.

P-100 is enrolled from 2026-09-01, ends on 2026-11-10 and enrols again on 2026-11-20: the
November time of both episodes counts, the days between count for nothing, and every screen
(status, report, patient show) says so the same way.
"""

import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from store.db import Database
from store.tables import audit_events, enrolment_episodes
from tests.cli.runner import Cli
from tests.conftest import FrozenClock

NURSE = "U01NURSE"
ORDERED = ("--ordered-by", "U02DOC", "--order-date", "2026-08-15")


@pytest.fixture
def rpm(db_url: str) -> Cli:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "TWILIO_", "CPT_", "MIN_LIVE"))}
    env.update(DATABASE_URL=db_url, CLINIC_TIMEZONE="America/New_York")
    cli = Cli(env, clock=FrozenClock(datetime(2026, 12, 7, 15, 0, tzinfo=UTC)))
    cli("staff", "add", NURSE, "--name", "Nina Nurse", "--role", "clinical_staff")
    cli("staff", "add", "U02DOC", "--name", "Dee Doctor", "--role", "physician")
    cli("patient", "add", "P-100", "--initials", "AB", "--enrolled", "2026-09-01",
        "--consent", "2026-09-01", *ORDERED)
    return cli


def log(cli: Cli, duration: str, activity: str, at: str, *extra: str, code: int = 0) -> Any:
    return cli("log", "P-100", duration, activity, "--staff", NURSE, "--at", at, *extra,
               code=code)


def status(cli: Cli, month: str = "2026-11") -> dict[str, Any]:
    result: dict[str, Any] = json.loads(
        cli("status", "P-100", "--month", month, "--json").stdout)
    return result


def report_row(cli: Cli, month: str = "2026-11") -> dict[str, Any] | None:
    rows = json.loads(cli("report", "--month", month, "--format", "json").stdout)
    return next((r for r in rows if r["patient_id"] == "P-100"), None)


def shown(cli: Cli) -> str:
    return str(cli("patient", "show", "P-100").stdout)


def test_a_returning_patient_counts_both_episodes_and_not_the_gap(rpm: Cli) -> None:
    log(rpm, "15m", "call", "2026-11-05T10:00")
    log(rpm, "10m", "review", "2026-11-12T10:00")  # will fall between the episodes
    rpm("patient", "end", "P-100", "--on", "2026-11-10", "--yes")
    # moving the enrolment date is not how a patient comes back: refused, with the way
    refused = rpm("patient", "update", "P-100", "--enrolled", "2026-11-20", code=2)
    assert "End date 2026-11-10 is before enrolment 2026-11-20" in refused.stderr
    assert "patient enrol P-100 --on DATE" in refused.stderr
    # an episode overlapping the last one is refused and changes nothing
    before = shown(rpm)
    refused = rpm("patient", "enrol", "P-100", "--on", "2026-11-10", code=2)
    assert "ended on 2026-11-10" in refused.stderr and "2026-11-11 or later" in refused.stderr
    assert shown(rpm) == before
    rpm("patient", "enrol", "P-100", "--on", "2026-11-20")
    refused = rpm("patient", "enrol", "P-100", "--on", "2026-11-25", code=2)
    assert "has not ended" in refused.stderr
    # the current episode's edits keep working, and never overlap the one before
    refused = rpm("patient", "update", "P-100", "--enrolled", "2026-11-08", code=2)
    assert "previous episode" in refused.stderr and "2026-11-10" in refused.stderr
    refused = rpm("patient", "end", "P-100", "--on", "2026-11-15", "--yes", code=2)
    assert "before enrolment 2026-11-20" in refused.stderr
    text = shown(rpm)
    assert "2026-09-01 to 2026-11-10; 2026-11-20 to ongoing" in text, text

    # time in the gap is refused; time in either episode is taken
    refused = log(rpm, "5m", "review", "2026-11-15T10:00", code=2)
    assert "ended monitoring on 2026-11-10" in refused.stderr
    log(rpm, "5m", "review", "2026-11-09T10:00")  # back-dated into the first episode
    log(rpm, "10m", "review", "2026-11-25T10:00")

    month = status(rpm)
    assert month["total_seconds"] == (15 + 5 + 10) * 60
    assert month["codes"] == [{"code": "99457", "units": 1}]
    assert month["live_interactions"] == 1
    assert month["not_counted_seconds"] == 600  # the gap's entry
    assert any("outside the enrolment window" in w for w in month["warnings"])
    row = report_row(rpm)
    assert row is not None
    for key in ("total_seconds", "codes", "live_interactions", "not_counted_seconds",
                "expected_amount"):
        assert row[key] == month[key], key
    # October is inside the first episode, December inside the second
    assert report_row(rpm, "2026-10") is not None
    assert report_row(rpm, "2026-12") is not None


def test_a_month_wholly_between_episodes_is_not_in_the_programme(rpm: Cli) -> None:
    rpm("patient", "end", "P-100", "--on", "2026-09-30", "--yes")
    rpm("patient", "enrol", "P-100", "--on", "2026-11-01")
    assert report_row(rpm, "2026-09") is not None
    assert report_row(rpm, "2026-10") is None
    assert "not enrolled in 2026-10" in status(rpm, "2026-10")["warnings"]
    assert report_row(rpm, "2026-11") is not None
    refused = log(rpm, "5m", "review", "2026-10-15T10:00", code=2)
    assert "ended monitoring on 2026-09-30" in refused.stderr


def test_enrolling_again_into_a_closed_month_needs_an_amendment(rpm: Cli) -> None:
    log(rpm, "25m", "call", "2026-10-05T10:00")
    log(rpm, "10m", "review", "2026-10-25T10:00")
    rpm("patient", "end", "P-100", "--on", "2026-10-10", "--yes")
    rpm("month", "close", "2026-10", "--yes")
    before = shown(rpm)
    refused = rpm("patient", "enrol", "P-100", "--on", "2026-10-20", code=2)
    assert "2026-10 is closed" in refused.stderr and "patient enrol" in refused.stderr
    assert shown(rpm) == before
    assert status(rpm, "2026-10")["total_seconds"] == 25 * 60
    rpm("patient", "enrol", "P-100", "--on", "2026-10-20", "--amend", "came back on the 20th")
    assert status(rpm, "2026-10")["total_seconds"] == 35 * 60
    # a new episode after the closed month needs nothing
    rpm("patient", "end", "P-100", "--on", "2026-11-02", "--yes")
    rpm("patient", "enrol", "P-100", "--on", "2026-11-05")


def test_every_episode_write_is_audited(rpm: Cli, db_url: str) -> None:
    rpm("patient", "end", "P-100", "--on", "2026-11-10", "--yes")
    rpm("patient", "enrol", "P-100", "--on", "2026-11-20", "--by", "Bea Billing")
    rpm("patient", "update", "P-100", "--enrolled", "2026-11-21")
    rpm("audit", "verify")  # exit 0: the chain is intact
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            trail = conn.execute(select(audit_events.c.action, audit_events.c.actor,
                                        audit_events.c.after)
                                 .where(audit_events.c.entity == "patient")
                                 .order_by(audit_events.c.id)).all()
            episodes = conn.execute(select(enrolment_episodes.c.started_on,
                                           enrolment_episodes.c.ended_on,
                                           enrolment_episodes.c.created_by)
                                    .order_by(enrolment_episodes.c.id)).all()
    finally:
        db.engine.dispose()
    assert [a for a, _, _ in trail] == ["patient.add", "patient.update", "patient.enrol",
                                        "patient.update"]
    assert trail[2][1] == "Bea Billing"
    assert trail[2][2]["episodes"] == [["2026-09-01", "2026-11-10"], ["2026-11-20", None]]
    assert trail[3][2]["episodes"] == [["2026-09-01", "2026-11-10"], ["2026-11-21", None]]
    assert [(str(s), str(e) if e else None, by) for s, e, by in episodes] == [
        ("2026-09-01", "2026-11-10", episodes[0][2]), ("2026-11-21", None, "Bea Billing")]
