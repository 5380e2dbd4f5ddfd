"""`rpm-logger audit verify`: exit 0 when the trail is intact, 5 naming the first finding,
2 for a head that is no hash; `--json` and `--head`."""

import json
import os

import pytest
from sqlalchemy import create_engine, text

from tests.cli.runner import Cli


@pytest.fixture
def cli(db_url: str) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    env.update(DATABASE_URL=db_url, CLINIC_TIMEZONE="America/New_York")
    run = Cli(env)
    run("staff", "add", "U0NURSE1", "--name", "Nina Nurse", "--role", "clinical_staff")
    run("patient", "add", "P-1", "--initials", "AB")
    run("log", "P-1", "12m", "review", "read the week's readings", "--staff", "U0NURSE1")
    return run


def _sql(db_url: str, statement: str) -> None:
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


def test_an_intact_trail_exits_0_and_names_its_head(cli: Cli) -> None:
    out = cli("audit", "verify").stdout
    assert "3 audit records and 1 time entry checked; head #3 " in out
    assert "the audit trail is intact" in out
    head = json.loads(cli("audit", "verify", "--json").stdout)["head"]
    assert head["id"] == 3 and len(head["hash"]) == 64
    shown = cli("audit", "verify", "--head", head["hash"]).stdout
    assert f"head {head['hash']} is record #3" in shown


def test_a_tampered_trail_exits_5_naming_the_record(cli: Cli, db_url: str) -> None:
    _sql(db_url, "UPDATE audit_events SET actor = 'mallory' WHERE id = 2")
    _sql(db_url, "UPDATE time_entries SET duration_seconds = 1800")
    result = cli("audit", "verify", code=5)
    assert "error: audit record #2 was changed after it was written" in result.stderr
    assert "entry_changed: entry #1 was edited behind the service's back: " \
           "duration_seconds" in result.stdout
    report = json.loads(cli("audit", "verify", "--json", code=5).stdout)
    assert report["clean"] is False
    assert [(f["kind"], f["record_id"], f["entry_id"]) for f in report["findings"]] == [
        ("changed", 2, None), ("entry_changed", None, 1)]


def test_a_head_no_longer_on_the_chain_exits_5(cli: Cli, db_url: str) -> None:
    head = json.loads(cli("audit", "verify", "--json").stdout)["head"]["hash"]
    _sql(db_url, "DELETE FROM audit_events WHERE id = 3")  # the log's record: cut short
    result = cli("audit", "verify", "--head", head, code=5)
    assert f"the head {head[:16]}… is not on the chain" in result.stderr


def test_a_head_that_is_no_hash_exits_2(cli: Cli) -> None:
    result = cli("audit", "verify", "--head", "not-a-hash", code=2)
    assert "is not a chain head: 64 hex digits" in result.stderr
