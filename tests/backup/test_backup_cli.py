"""`rpm-logger backup --out FILE` and `rpm-logger restore FILE --yes` (issue 23, part 2): one
snapshot of every table in a self-describing archive; restored only into an empty database of
either kind, at the archive's schema revision and then upgraded, all or nothing; after it
`audit verify` is intact with the archive's head, every table holds the archive's rows and
new rows get new ids. Every refusal is one `error:` line, exit 2, and changes nothing."""

import gzip
import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from service import Policy, Service, ServiceContext
from store import restore as restoring
from store.db import Database
from store.locks import SCHEDULER_LEADER_LOCK_KEY
from store.migrate import head_revision
from tests.backup.archives import (
    column,
    read_archive,
    without_column,
    without_tables,
    write_archive,
)
from tests.backup.conftest import cli_env, seed_clinic, sqlite_url, table_counts
from tests.cli.runner import Cli
from tests.conftest import FrozenClock

ALL_TABLES = [t.name for t in SQLModel.metadata.sorted_tables]


def _seeded_sqlite(path: Path, migrated: Path, clock: FrozenClock) -> str:
    """The backup clinic on a SQLite file of its own (no connection left open)."""
    shutil.copyfile(migrated, path)
    db = Database(sqlite_url(path))
    seed_clinic(Service(ServiceContext(db, Policy(), clock)))
    db.dispose()
    return sqlite_url(path)


@pytest.fixture
def source(tmp_path: Path, migrated_sqlite_file: Path, clock: FrozenClock) -> str:
    return _seeded_sqlite(tmp_path / "source.db", migrated_sqlite_file, clock)


@pytest.fixture(scope="session")
def archive_bytes(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite_file: Path) -> bytes:
    """The backup clinic's archive, taken once per test process (at the frozen instant)."""
    folder = tmp_path_factory.mktemp("backup")
    clock = FrozenClock()
    source = _seeded_sqlite(folder / "source.db", migrated_sqlite_file, clock)
    Cli(cli_env(source), clock=clock)("backup", "--out", str(folder / "clinic.rpm-backup"))
    return (folder / "clinic.rpm-backup").read_bytes()


@pytest.fixture
def archive(archive_bytes: bytes, tmp_path: Path) -> Path:
    out = tmp_path / "clinic.rpm-backup"
    out.write_bytes(archive_bytes)
    return out


def _counts(archive: Path) -> dict[str, int]:
    """Each table's rows, as the archive's header counts them (equal to the source's:
    test_backup_writes_one_owner_only_archive_that_says_what_it_holds)."""
    return {t["name"]: t["rows"] for t in read_archive(archive)[0]["tables"]}


@pytest.fixture
def target(db_url: str, clock: FrozenClock) -> Cli:
    """The CLI on an empty, migrated database of each kind."""
    return Cli(cli_env(db_url), clock=clock)


def _head(cli: Cli) -> dict[str, object]:
    return json.loads(cli("audit", "verify", "--json").stdout)["head"]  # type: ignore[no-any-return]


def _refused(result: object) -> str:
    """The one `error:` line of a refusal (exit 2 checked by the caller)."""
    stderr = result.stderr  # type: ignore[attr-defined]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_backup_writes_one_owner_only_archive_that_says_what_it_holds(
        source: str, tmp_path: Path, clock: FrozenClock) -> None:
    cli = Cli(cli_env(source), clock=clock)
    out = tmp_path / "clinic.rpm-backup"
    result = cli("backup", "--out", str(out))
    header, rows, trailer = read_archive(out)
    counts = table_counts(source)
    assert all(counts.values()), counts  # the clinic has a row in every table
    assert header["format"] == "rpm-logger backup" and header["version"] == 1
    assert header["schema"] == head_revision() and header["database"] == "sqlite"
    assert header["created_at"] == "2026-11-20T20:00:00.000000Z"
    assert [t["name"] for t in header["tables"]] == ALL_TABLES  # foreign keys first
    assert {t["name"]: t["rows"] for t in header["tables"]} == counts
    assert {name: len(found) for name, found in rows.items()} == counts
    assert header["audit_head"] == _head(cli)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    summary = result.stdout.splitlines()
    assert len(summary) == 1 and not result.stderr
    assert f"{sum(counts.values())} rows in {len(counts)} tables" in summary[0]
    assert trailer["sha256"] in summary[0] and f"schema {head_revision()}" in summary[0]
    # values are portable: instants in UTC with their offset, dates, JSON as JSON
    entries = {c[0]: c[1] for c in next(t for t in header["tables"]
                                        if t["name"] == "time_entries")["columns"]}
    assert entries["started_at"] == "datetime" and entries["live"] == "boolean"
    october = next(r for r in rows["time_entries"]
                   if r[column(header, "time_entries", "started_at")].startswith("2026-10-06"))
    assert october[column(header, "time_entries", "started_at")] == \
        "2026-10-06T14:00:01.123456+00:00"
    session = rows["voice_sessions"][0]
    assert session[column(header, "voice_sessions", "data")]["é"] == {"nested": "✓"}
    assert rows["patients"][-1][column(header, "patients", "consent_on")] == "2026-09-01"


