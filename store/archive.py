"""The backup archive's file format (docs/deploy.md, "Backup and restore"), written and read
as a stream, so a database of any size never sits in memory.

A gzip file of UTF-8 JSON lines: first the header (format and version, the schema
revision, when, from which kind of database, each table in foreign-key order with its
columns, their kinds (store/portable.py) and its row count, and the audit chain's head);
then one line a row, `[table, [values in the header's column order]]`, table after table
in the header's order; last `{"sha256": …}`, the SHA-256 of every byte before that line.

Reading checks everything before a row is handed over: the gzip stream, the SHA-256, that
each table has the rows its header counts, in order, each with one value a column of the
kind its column says (`check`); `rows` reads the file again for the restore and stops at
the first difference (the file changed in between).
"""

import gzip
import hashlib
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from billing.errors import InvalidInput
from store.portable import KINDS, UnreadableValue, decode, encode

FORMAT = "rpm-logger backup"
VERSION = 1
MAX_LINE_BYTES = 64 * 1024 * 1024  # longer than any row can be (text columns are bounded)


class ArchiveRefused(InvalidInput):
    """The file is no archive this version can restore (damaged, edited, newer): `why`
    completes "the archive …", for the person restoring it."""

    def __init__(self, why: str) -> None:
        super().__init__(f"the archive {why}; nothing was restored")


@dataclass(frozen=True)
class TableInfo:
    """One table as the archive holds it: its columns (name, kind) and how many rows."""

    name: str
    columns: tuple[tuple[str, str], ...]
    rows: int

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


@dataclass(frozen=True)
class Header:
    """What an archive says of itself, read before any row."""

    schema: str
    created_at: str  # UTC, ISO 8601
    database: str  # the kind it was taken from: sqlite | postgresql
    tables: tuple[TableInfo, ...]
    audit_head: tuple[int, str] | None  # (id, hash) of the chain's newest record

    @property
    def row_count(self) -> int:
        return sum(t.rows for t in self.tables)

    def as_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "schema": self.schema,
                "created_at": self.created_at, "database": self.database,
                "tables": [{"name": t.name, "columns": [list(c) for c in t.columns],
                            "rows": t.rows} for t in self.tables],
                "audit_head": ({"id": self.audit_head[0], "hash": self.audit_head[1]}
                               if self.audit_head else None)}


class ArchiveWriter:
    """Writes one archive into `out` (a binary file): the header, the rows, the trailer."""

    def __init__(self, out: IO[bytes], header: Header) -> None:
        self._gzip = gzip.GzipFile(fileobj=out, mode="wb", mtime=0)
        self._digest = hashlib.sha256()
        self._kinds = {t.name: [kind for _, kind in t.columns] for t in header.tables}
        self._line(header.as_json())

    def row(self, table: str, values: list[Any]) -> None:
        """One row, its values as the database handed them back, in the header's order."""
        kinds = self._kinds[table]
        self._line([table, [encode(k, v) for k, v in zip(kinds, values, strict=True)]])

    def finish(self) -> str:
        """The trailer; returns the content's SHA-256 (hex)."""
        digest = self._digest.hexdigest()
        self._gzip.write(_dumps({"sha256": digest}))
        self._gzip.close()
        return digest

    def _line(self, value: Any) -> None:
        data = _dumps(value)
        self._digest.update(data)
        self._gzip.write(data)


def _dumps(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            + "\n").encode("utf-8")


@dataclass(frozen=True)
class Archive:
    """An archive that passed `check`: its header, its SHA-256, and its rows on demand."""

    header: Header
    sha256: str
    opener: Callable[[], IO[bytes]]

    def rows(self) -> Iterator[tuple[str, list[Any]]]:
        """Every row again, decoded (table name, values in the header's column order)."""
        with self.opener() as raw:
            reading = _Reading(raw)
            header = reading.header()
            if header != self.header:
                raise ArchiveRefused("changed while it was restored")
            yield from reading.rows(header)
            if reading.finish() != self.sha256:
                raise ArchiveRefused("changed while it was restored")


def check(opener: Callable[[], IO[bytes]]) -> Archive:
    """Read the whole archive once and check it (ArchiveRefused, with what is wrong)."""
    with opener() as raw:
        reading = _Reading(raw)
        header = reading.header()
        for _ in reading.rows(header):
            pass
        return Archive(header, reading.finish(), opener)


