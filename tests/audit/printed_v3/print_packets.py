"""Prints the packets this folder holds, with the code of the checkout it is run from, and
dumps the records they were printed from.

`v3.pdf` and `v3.html` were printed by main at 86c0e83 (format v3, the PDF's text layout,
before the PDF printed tables): tests/audit/test_audit_packet_pdf.py checks that today's
code still finds them intact and current, and names a record changed since. To print them
again (only ever with that commit's code: the point is what an older version printed):

    git worktree add --detach /tmp/rpm-86c0e83 86c0e83
    cd /tmp/rpm-86c0e83 && /path/to/a/venv/with/rpm-logger/bin/python \\
        /path/to/tests/audit/printed_v3/print_packets.py /path/to/tests/audit/printed_v3

It runs the CLI in-process on a frozen clock (2026-12-07 15:00 UTC) on a fresh SQLite file:
two staff members, a patient whose initials need the shipped font, entries (one live, one
with a long note, one logged late into the closed month as an amendment), a void, the
month's close and a patient change made as an amendment; then writes `v3.pdf`, `v3.html`
and `records.sql` (SQLite's `.dump` at that commit's schema) into the folder given.
"""

import os
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

CHECKOUT = Path.cwd()
sys.path.insert(0, str(CHECKOUT))  # that checkout's code, not the installed one

from presentation import packet  # noqa: E402
from tests.cli.runner import Cli  # noqa: E402

PRINTED_AT = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
LONG_NOTE = ("Reviewed the week's readings with the patient: morning systolic 150-162, "
             "evening 138-145; cuff size checked (adult large), seated five minutes before "
             "each reading; dose kept, recheck in one week. ") * 3
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("staff", "add", "U01NURSE", "--name", "Nina Nurse", "--role", "clinical_staff"),
    ("staff", "add", "U02DOC", "--name", "Dee Doctor", "--role", "physician",
     "--npi", "1234567890"),
    ("patient", "add", "P-1042", "--initials", "ŁŻ", "--phone", "(617) 555-0123",
     "--consent", "2026-09-01", "--condition", "I10", "--condition", "E11.9",
     "--provider", "U02DOC", "--enrolled", "2026-09-01", "--ordered-by", "U02DOC",
     "--order-date", "2026-09-01"),
    ("log", "P-1042", "15m", "review", "Reviewed BP log, 3 highs", "--staff", "U01NURSE",
     "--at", "2026-10-02T10:00"),
    ("log", "P-1042", "7m", "call", "Discussed readings, dose kept", "--staff", "U01NURSE",
     "--at", "2026-10-06T11:00", "--live"),
    ("log", "P-1042", "12m", "review", LONG_NOTE.strip(), "--staff", "U01NURSE",
     "--at", "2026-10-14T09:30"),
    ("log", "P-1042", "4m", "review", "Logged for the wrong patient", "--staff", "U01NURSE",
     "--at", "2026-10-15T09:00"),
    ("void", "LAST", "--reason", "wrong patient, see P-2000", "--staff", "U01NURSE"),
    ("month", "close", "2026-10", "--by", "Ada Admin", "--yes"),
    ("log", "P-1042", "6m", "review", "Paper note found in the chart", "--staff",
     "U01NURSE", "--at", "2026-10-28T10:00", "--amend", "paper note scanned late"),
    ("patient", "update", "P-1042", "--last-visit", "2026-08-20", "--amend",
     "last visit date from the paper chart"),
)


def main(folder: Path) -> None:
    assert Path(packet.__file__).is_relative_to(CHECKOUT), packet.__file__
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=CHECKOUT, check=True,
                            capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "records.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
        env.update(DATABASE_URL=f"sqlite:///{db}", CLINIC_TIMEZONE="America/New_York")
        cli = Cli(env, clock=lambda: PRINTED_AT)
        last = ""
        for args in COMMANDS:  # "LAST": the entry the last `log` saved
            said = cli(*(last if a == "LAST" else a for a in args)).stdout.strip()
            last = said if args[0] == "log" else last
        for fmt in ("pdf", "html"):
            target = folder / f"v3.{fmt}"
            target.unlink(missing_ok=True)
            cli("audit", "packet", "P-1042", "--month", "2026-10", "--format", fmt,
                "--out", str(target))
        with sqlite3.connect(db) as conn:
            (folder / "records.sql").write_text("\n".join(conn.iterdump()) + "\n")
    print(f"printed by {commit} into {folder}")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