def test_restore_into_an_empty_database_of_each_kind(archive: Path, target: Cli,
                                                      db_url: str) -> None:
    header, rows, _ = read_archive(archive)
    result = target("restore", str(archive), "--yes")
    assert len(result.stdout.splitlines()) == 1
    assert f"audit head #{header['audit_head']['id']}" in result.stdout
    assert table_counts(db_url) == _counts(archive)
    assert _head(target) == header["audit_head"]  # `audit verify` exits 0, same head
    again = read_archive(_backup(target, archive.with_name("again.rpm-backup")))[1]
    assert again == rows  # every value as it was, on either database
    # every table's ids continue past the restored ones (PostgreSQL: setval)
    target("staff", "add", "U09NEW", "--name", "New Nurse", "--role", "clinical_staff")
    target("patient", "add", "P-7777", "--initials", "NN", "--phone", "+1 617 555 0177")
    logged = int(target("log", "P-7777", "5m", "review", "--staff", "U09NEW").stdout)
    assert logged == max(r[0] for r in rows["time_entries"]) + 1


def _backup(cli: Cli, out: Path) -> Path:
    cli("backup", "--out", str(out))
    return out


@pytest.mark.postgres
def test_sqlite_to_postgresql_and_back(archive: Path, unmigrated_postgres_url: str,
                                       tmp_path: Path, clock: FrozenClock) -> None:
    """The way a clinic outgrows the embedded default, and back: into a PostgreSQL database
    nothing migrated yet, then from it into a SQLite file that does not exist yet."""
    header, rows, _ = read_archive(archive)
    postgres = Cli(cli_env(unmigrated_postgres_url), clock=clock)
    postgres("restore", str(archive), "--yes")
    assert table_counts(unmigrated_postgres_url) == _counts(archive)
    assert _head(postgres) == header["audit_head"]
    from_postgres = _backup(postgres, tmp_path / "from-postgres.rpm-backup")
    header2, rows2, _ = read_archive(from_postgres)
    assert header2["database"] == "postgresql" and rows2 == rows
    assert {k: v for k, v in header2.items() if k != "database"} == \
        {k: v for k, v in header.items() if k != "database"}
    back = sqlite_url(tmp_path / "new" / "back.db")
    sqlite = Cli(cli_env(back), clock=clock)
    sqlite("restore", str(from_postgres), "--yes")
    assert table_counts(back) == _counts(archive)
    assert _head(sqlite) == header["audit_head"]
    for cli in (postgres, sqlite):  # a new entry gets an id past the restored ones
        logged = int(cli("log", "P-1042", "5m", "review", "--staff", "U01NURSE").stdout)
        assert logged == max(r[0] for r in rows["time_entries"]) + 1


