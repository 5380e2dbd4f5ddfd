"""A backup is one snapshot while the service keeps writing: entries logged from another
thread after the backup has started (held at its first row until they commit) are not in
it, and what is in it agrees with itself: each table's count is its rows, the audit chain
links and hashes from the first record to the header's head, and every entry in it has its
audit record (restored, `audit verify` is intact)."""

import threading
from pathlib import Path
from typing import Any

from service import Service
from store import archive as archive_format
from store.audit_chain import record_hash
from store.portable import decode
from tests.backup.archives import read_archive
from tests.backup.conftest import cli_env, seed_clinic, sqlite_url, table_counts
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.service.helpers import log

WRITES_DURING = 5


def test_a_backup_taken_while_entries_are_written_is_one_moment(
        svc: Service, db_url: str, tmp_path: Path, clock: FrozenClock,
        monkeypatch: Any) -> None:
    seed_clinic(svc)
    before = table_counts(db_url)
    written: list[int] = []

    def keep_writing() -> None:
        for _ in range(WRITES_DURING):
            written.append(log(svc, "1m", note="logged during the backup"))

    writer = threading.Thread(target=keep_writing)
    real_row = archive_format.ArchiveWriter.row

    def row_after_the_writes(self: Any, table: str, values: list[Any]) -> None:
        if not writer.is_alive() and not written:  # the first row: the snapshot is taken
            writer.start()
            writer.join(timeout=30)
        real_row(self, table, values)

    monkeypatch.setattr(archive_format.ArchiveWriter, "row", row_after_the_writes)
    out = tmp_path / "during.rpm-backup"
    with out.open("wb") as file:
        svc.backups.take(file)
    assert len(written) == WRITES_DURING  # they committed while the backup was reading
    after = table_counts(db_url)
    assert after["time_entries"] == before["time_entries"] + WRITES_DURING

    header, rows, _ = read_archive(out)
    assert {t["name"]: t["rows"] for t in header["tables"]} == before
    assert {name: len(found) for name, found in rows.items()} == before
    _chain_holds(header, rows)
    target = Cli(cli_env(sqlite_url(tmp_path / "restored.db")), clock=clock)
    target("restore", str(out), "--yes")
    assert target("audit", "verify").returncode == 0


def _chain_holds(header: dict[str, Any], rows: dict[str, list[list[Any]]]) -> None:
    audit = next(t for t in header["tables"] if t["name"] == "audit_events")
    names = [c[0] for c in audit["columns"]]
    kinds = dict(audit["columns"])
    previous = None
    for values in rows["audit_events"]:
        record = {n: decode(kinds[n], v) for n, v in zip(names, values, strict=True)}
        assert record["prev_hash"] == (previous["hash"] if previous else None)
        assert record_hash(record) == record["hash"]
        previous = record
    assert previous is not None
    assert header["audit_head"] == {"id": previous["id"], "hash": previous["hash"]}