class _Reading:
    """One pass over an archive's lines, hashing them as they come."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")
        self._digest = hashlib.sha256()
        self._lines = 0

    def header(self) -> Header:
        found = self._read(hashed=True)
        if not isinstance(found, dict) or found.get("format") != FORMAT:
            raise ArchiveRefused("is not an rpm-logger backup, or is damaged (its first line "
                                 "is no backup header)")
        if found.get("version") != VERSION:
            raise ArchiveRefused(f"is of format version {found.get('version')!r}, made by a "
                                 f"newer rpm-logger (this one reads version {VERSION}): "
                                 "restore it with that version")
        try:
            return _header(found)
        except (KeyError, TypeError, ValueError) as exc:
            raise ArchiveRefused(f"is damaged: its header is incomplete ({exc})") from exc

    def rows(self, header: Header) -> Iterator[tuple[str, list[Any]]]:
        """Every row, in place and of its columns' kinds, decoded."""
        for table in header.tables:
            for n in range(table.rows):
                line = self._read(hashed=True)
                if not (isinstance(line, list) and len(line) == 2 and line[0] == table.name
                        and isinstance(line[1], list)
                        and len(line[1]) == len(table.columns)):
                    raise ArchiveRefused(f"is damaged: row {n + 1} of {table.rows} of the "
                                         f"table {table.name} is missing or out of place")
                yield table.name, _values(table, line[1])

    def finish(self) -> str:
        """Checks the trailer and the end of the file; returns the SHA-256."""
        digest = self._digest.hexdigest()
        trailer = self._read(hashed=False)
        if not isinstance(trailer, dict) or "sha256" not in trailer:
            raise ArchiveRefused("is damaged: more rows than its header counts, or its "
                                 "checksum line is missing")
        if trailer["sha256"] != digest:
            raise ArchiveRefused("is damaged or was edited: its content does not match "
                                 "its SHA-256")
        if self._gzip_read(1):
            raise ArchiveRefused("is damaged: something follows its checksum line")
        return digest

    def _read(self, *, hashed: bool) -> Any:
        line = self._gzip_read_line()
        if not line:
            raise ArchiveRefused("is damaged: it ends early (truncated)" if self._lines
                                 else "is empty: not an rpm-logger backup")
        self._lines += 1
        if not line.endswith(b"\n"):
            raise ArchiveRefused("is damaged: it ends in the middle of a line (truncated)"
                                 if len(line) <= MAX_LINE_BYTES else
                                 "is damaged: a line longer than any row can be")
        if hashed:
            self._digest.update(line)
        try:
            return json.loads(line, parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ArchiveRefused("is damaged: a line is not JSON") from exc

    def _gzip_read_line(self) -> bytes:
        try:
            return self._gzip.readline(MAX_LINE_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise _unreadable(exc) from exc

    def _gzip_read(self, size: int) -> bytes:
        try:
            return self._gzip.read(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise _unreadable(exc) from exc


def _unreadable(exc: BaseException) -> ArchiveRefused:
    if isinstance(exc, gzip.BadGzipFile):
        return ArchiveRefused("is not an rpm-logger backup, or is damaged: not a gzip file")
    if isinstance(exc, EOFError):
        return ArchiveRefused("is damaged: it ends early (truncated)")
    if isinstance(exc, zlib.error):
        return ArchiveRefused("is damaged: its compressed data is corrupt")
    return ArchiveRefused(f"is damaged: {exc}")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _header(found: dict[str, Any]) -> Header:
    tables = tuple(TableInfo(str(t["name"]), tuple((str(c[0]), _kind(c[1])) for c in t["columns"]),
                             _count(t["rows"])) for t in found["tables"])
    if len({t.name for t in tables}) != len(tables):
        raise ValueError("a table twice")
    head = found["audit_head"]
    return Header(schema=str(found["schema"]), created_at=str(found["created_at"]),
                  database=str(found["database"]), tables=tables,
                  audit_head=(_count(head["id"]), str(head["hash"])) if head else None)


def _kind(value: Any) -> str:
    if value not in KINDS:
        raise ValueError(f"{str(value)[:40]!r} is no column kind")
    return str(value)


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{value!r} is no count")
    return value


def _values(table: TableInfo, values: list[Any]) -> list[Any]:
    try:
        return [decode(kind, value) for (_, kind), value in zip(table.columns, values,
                                                                strict=True)]
    except UnreadableValue as exc:
        raise ArchiveRefused(f"is damaged: a row of the table {table.name} holds a value "
                             f"of the wrong form ({exc})") from exc
