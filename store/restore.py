"""A restore's statements, all inside the one transaction `Database.alone()` gives it: the
target is taken for the restore alone, found empty, brought to the archive's revision,
filled table by table, and its id sequences set past the restored ids.

The rows are inserted through the target's tables as the archive's revision made them (this
version's models at the newest revision; reflected from the database for an older archive,
whose tables have older columns), each value converted from the archive's portable form
(store/portable.py) into what that database stores: SQLite keeps an instant without its
zone, in UTC (store/types.py).
"""

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from sqlalchemy import MetaData, Table, false, func, insert, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

import store.models  # noqa: F401 - every table on SQLModel.metadata
from store.archive import ArchiveRefused, Header
from store.db import DatabaseInUse
from store.locks import leader_lock_taken_for_transaction
from store.migrate import head_revision
from store.portable import kind_of

WAIT_MS = 2_000  # how long a restore waits for the target's locks before it is refused
BATCH = 1000  # rows inserted a statement


def product_tables(header: Header) -> set[str]:
    """The tables that must be empty: this version's and any the archive's revision had."""
    return set(SQLModel.metadata.tables) | {t.name for t in header.tables}


def hold(conn: Connection, names: set[str]) -> None:
    """PostgreSQL: the restore's claim on the target. The scheduler leader's lock, taken
    until the transaction ends (refused while a running service leads), and every existing
    table of the product locked against any other reader or writer, so the target found
    empty stays empty until the restore commits. SQLite: `Database.alone()` holds the file."""
    if conn.dialect.name != "postgresql":
        return
    if not leader_lock_taken_for_transaction(conn):
        raise DatabaseInUse("the database is in use: a running service holds its scheduler "
                            "leader's lock: stop it, then restore; nothing was restored")
    present = sorted(names & set(inspect(conn).get_table_names()))
    if not present:
        return
    quote = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {WAIT_MS}")
    try:
        conn.exec_driver_sql(f"LOCK TABLE {', '.join(quote(n) for n in present)} "
                             "IN ACCESS EXCLUSIVE MODE")
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        raise DatabaseInUse("the database is in use: another session kept its tables busy "
                            f"for {WAIT_MS / 1000:g} s: stop the service, then restore; "
                            "nothing was restored") from exc


def rows_found(conn: Connection, names: set[str]) -> dict[str, int]:
    """How many rows each of `names` holds, those that exist and hold any."""
    found = {}
    for name in sorted(names & set(inspect(conn).get_table_names())):
        table = Table(name, MetaData())
        count = conn.execute(select(func.count()).select_from(table)).scalar_one()
        if count:
            found[name] = int(count)
    return found


def load(conn: Connection, header: Header,
         rows: Iterable[tuple[str, list[Any]]]) -> list[Table]:
    """Every row of the archive inserted, table after table, and each table's count checked
    against the header's; returns the tables filled. The target is at the archive's revision
    and empty."""
    targets = _tables_at(conn, header)
    converters = {name: _converters(conn, table) for name, table in targets.items()}
    for name, batch in _batches(rows):
        names = header_columns(header, name)
        convert = converters[name]
        conn.execute(insert(targets[name]),
                     [{column: convert[column](value) for column, value in zip(names, values,
                                                                              strict=True)}
                      for values in batch])
    for info in header.tables:
        count = conn.execute(select(func.count()).select_from(targets[info.name])).scalar()
        if count != info.rows:
            raise ArchiveRefused(f"counts {info.rows} rows of {info.name} and {count} were "
                                 "restored")
    return list(targets.values())


def header_columns(header: Header, table: str) -> tuple[str, ...]:
    return next(t.names for t in header.tables if t.name == table)


def _batches(rows: Iterable[tuple[str, list[Any]]]) -> Iterator[tuple[str, list[list[Any]]]]:
    """The rows BATCH at a time, one table a batch."""
    for name, same_table in groupby(rows, key=lambda row: row[0]):
        batch: list[list[Any]] = []
        for _, values in same_table:
            batch.append(values)
            if len(batch) == BATCH:
                yield name, batch
                batch = []
        if batch:
            yield name, batch


def _tables_at(conn: Connection, header: Header) -> dict[str, Table]:
    """The target's tables for the archive's, as its revision made them: this version's
    models at the newest revision, else reflected from the database. An archive whose tables
    or columns differ from them is refused (it was edited, or is not of the revision it
    says)."""
    present = set(inspect(conn).get_table_names())
    missing = [t.name for t in header.tables if t.name not in present]
    if missing:
        raise ArchiveRefused(f"holds tables schema {header.schema} does not have "
                             f"({', '.join(missing)}): it was edited")
    left_out = sorted((set(SQLModel.metadata.tables) & present)
                      - {t.name for t in header.tables})
    if left_out:
        raise ArchiveRefused(f"lacks tables of schema {header.schema} "
                             f"({', '.join(left_out)}): it was edited")
    metadata = SQLModel.metadata
    if header.schema != head_revision():
        metadata = MetaData()
        metadata.reflect(conn, only=[t.name for t in header.tables])
    tables = {name: metadata.tables[name] for name in (t.name for t in header.tables)}
    for info in header.tables:
        theirs = {c.name: kind_of(c.type) for c in tables[info.name].columns}
        if theirs != dict(info.columns):
            raise ArchiveRefused(f"has other columns in {info.name} than schema "
                                 f"{header.schema} makes: it was edited")
    return tables


def _converters(conn: Connection, table: Table) -> dict[str, Any]:
    """Per column, what turns an archive's value into what this database stores: a
    reflected SQLite instant is stored as it is given, so it is given in UTC without its
    zone; a model's column (UTCDateTime) does that itself."""
    sqlite = conn.dialect.name == "sqlite"
    return {c.name: _utc_naive if sqlite and kind_of(c.type) == "datetime"
            and not isinstance(c.type, TypeDecorator) else _same for c in table.columns}


def _same(value: Any) -> Any:
    return value


def _utc_naive(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def resume_sequences(conn: Connection, tables: Iterable[Table]) -> None:
    """PostgreSQL: each table's id sequence (serial or identity) set past its largest id, so
    the next row gets a new one; a table with no rows starts at 1; one statement. SQLite
    needs nothing: a new row's id is the largest + 1."""
    if conn.dialect.name != "postgresql":
        return
    settings = [func.setval(func.pg_get_serial_sequence(table.name, column.name),
                            func.coalesce(select(func.max(column)).scalar_subquery(), 0) + 1,
                            false())
                for table in tables for column in table.primary_key.columns
                if kind_of(column.type) == "integer"]
    if settings:
        conn.execute(select(*settings))
