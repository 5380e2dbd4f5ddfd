"""Packets printed before (format v3: the PDF's text layout) keep verifying while their
records are unchanged, and name a record changed since.

`printed_v3/` holds a PDF and an HTML packet printed by main at 86c0e83 and the SQLite
records they were printed from (print_packets.py beside them prints them again from that
commit).
"""

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.audit.conftest import cli_env
from tests.cli.runner import Cli
from tests.conftest import FrozenClock

PRINTED_V3 = Path(__file__).with_name("printed_v3")
PRINTED_AT = FrozenClock(datetime(2026, 12, 7, 15, 0, tzinfo=UTC))


# -- packets printed before the tables -------------------------------------------------------

@pytest.fixture
def printed_v3(tmp_path: Path) -> Cli:
    """The records the v3 packets were printed from, in a SQLite file."""
    path = tmp_path / "before.db"
    with sqlite3.connect(path) as conn:
        conn.executescript((PRINTED_V3 / "records.sql").read_text())
    return Cli(cli_env(f"sqlite:///{path}"), clock=PRINTED_AT)


@pytest.mark.parametrize("name", ["v3.pdf", "v3.html"])
def test_a_packet_printed_before_the_tables_keeps_verifying(printed_v3: Cli, tmp_path: Path,
                                                            name: str) -> None:
    printed = tmp_path / name
    shutil.copyfile(PRINTED_V3 / name, printed)
    said = printed_v3("audit", "packet", "--verify", str(printed)).stdout
    assert "intact, and the records of P-1042 2026-10 are as printed" in said
    # an edit of the file is still one
    edited = tmp_path / f"edited-{name}"
    data = printed.read_bytes()
    edited.write_bytes(data.replace(b"(rpm-logger)", b"(rpm-logged)", 1) if name.endswith("pdf")
                       else data.replace(b"Nina Nurse (clinical_staff)</td>",
                                         b"Nina Nurse (physician)</td>", 1))
    assert edited.read_bytes() != data
    assert "edited" in printed_v3("audit", "packet", "--verify", str(edited), code=3).stderr
    # and so is a record changed since
    entry = printed_v3("log", "P-1042", "5m", "review", "Found later", "--staff", "U01NURSE",
                       "--at", "2026-10-29T10:00", "--amend", "late paper note").stdout.strip()
    said = printed_v3("audit", "packet", "--verify", str(printed), code=4).stderr
    assert f"entries[{entry}]: added since printing" in said
