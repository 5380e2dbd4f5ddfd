"""Backup and restore (docs/deploy.md, "Backup and restore"): the whole database into one
archive while the service keeps writing, and an archive into an empty database of either
kind, all or nothing.

A backup is one read transaction (one snapshot: store/backup.py). A restore is one write
transaction that nobody else shares (`Database.alone`): it is refused while the target is in
use or holds rows, brings the target to the archive's schema revision, inserts every row,
sets the id sequences past them, upgrades to the newest schema, and checks before it
commits: every table's count and the audit chain's head equal the archive's, and the audit
trail walks clean (`audit verify`: an archive edited with its SHA-256 recomputed still
contradicts its audit records). Any refusal or failure rolls all of it back.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from service.audit_trail import walk_trail
from service.context import ServiceContext
from service.errors import BadInput, StoreConflict
from store import audit
from store import restore as restoring
from store.archive import Archive, ArchiveRefused, Header, check
from store.audit import AuditHead, one_snapshot
from store.backup import tables as schema_tables
from store.backup import write
from store.db import Conn, Database
from store.migrate import head_revision, migrate_to, revision_of, revisions


@dataclass(frozen=True)
class BackupMade:
    """What a backup wrote: its header (counts, schema, head) and its SHA-256."""

    header: Header
    sha256: str


@dataclass(frozen=True)
class Restored:
    """What a restore put in: the archive's header, and the revision it was upgraded to
    (None: the archive was of the newest schema already)."""

    header: Header
    sha256: str
    upgraded_to: str | None


class BackupService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def take(self, out: IO[bytes]) -> BackupMade:
        """Every table in one snapshot, written into `out` (a binary file) as it is read."""
        created_at = self.ctx.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self.ctx.db.read() as conn:
            one_snapshot(conn)
            header, digest = write(conn, out, created_at=created_at)
        return BackupMade(header, digest)


def read_archive(opener: Callable[[], IO[bytes]]) -> Archive:
    """The archive `opener` opens, read through once and checked (damage, an edit that left
    the SHA-256, a format or schema newer than this version's), before any database is
    touched."""
    archive = check(opener)
    schema = archive.header.schema
    if schema not in revisions():
        raise ArchiveRefused(f"was made by a newer rpm-logger (schema {schema}; this one "
                             f"knows up to {head_revision()}): restore it with that version")
    return archive


def restore(db: Database, archive: Archive) -> Restored:
    """The archive into `db`, which must be empty and not in use; all or nothing."""
    try:
        return _restore(db, archive)
    except StoreConflict as exc:  # nobody else writes (held alone): the rows themselves
        raise ArchiveRefused("holds rows the database's rules refuse (a duplicate or a "
                             "missing reference): it was edited") from exc


def _restore(db: Database, archive: Archive) -> Restored:
    header = archive.header
    with db.alone(wait_ms=restoring.WAIT_MS) as conn:
        names = restoring.product_tables(header)
        restoring.hold(conn, names)
        _refuse_unknown_schema(revision_of(conn))
        found = restoring.rows_found(conn, names)
        if found:
            listed = ", ".join(f"{name}: {count:,}" for name, count in found.items())
            raise BadInput(f"the database is not empty ({listed}): a restore goes into an "
                           "empty database only; nothing was restored")
        migrate_to(conn, header.schema)
        restoring.resume_sequences(conn, restoring.load(conn, header, archive.rows()))
        upgraded = head_revision() if header.schema != head_revision() else None
        if upgraded:
            migrate_to(conn, upgraded)
            restoring.resume_sequences(conn, schema_tables())  # a migration may add rows
        _check_restored(conn, header)
    return Restored(header, archive.sha256, upgraded)


def _refuse_unknown_schema(revision: str | None) -> None:
    if revision is not None and revision not in revisions():
        raise BadInput(f"the database is at schema {revision}, which this rpm-logger does "
                       "not know (a newer one made it): restore with that version; nothing "
                       "was restored")


def _check_restored(conn: Conn, header: Header) -> None:
    """The restored database against the archive, before the commit."""
    head = audit.head(conn)
    wanted = AuditHead(*header.audit_head) if header.audit_head else None
    if head != wanted:
        raise ArchiveRefused(f"says its audit head is {wanted} but its records end at "
                             f"{head}: it was edited")
    report = walk_trail(conn)
    if not report.clean:
        raise ArchiveRefused(f"holds records that do not verify ({report.findings[0].message})"
                             ": it was edited, or the database it was taken from had been")
