"""Database faults injected below SQLAlchemy, so the service and store/db.py meet them exactly
as they would meet a real one: the driver's own error classes, raised on a real statement of
a real transaction (an outage, a failure after the first insert, a failing COMMIT)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from store.db import Database


@dataclass
class StatementFault:
    """Fails statements once armed: every one (an outage), or the first statement after
    `after_inserts` INSERTs (a failure mid-transaction). `raised` counts the failures."""

    error: type[Exception]
    message: str
    after_inserts: int | None = None
    times: int | None = None  # disarm after this many failures; None: until the block ends
    only: str | None = None  # fail only statements starting with this, e.g. "INSERT"
    inserts: int = 0
    raised: int = 0

    def before_execute(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.times is not None and self.raised >= self.times:
            return
        if self.only and not statement.lstrip().upper().startswith(self.only):
            return
        if self.after_inserts is not None and self.inserts < self.after_inserts:
            self.inserts += statement.lstrip().upper().startswith("INSERT")
            return
        self.raised += 1
        self.inserts = 0
        raise self.error(self.message)


@contextmanager
def failing_statements(db: Database, *, error: str = "OperationalError",
                       message: str = "server closed the connection unexpectedly",
                       after_inserts: int | None = None,
                       times: int | None = None,
                       only: str | None = None) -> Iterator[StatementFault]:
    """`error` names a PEP 249 class (OperationalError, DataError, ...) of the database's
    own driver (sqlite3 or psycopg), so SQLAlchemy wraps it as it would a real one."""
    driver = db.engine.dialect.loaded_dbapi
    fault = StatementFault(getattr(driver, error), message, after_inserts, times, only)
    event.listen(db.engine, "before_cursor_execute", fault.before_execute)
    try:
        yield fault
    finally:
        event.remove(db.engine, "before_cursor_execute", fault.before_execute)


@contextmanager
def failing_commit(db: Database, *, times: int = 1) -> Iterator[list[int]]:
    """Every write went through, then COMMIT fails (a full disk, a dropped connection)."""
    driver_error = db.engine.dialect.loaded_dbapi.OperationalError
    raised: list[int] = []

    def on_commit(_conn: Any) -> None:
        if len(raised) < times:
            raised.append(1)
            raise OperationalError("COMMIT", None, driver_error("disk I/O error"))

    event.listen(db.engine, "commit", on_commit)
    try:
        yield raised
    finally:
        event.remove(db.engine, "commit", on_commit)
