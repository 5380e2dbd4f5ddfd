"""Issue 26 #10 and "packets printed before": the packet shows every enrolment episode
(format v3), a packet printed before episodes (format v2) keeps verifying while its records
are unchanged, and migration 0013 gives every existing patient one episode.

`printed_before/` holds an HTML and a PDF packet printed by rpm-logger at commit 5befb27
(format v2, before episodes) and the SQLite records they were printed from (`.dump` at
schema 0012): today's code upgrades those records and must find the files intact and current.
"""

import json
import re
import shutil
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, select

from presentation.packet import html
from service.audit_packets import FORMAT, FORMATS, Packet, as_format
from store.db import Database
from store.migrate import alembic_config, upgrade_to_head
from store.tables import enrolment_episodes, patients
from tests.cli.runner import Cli
from tests.conftest import FrozenClock

BEFORE = Path(__file__).with_name("printed_before")
DECEMBER = FrozenClock(datetime(2026, 12, 7, 15, 0, tzinfo=UTC))


def _env(url: str) -> dict[str, str]:
    import os
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    env.update(DATABASE_URL=url, CLINIC_TIMEZONE="America/New_York")
    return env


def _embedded(text: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="packet-data">(.*?)</script>',
                      text, re.S)
    assert found is not None
    return json.loads(found.group(1))  # type: ignore[no-any-return]


@pytest.fixture
def records_0012(tmp_path: Path) -> Cli:
    """The records the v2 packets were printed from, in a SQLite file at schema 0012."""
    path = tmp_path / "before.db"
    with sqlite3.connect(path) as conn:
        conn.executescript((BEFORE / "records-0012.sql").read_text())
    return Cli(_env(f"sqlite:///{path}"), clock=DECEMBER)


@pytest.mark.parametrize("name", ["v2.html", "v2.pdf"])
def test_a_packet_printed_before_episodes_keeps_verifying(records_0012: Cli, tmp_path: Path,
                                                          name: str) -> None:
    printed = tmp_path / name
    shutil.copyfile(BEFORE / name, printed)
    said = records_0012("audit", "packet", "--verify", str(printed)).stdout  # upgrades too
    assert "intact, and the records of P-1042 2026-10 are as printed" in said
    records_0012("audit", "verify")  # the trail printed then is the trail now
    shown = records_0012("patient", "show", "P-1042").stdout
    assert "2026-09-01 to ongoing" in shown
    # the records changing is still named, as in any format
    records_0012("patient", "end", "P-1042", "--on", "2026-10-03", "--yes")
    said = records_0012("audit", "packet", "--verify", str(printed), code=4).stderr
    assert 'patient.ended_on: printed null, now "2026-10-03"' in said


@pytest.fixture
def rpm(db_url: str) -> Cli:
    cli = Cli(_env(db_url), clock=DECEMBER)
    cli("staff", "add", "U01NURSE", "--name", "Nina Nurse", "--role", "clinical_staff")
    cli("staff", "add", "U02DOC", "--name", "Dee Doctor", "--role", "physician",
        "--npi", "1234567890")
    cli("patient", "add", "P-100", "--initials", "AB", "--consent", "2026-09-01",
        "--provider", "U02DOC", "--enrolled", "2026-09-01", "--ordered-by", "U02DOC",
        "--order-date", "2026-09-01")
    cli("log", "P-100", "15m", "call", "Talked BP", "--staff", "U01NURSE",
        "--at", "2026-11-05T10:00")
    cli("patient", "end", "P-100", "--on", "2026-11-10", "--yes")
    cli("patient", "enrol", "P-100", "--on", "2026-11-20")
    cli("log", "P-100", "10m", "review", "Chart review", "--staff", "U01NURSE",
        "--at", "2026-11-25T10:00")
    return cli


def test_the_packet_shows_every_episode(rpm: Cli, tmp_path: Path) -> None:
    out = tmp_path / "p.html"
    rpm("audit", "packet", "P-100", "--month", "2026-11", "--out", str(out))
    text = out.read_text()
    content = _embedded(text)
    assert content["format"] == FORMAT  # v3 on: every episode
    assert content["patient"]["episodes"] == [
        {"started_on": "2026-09-01", "ended_on": "2026-11-10"},
        {"started_on": "2026-11-20", "ended_on": None}]
    assert "Enrolment episodes" in text
    assert "2026-09-01 to 2026-11-10; 2026-11-20 to ongoing" in text
    assert content["month"]["counted_seconds"] == 25 * 60
    assert content["month"]["in_programme"] is True
    rpm("audit", "packet", "--verify", str(out))
    pdf = tmp_path / "p.pdf"
    rpm("audit", "packet", "P-100", "--month", "2026-11", "--format", "pdf", "--out", str(pdf))
    rpm("audit", "packet", "--verify", str(pdf))


def test_an_older_format_is_rebuilt_as_it_was_printed(rpm: Cli, tmp_path: Path) -> None:
    """On both databases: a v2 packet of these records (the v3 content without what v3
    added, printed as v2 printed it) verifies, and a change of its records is named."""
    out = tmp_path / "p.html"
    rpm("audit", "packet", "P-100", "--month", "2026-11", "--out", str(out))
    old = as_format(_embedded(out.read_text()), FORMATS[0])
    assert old["format"] == "rpm-logger audit packet v2" and "episodes" not in old["patient"]
    assert set(old["patient"]) == set(_embedded((BEFORE / "v2.html").read_text())["patient"])
    printed = tmp_path / "old.html"
    printed.write_text(html(Packet(old)))
    assert "Enrolment episodes" not in printed.read_text()
    rpm("audit", "packet", "--verify", str(printed))
    rpm("patient", "end", "P-100", "--on", "2026-11-30", "--yes")
    said = rpm("audit", "packet", "--verify", str(printed), code=4).stderr
    assert 'patient.ended_on: printed null, now "2026-11-30"' in said


def test_a_format_no_version_printed_is_refused(rpm: Cli, tmp_path: Path) -> None:
    out = tmp_path / "p.html"
    rpm("audit", "packet", "P-100", "--month", "2026-11", "--out", str(out))
    content = _embedded(out.read_text()) | {"format": "rpm-logger audit packet v1"}
    out.write_text(html(Packet(content)))
    said = rpm("audit", "packet", "--verify", str(out), code=2).stderr
    assert "audit packet v1" in said and "audit packet v3" in said


def test_migration_0013_gives_every_patient_one_episode(db: Database) -> None:
    config = alembic_config(db.url)
    made = datetime(2026, 1, 2, tzinfo=UTC)
    windows = [(None, None), (date(2026, 3, 1), None), (date(2026, 3, 1), date(2026, 9, 30)),
               (None, date(2026, 5, 31))]
    try:
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0012")
        with db.engine.begin() as conn:
            for n, (enrolled, ended) in enumerate(windows):
                conn.execute(insert(patients).values(
                    clinic_id=f"P-{n}", clinic_key=f"P-{n}", conditions=[],
                    enrolled_on=enrolled, ended_on=ended, created_at=made))
    finally:
        upgrade_to_head(db.engine)
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(patients.c.clinic_id, enrolment_episodes.c.started_on,
                   enrolment_episodes.c.ended_on, enrolment_episodes.c.created_at,
                   enrolment_episodes.c.created_by)
            .join(enrolment_episodes, enrolment_episodes.c.patient_id == patients.c.id)
            .order_by(patients.c.clinic_id)).all()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (f"P-{n}", enrolled, ended) for n, (enrolled, ended) in enumerate(windows)]
    assert {(r[3], r[4]) for r in rows} == {(made, "migration 0013")}