def test_an_older_archive_is_restored_at_its_revision_then_upgraded(
        archive: Path, target: Cli, db_url: str) -> None:
    """An archive from revision 0015 (before closes kept their author's name) into a database
    already at the newest schema: taken down to 0015, filled, upgraded again."""
    header, rows, _ = read_archive(archive)
    older, older_rows = without_column(*without_column(
        *without_tables(header, rows, "devices", "device_readings"),
        "month_close_lines", "device_codes"), "month_close_events", "by_name")
    older, older_rows = without_column(older, older_rows, "staff", "inactive_from")
    # nor what 0018 added (issue 24): staff emails, auditor grants, the dashboard key; nor
    # 0020's server-side dashboard sessions
    older, older_rows = without_column(older, older_rows, "staff", "email")
    # and 0021's call DMs (issue 25)
    newer = {"auditor_grants", "dashboard_keys", "dashboard_sessions", "notices"}
    older = dict(older, tables=[t for t in older["tables"] if t["name"] not in newer])
    older_rows = {n: r for n, r in older_rows.items() if n not in newer}
    write_archive(archive, dict(older, schema="0015"), older_rows)
    result = target("restore", str(archive), "--yes")
    assert "schema 0015" in result.stdout and f"upgraded to {head_revision()}" in result.stdout
    # the tables later revisions added are there, empty
    counts = table_counts(db_url)
    assert {counts.pop(name) for name in newer | {"devices", "device_readings"}} == {0}
    assert counts == _counts(archive)
    assert target("audit", "verify").returncode == 0
    assert "by Ada Admin (U04ADMIN)" in target("month", "show", "2026-10").stdout


def test_an_offboarded_members_instant_round_trips(source: str, target: Cli, tmp_path: Path,
                                                   clock: FrozenClock) -> None:
    """Issue 24: a leaver's `staff.inactive_from` is in the archive and comes back as it was,
    with the offboarding's audit records (verify intact on both sides)."""
    cli = Cli(cli_env(source), clock=clock)
    cli("staff", "add", "U09LEAVER", "--name", "Lee Leaver", "--role", "clinical_staff")
    cli("staff", "offboard", "U09LEAVER", "--reassign-to", "U02DOCTOR", "--reason", "moved",
        "--yes")
    out = tmp_path / "leaver.rpm-backup"
    cli("backup", "--out", str(out))
    header, rows, _ = read_archive(out)
    at = column(header, "staff", "inactive_from")
    assert [r[at] is not None for r in rows["staff"]].count(True) == 1  # the leaver's
    target("restore", str(out), "--yes")
    leaver = "Lee Leaver  (clinical_staff, inactive since 2026-11-20 15:00 EST)"
    assert leaver in cli("staff", "list", "--all").stdout
    assert leaver in target("staff", "list", "--all").stdout
    assert target("audit", "verify").returncode == 0


def test_a_database_with_rows_is_refused(archive: Path, target: Cli, db_url: str) -> None:
    target("staff", "add", "U01ONLY", "--name", "Only One", "--role", "clinical_staff")
    before = table_counts(db_url)
    said = _refused(target("restore", str(archive), "--yes", code=2))
    assert "not empty" in said and "staff: 1" in said and "nothing was restored" in said
    assert table_counts(db_url) == before


