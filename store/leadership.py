"""Which `serve` process runs the clinic's scheduled jobs (the at-risk reminders, Twilio's
reconciliation): the one holding the scheduler leader's lock, chosen by the database, so N
processes behind one proxy need no `REMINDERS_ENABLED=false` set by hand on all but one
(issue 23). Every process schedules the jobs; at each run a process asks `leading()`, which
keeps the lock it holds or tries (without waiting) to take it. When the leader dies its lock
goes with it (its PostgreSQL session ends; the kernel drops its file lock) and the next run
of any other process takes over. The jobs' own claims still make a second run harmless.

PostgreSQL: a session-level advisory lock (store/locks.py; `restore` takes the same key, so a
restore is refused while a service leads) on a connection of its own, in autocommit, kept for
as long as this process leads. SQLite: an exclusive `flock` on `<database>.leader` beside the
file (one host: every process sharing a SQLite file runs there).
"""

import fcntl
import logging
import os
import threading
from contextlib import suppress
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from store.db import Database, sqlite_files
from store.locks import SCHEDULER_LEADER_LOCK_KEY

log = logging.getLogger("rpm_logger.scheduler")

_TRY_LEAD = select(func.pg_try_advisory_lock(SCHEDULER_LEADER_LOCK_KEY))
_UNLOCK = select(func.pg_advisory_unlock(SCHEDULER_LEADER_LOCK_KEY))
_ALIVE = select(1)


class Leadership:
    """This process's claim to run the scheduled jobs; `leading()` from any thread."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._guard = threading.Lock()
        self._conn: Any = None  # PostgreSQL: the session holding the lock
        self._fd: int | None = None  # SQLite: the locked file
        files = sqlite_files(db.url)
        self._path = f"{files[0]}.leader" if files else None

    def leading(self) -> bool:
        """True while this process holds the leader's lock (taking it when free)."""
        with self._guard:
            held = self._postgres() if self._db.dialect == "postgresql" else self._sqlite()
        return held

    def release(self) -> None:
        """Give the lock up (the server stops): another process leads from its next run."""
        with self._guard:
            if self._conn is not None:
                try:
                    self._conn.execute(_UNLOCK)
                except DBAPIError:
                    pass  # the session is gone, and its lock with it
                self._close()
            if self._fd is not None:
                os.close(self._fd)  # closing the file releases its flock
                self._fd = None

    def _postgres(self) -> bool:
        if self._conn is not None:
            try:
                self._conn.execute(_ALIVE)
                return True  # the same session: the lock is still ours
            except DBAPIError:
                log.warning("the scheduler leader's database session was lost")
                self._close()
        try:
            conn = self._db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except DBAPIError:
            return False  # the database is unreachable: nobody can lead through it now
        try:
            took = bool(conn.execute(_TRY_LEAD).scalar())
        except DBAPIError:
            took = False
        if not took:
            conn.close()
            return False
        self._conn = conn
        log.info("this process runs the scheduled jobs (scheduler leader)")
        return True

    def _close(self) -> None:
        with suppress(Exception):  # a connection already gone may refuse either
            self._conn.invalidate()  # never back to the pool with a session lock on it
            self._conn.close()
        self._conn = None

    def _sqlite(self) -> bool:
        if self._path is None:
            return True  # an in-memory database: this process is the only one
        if self._fd is not None:
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        log.info("this process runs the scheduled jobs (scheduler leader)")
        return True
