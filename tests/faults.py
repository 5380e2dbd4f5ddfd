"""Database faults injected below SQLAlchemy, so the service and store/db.py meet them exactly
as they would meet a real one: the driver's own error classes, raised on a real statement of
a real transaction (an outage, a failure after the first insert, a failing COMMIT)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from store.db import Database


@dataclass
class StatementFault:
    """Fails statements once armed: every one (an outage), or the first statement after
    `after_inserts` INSERTs (a failure mid-transaction). `failed`: what was made to fail."""

    error: type[Exception]
    message: str
    after_inserts: int | None = None
    times: int | None = None  # disarm after this many failures; None: until the block ends
    only: str | None = None  # fail only statements starting with this, e.g. "INSERT"
    inserts: int = 0
    failed: list[str] = field(default_factory=list)

    def before_execute(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.times is not None and len(self.failed) >= self.times:
            return
        if self.only and not statement.lstrip().upper().startswith(self.only):
            return
        if self.after_inserts is not None and self.inserts < self.after_inserts:
            self.inserts += statement.lstrip().upper().startswith("INSERT")
            return
        self.inserts = 0
        self.failed.append(" ".join(statement.split()))
        raise self.error(self.message)


@contextmanager
def failing_statements(db: Database, *, error: str = "OperationalError",
                       message: str = "server closed the connection unexpectedly",
                       after_inserts: int | None = None, times: int | None = None,
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
def failing_commit(db: Database, *, times: int = 1) -> Iterator[StatementFault]:
    """Every write of the transaction went through, then COMMIT fails (a full disk, a
    dropped connection); the transaction is rolled back as the driver would."""
    driver_error = db.engine.dialect.loaded_dbapi.OperationalError
    fault = StatementFault(driver_error, "disk I/O error", times=times)

    def on_commit(_conn: Any) -> None:
        if len(fault.failed) < times:
            fault.failed.append("COMMIT")
            # the "commit" event runs before SQLAlchemy's own error handling: raise what
            # that handling would have made of the driver's error
            raise OperationalError("COMMIT", None, driver_error(fault.message))

    event.listen(db.engine, "commit", on_commit)
    try:
        yield fault
    finally:
        event.remove(db.engine, "commit", on_commit)