def test_a_database_the_service_holds_is_refused(archive: Path, target: Cli, db_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: the scheduler leader's advisory lock is held, or a session is in the
    middle of a write; SQLite: another connection has the file open (the service keeps one
    in its pool)."""
    monkeypatch.setattr(restoring, "WAIT_MS", 100)  # refused sooner than a restore waits
    postgres = db_url.startswith("postgresql")
    holder = create_engine(db_url, poolclass=NullPool)
    with holder.connect() as conn:
        if postgres:
            conn.execute(text("SELECT pg_advisory_lock(:key)"),
                         {"key": SCHEDULER_LEADER_LOCK_KEY})
        else:
            conn.execute(text("SELECT count(*) FROM staff"))
        conn.commit()
        said = _refused(target("restore", str(archive), "--yes", code=2))
        assert "in use" in said and ("leader" if postgres else "open") in said
    if postgres:
        with holder.connect() as conn:  # a write under way: its table lock
            conn.execute(text("LOCK TABLE slack_contexts IN ROW EXCLUSIVE MODE"))
            said = _refused(target("restore", str(archive), "--yes", code=2))
            assert "in use" in said and "busy" in said
    assert "nothing was restored" in said
    assert not any(table_counts(db_url).values())
    target("restore", str(archive), "--yes")  # once it is let go


@pytest.mark.parametrize("damage", ["truncated", "garbage", "edited", "empty", "not gzip",
                                    "no trailer", "newer schema", "newer format",
                                    "missing", "folder", "forged", "duplicate"])
def test_a_damaged_or_unreadable_archive_is_refused_and_nothing_is_written(
        archive: Path, tmp_path: Path, clock: FrozenClock, damage: str) -> None:
    data = archive.read_bytes()
    header, rows, _ = read_archive(archive)
    bad = tmp_path / "bad.rpm-backup"
    if damage == "truncated":
        bad.write_bytes(data[:len(data) * 2 // 3])
    elif damage == "garbage":
        bad.write_bytes(data[:100] + bytes(200) + data[300:])
    elif damage == "edited":  # a note changed, the SHA-256 left as it was
        bad.write_bytes(gzip.compress(gzip.decompress(data).replace(
            "Bläser".encode(), b"Blaser")))
    elif damage == "empty":
        bad.write_bytes(b"")
    elif damage == "not gzip":
        bad.write_text("staff,name\n1,Nina\n")
    elif damage == "no trailer":
        bad.write_bytes(gzip.compress(gzip.decompress(data).rsplit(b"\n", 2)[0] + b"\n"))
    elif damage == "newer schema":
        write_archive(bad, dict(header, schema="9999"), rows)
    elif damage == "newer format":
        write_archive(bad, dict(header, version=2), rows)
    elif damage == "folder":
        bad.mkdir()
    elif damage == "forged":  # an entry's seconds changed, the SHA-256 recomputed
        rows["time_entries"][0][column(header, "time_entries", "duration_seconds")] += 600
        write_archive(bad, header, rows)
    elif damage == "duplicate":  # a patient's phone number given to a second one
        rows["patient_phones"][1][column(header, "patient_phones", "e164")] = \
            rows["patient_phones"][0][column(header, "patient_phones", "e164")]
        write_archive(bad, header, rows)
    target_path = tmp_path / "target" / "rpm.db"
    cli = Cli(cli_env(sqlite_url(target_path)), clock=clock)
    said = _refused(cli("restore", str(bad), "--yes", code=2))
    expected = {"newer schema": "newer rpm-logger", "newer format": "newer rpm-logger",
                "empty": "not an rpm-logger backup",
                "missing": "cannot read", "folder": "cannot read",
                "forged": "do not verify", "duplicate": "rules refuse"}.get(damage, "damaged")
    assert expected in said and "nothing was restored" in said
    assert not target_path.exists()  # a SQLite file the restore made is removed again


def test_an_archive_edited_with_its_checksum_redone_is_refused(archive: Path, target: Cli,
                                                                db_url: str) -> None:
    """A forger who recomputes the SHA-256 still meets the audit trail: an entry's seconds
    changed do not match its audit record, so nothing is restored (all or nothing)."""
    header, rows, _ = read_archive(archive)
    at = column(header, "time_entries", "duration_seconds")
    rows["time_entries"][0][at] += 600
    write_archive(archive, header, rows)
    said = _refused(target("restore", str(archive), "--yes", code=2))
    assert "do not verify" in said and "entry #1" in said and "nothing was restored" in said
    assert not any(table_counts(db_url).values())


def test_restore_asks_first(archive: Path, target: Cli, db_url: str) -> None:
    said = _refused(target("restore", str(archive), code=2))
    assert "pass --yes" in said
    refused = target.on_terminal("n", "restore", str(archive))
    assert refused.returncode == 2 and "Restore" in refused.stderr
    assert not any(table_counts(db_url).values())


def test_what_backup_will_not_write(source: str, tmp_path: Path, clock: FrozenClock) -> None:
    cli = Cli(cli_env(source), clock=clock)
    out = tmp_path / "taken.rpm-backup"
    out.write_text("keep me")
    assert "already exists" in _refused(cli("backup", "--out", str(out), code=2))
    assert out.read_text() == "keep me"
    link = tmp_path / "link.rpm-backup"
    link.symlink_to(out)
    assert "symbolic link" in _refused(cli("backup", "--out", str(link), "--force", code=2))
    database = source.removeprefix("sqlite:///")
    said = _refused(cli("backup", "--out", database, "--force", code=2))
    assert "the database" in said
    cli("backup", "--out", str(out), "--force")
    assert read_archive(out)[0]["format"] == "rpm-logger backup"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "No such option" in cli("backup", "--out", str(out), "--bogus", code=2).stderr
    assert "No such option" in cli("restore", str(out), "--bogus", code=2).stderr
    assert "--out" in cli("backup", code=2).stderr
    assert os.path.islink(link)
