"""A backup's reads: every table of the schema, in one snapshot, streamed into an archive
(store/archive.py).

The caller's read transaction is the snapshot: on PostgreSQL it is made REPEATABLE READ
before its first statement (`store.audit.one_snapshot`), on SQLite a read transaction sees
one moment already (WAL). So the counts in the header, the rows and the audit chain's head
are of one moment while the service goes on writing: a write that commits meanwhile is in
none of them. Tables come from the SQLModel metadata in foreign-key order (a restore inserts
them in that order), each table's rows in primary-key order, a page at a time.
"""

from typing import IO, Any

from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import store.models  # noqa: F401 - every table on SQLModel.metadata
from billing.errors import InvalidInput
from store import audit
from store.archive import ArchiveWriter, Header, TableInfo
from store.migrate import head_revision, revision_of
from store.portable import kind_of

BATCH = 1000  # rows fetched at a time


def tables() -> list[Table]:
    """Every table of the schema, each after the tables its foreign keys point to."""
    return list(SQLModel.metadata.sorted_tables)


def write(conn: Connection, out: IO[bytes], *, created_at: str) -> tuple[Header, str]:
    """The archive of the snapshot `conn` reads, written into `out`; its header and its
    SHA-256. `conn` is a read transaction on the newest schema (the tables read are this
    version's)."""
    header = _header(conn, created_at)
    writer = ArchiveWriter(out, header)
    for info, table in zip(header.tables, tables(), strict=True):
        written = 0
        for row in conn.execute(_all_rows(table)):
            writer.row(table.name, list(row))
            written += 1
        if written != info.rows:  # the snapshot would not be one: never ship it
            raise RuntimeError(f"{table.name}: {written} rows read, {info.rows} counted")
    return header, writer.finish()


def _header(conn: Connection, created_at: str) -> Header:
    revision = revision_of(conn)
    if revision != head_revision():
        raise InvalidInput(f"the database is at schema {revision}, not this rpm-logger's "
                           f"{head_revision()}: run `rpm-logger db upgrade` first; nothing "
                           "written")
    head = audit.head(conn)
    return Header(
        schema=revision, created_at=created_at, database=conn.dialect.name,
        tables=tuple(TableInfo(t.name, _columns(t), _count(conn, t)) for t in tables()),
        audit_head=(head.id, head.hash) if head is not None else None)


def _columns(table: Table) -> tuple[tuple[str, str], ...]:
    return tuple((column.name, kind_of(column.type)) for column in table.columns)


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _all_rows(table: Table) -> Any:
    """Every row in primary-key order, fetched BATCH at a time (a server-side cursor on
    PostgreSQL) so a large table never sits in memory."""
    return (select(table).order_by(*table.primary_key.columns)
            .execution_options(yield_per=BATCH))

