"""The engine and transactions: SQLite made safe for concurrent writers, PostgreSQL as is.

SQLite allows one writer at a time. A write transaction that starts as a plain BEGIN takes
its write lock only at the first write and can then fail with "database is locked" instead
of waiting; BEGIN IMMEDIATE takes the lock up front, so busy_timeout makes writers queue.
Reads keep a plain BEGIN and, under WAL, never wait for writers.

Within one process, SQLite writers also queue on a lock before BEGIN IMMEDIATE: SQLite's
busy handler polls with sleeps that grow to 100 ms, so 30 threads contending for the file
lock waste most of their time asleep while the lock is free; a queue hands it over at once.
busy_timeout still orders writers from other processes (the CLI beside the server).

PostgreSQL cannot hold a NUL character in text; so that both backends refuse the same input
the same way, every statement whose parameters carry one is refused before it is sent.
Likewise PostgreSQL refuses text longer than its column where SQLite stores it: every Core
INSERT and UPDATE checks each text value against its column's length (store/models.py)
before any SQL is sent.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, create_engine

from billing.errors import InvalidInput
from store import audit, postgres
from store.postgres import DEFAULT_TIMEOUTS, Timeouts

Conn = Connection  # what service/ annotates a transaction with (it imports no sqlalchemy)

SQLITE_BUSY_TIMEOUT_MS = 30_000  # the default of SQLITE_BUSY_TIMEOUT_MS (Settings)


class StoreUnavailable(RuntimeError):
    """The database did not answer or gave up waiting; the transaction was rolled back."""


class SaveUnconfirmed(StoreUnavailable):
    """The database stopped answering while the transaction committed: it may or may not
    have been saved, and nobody can tell from here (outside attack: PostgreSQL cut
    mid-commit stored an entry the nurse was told was "not saved")."""


class StoreConflict(RuntimeError):
    """A unique rule was broken by a concurrent write; the transaction was rolled back."""


class DatabaseInUse(InvalidInput):
    """Another process has the database open (SQLite) or holds a lock that means a service
    runs on it (PostgreSQL): a restore is refused; nothing changed."""


class UnstorableText(InvalidInput):
    """Text with a NUL character, refused by the store on every backend; nothing changed."""


_WRITE_OPTION = "rpm_write"
_ALONE_OPTION = "rpm_alone"  # Database.alone(): BEGIN EXCLUSIVE
_WAIT_OPTION = "rpm_wait_ms"  # a write's own bound on waiting for the lock (ms)
_WRITER_POLL_S = 0.002  # how often a write with its own deadline retries the writer lock
# past a caller's deadline, how long a silent PostgreSQL connection is left before the
# watchdog shuts it down: the server's own SET LOCAL timeouts, at the deadline, go first
_SILENCE_GRACE_S = 0.5
_NUL_MESSAGE = ("That text contains a NUL character (\\x00), which cannot be saved or looked "
                "up; remove it and try again.")


def _carries_nul(parameters: Any) -> bool:
    """Whether any text in the parameters (nested dicts, lists, tuples) holds a NUL. Runs
    before every statement: scalars are checked in the loop, only containers recurse."""
    if isinstance(parameters, str):
        return "\x00" in parameters
    if isinstance(parameters, dict):
        values: Any = parameters.values()
    elif isinstance(parameters, list | tuple):
        values = parameters
    else:
        return False
    for value in values:
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict | list | tuple) and _carries_nul(value):
            return True
    return False


def _install_nul_guard(engine: Engine) -> None:
    # retval=True: called directly, without SQLAlchemy's adapter around each call
    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _refuse_nul(_conn: Any, _cursor: Any, statement: str, parameters: Any,
                    _context: Any, _executemany: bool) -> tuple[str, Any]:
        if _carries_nul(parameters):
            raise UnstorableText(_NUL_MESSAGE)
        return statement, parameters


class OverlongText(InvalidInput):
    """Text longer than the column that stores it, refused on every backend; nothing changed."""


# How a person knows the columns people fill in; others are named by their column.
_FIELD_NAMES = {"void_reason": "reason", "amendment_reason": "amendment reason",
                "closed_by": "name of who closes the month",
                "by": "--by (who closes or reopens the month)",
                "actor": "name of who makes the change", "created_by": "author",
                "clinic_id": "patient id", "slack_user_id": "Slack user id"}


def _too_long(key: str, limit: int, value: str) -> str:
    field = _FIELD_NAMES.get(key, key.replace("_", " "))
    return (f"The {field} is over {limit} characters ({len(value):,}): shorten it. "
            "Nothing was saved.")


_LIMITS: dict[str, dict[str, int]] = {}


def _limits_of(table: Table) -> dict[str, int]:
    """Each bounded text column's length, by column name (cached per table)."""
    limits = _LIMITS.get(table.name)
    if limits is None:
        limits = {c.key: c.type.length for c in table.columns
                  if getattr(c.type, "length", None) is not None}
        _LIMITS[table.name] = limits
    return limits


def _overlong_values(table: Table, values: Any,
                     columns: dict[str, str] | None = None) -> str | None:
    """The first over-long text among `values`; `columns` maps a bound parameter's name to
    the column it sets when they differ (`.values(void_reason=bindparam("reason"))`)."""
    limits = _limits_of(table)
    if not limits:
        return None
    renamed = columns or {}
    for key, value in values.items():  # runs on every write: most values are not text
        if not isinstance(value, str):
            value = getattr(value, "value", None)  # a bound parameter carries its value
            if not isinstance(value, str):
                continue
        name = key if isinstance(key, str) else getattr(key, "key", key)
        name = renamed.get(name, name)
        limit = limits.get(name)
        if limit is not None and len(value) > limit:
            return _too_long(name, limit, value)
    return None


def _renamed_parameters(clause: Any) -> dict[str, str]:
    """Parameter name -> column name for the columns a statement sets from a bound parameter
    named otherwise: the parameters executed with then carry the column's value."""
    renamed: dict[str, str] = {}
    for key, value in (getattr(clause, "_values", None) or {}).items():
        column = getattr(key, "key", key)
        parameter = getattr(value, "key", None)
        if isinstance(parameter, str) and parameter != column:
            renamed[parameter] = column
    return renamed


def _install_length_guard(engine: Engine) -> None:
    """Core INSERTs and UPDATEs get a length check on each bounded text: in .values(...) and
    in the parameters they are executed with, under the column's name or the name of the
    bound parameter that sets it."""
    @event.listens_for(engine, "before_execute", retval=True)  # no adapter (as above)
    def _refuse_overlong_core(_conn: Any, clause: Any, multiparams: Any, params: Any,
                              _options: Any) -> tuple[Any, Any, Any]:
        _check_lengths(clause, multiparams, params)
        return clause, multiparams, params


def _check_lengths(clause: Any, multiparams: Any, params: Any) -> None:
    """OverlongText for the first over-long text a Core INSERT or UPDATE would store."""
    table = getattr(clause, "table", None)
    if not isinstance(table, Table) or not getattr(clause, "is_dml", False) \
            or not _limits_of(table):
        return
    own = getattr(clause, "_values", None) or {}  # the statement's own .values(...)
    renamed = _renamed_parameters(clause) if own else {}
    sets = [own, params or {}]
    for extra in multiparams or ():
        sets.extend(extra if isinstance(extra, list | tuple) else [extra])
    for values in sets:
        if isinstance(values, dict):
            problem = _overlong_values(table, values, renamed)
            if problem:
                raise OverlongText(problem)


def _prepare_sqlite_file(url: str) -> None:
    """Create the folder of a SQLite file database so a fresh machine just works."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def sqlite_files(url: str) -> list[Path]:
    """The files a SQLite database lives in: the database first, then its -wal, -shm and
    -journal (whether they exist or not); none for another database or an in-memory one.
    What a file the CLI writes must never replace (`audit packet --out`: a packet written
    over the live database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return []
    path = (parsed.database or "").removeprefix("file:").split("?")[0]
    if not path or path == ":memory:" or "mode=memory" in url:
        return []
    return [Path(path + suffix) for suffix in ("", "-wal", "-shm", "-journal")]


def _install_sqlite_hooks(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(_ALONE_OPTION, False):
            connection.exec_driver_sql("BEGIN EXCLUSIVE")
            return
        immediate = options.get(_WRITE_OPTION, False)
        if immediate:  # a write's own wait (Database.write(wait_s=)), else the default
            _set_busy_timeout(connection, options.get(_WAIT_OPTION) or busy_timeout_ms)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def as_writer(engine: Engine, wait_ms: int | None = None) -> Engine:
    """`engine` whose transactions take SQLite's write lock as they begin (BEGIN IMMEDIATE,
    waiting up to `wait_ms` for it, by default the engine's busy timeout), so what they read
    stays true until they commit; the same engine elsewhere (PostgreSQL takes its locks
    explicitly)."""
    return engine.execution_options(**{_WRITE_OPTION: True, _WAIT_OPTION: wait_ms})


def _commit(connection: Connection, transaction: Any, dialect: str) -> None:
    """Commit. On PostgreSQL a connection lost during the commit leaves its outcome unknown
    (the server may have committed before its answer was lost), so it is SaveUnconfirmed,
    never "not saved"; SQLite's commit is local and atomic: a failed one was rolled back.
    Either way the connection is thrown away, not pooled: its state is unknown."""
    try:
        transaction.commit()
    except (OperationalError, InterfaceError) as exc:
        with suppress(Exception):
            connection.invalidate()
        if dialect == "sqlite":
            raise StoreUnavailable(unavailable_message(exc)) from exc
        raise SaveUnconfirmed(
            "could not confirm it was saved: the database stopped answering while saving "
            f"({unavailable_message(exc)})") from exc


def _lock_exclusively(connection: Connection, wait_ms: int) -> None:
    """SQLite: this connection's next transaction begins EXCLUSIVE and keeps the file to
    itself until the connection closes, waiting at most `wait_ms` for other users. Set on
    the driver's connection: a statement through SQLAlchemy would begin a transaction."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
    driver.execute("PRAGMA locking_mode=EXCLUSIVE")
    connection.execution_options(**{_ALONE_OPTION: True})


def _begun(connection: Connection) -> Any:
    """The transaction begun; SQLite's busy answer to BEGIN EXCLUSIVE is DatabaseInUse."""
    try:
        return connection.begin()
    except OperationalError as exc:
        if getattr(exc.orig, "sqlite_errorname", "") not in ("SQLITE_BUSY",
                                                             "SQLITE_BUSY_SNAPSHOT"):
            raise
        raise DatabaseInUse("the database is in use: another process has it open (the "
                            "service, or another rpm-logger command): stop it, then "
                            "restore; nothing was restored") from exc


def _set_busy_timeout(connection: Any, ms: int) -> None:
    """busy_timeout for this pooled connection's next BEGIN IMMEDIATE, set only on change."""
    info = connection.connection.info
    if info.get("busy_timeout_ms") != ms:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(ms)}")
        info["busy_timeout_ms"] = ms


def make_engine(url: str, *, sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
                timeouts: Timeouts = DEFAULT_TIMEOUTS, **options: Any) -> Engine:
    """An engine for `url`; SQLite files get WAL, busy_timeout and foreign keys, PostgreSQL
    connections their timeouts (store/postgres.py). `options`: more create_engine arguments.

    hide_parameters: SQLAlchemy's error messages (and its echo, were it ever switched on)
    never carry the SQL parameters, which hold phone numbers and notes.
    """
    if url.startswith("sqlite"):
        _prepare_sqlite_file(url)
        engine = create_engine(url, hide_parameters=True, connect_args={
            "check_same_thread": False, "timeout": sqlite_busy_timeout_ms / 1000}, **options)
        _install_sqlite_hooks(engine, sqlite_busy_timeout_ms)
    else:
        engine = create_engine(url, hide_parameters=True, pool_timeout=timeouts.connect_s,
                               connect_args=timeouts.connect_args(url),
                               **{"pool_size": 10, "max_overflow": 20, **options})
        postgres.install(engine, timeouts)
    _install_nul_guard(engine)
    _install_length_guard(engine)
    audit.refuse_unwritten_records(engine)
    return engine


class Database:
    """One engine and the two kinds of transaction the service uses."""

    def __init__(self, url: str, *, sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
                 timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        self.url = url
        self.engine = make_engine(url, sqlite_busy_timeout_ms=sqlite_busy_timeout_ms,
                                  timeouts=timeouts)
        self._write_engine = as_writer(self.engine)
        # one writer at a time in this process on SQLite (see the module docstring)
        self._writer = threading.Lock() if self.dialect == "sqlite" else None
        self._writer_wait_s = sqlite_busy_timeout_ms / 1000
        self._busy_timeout_ms = sqlite_busy_timeout_ms
        self._timeouts = timeouts
        self._probe_engine: Engine | None = None  # can_write()'s own (_probe_engine_made)
        # told "unavailable" or "conflict" for each transaction the database refused: the
        # app counts them (rpm_database_errors_total); nobody by default
        self.on_error: Callable[[str], None] = _nobody

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self, *, wait_s: float | None = None) -> Iterator[Connection]:
        """One use case's write transaction (Core): commits on success, rolls back on any
        error; on SQLite it begins IMMEDIATE and waits its turn (module docstring).

        `wait_s` is the caller's deadline (a phone call must be answered before Twilio's
        15 s): past it the write is given up with StoreUnavailable and nothing is written,
        then or later. SQLite: the writer queue and busy_timeout share it; PostgreSQL: it is
        the transaction's lock_timeout and statement_timeout, and a server that stops
        answering is cut off soon after it (store/watchdog.py). No commit starts after it."""
        with self._writing(self._write_engine, wait_s) as connection:
            yield connection

    @contextmanager
    def _writing(self, engine: Engine, wait_s: float | None) -> Iterator[Connection]:
        started = time.monotonic()
        with self._translated(conflicts=True), self._writer_turn(wait_s), \
                self._bounded(started, wait_s), \
                self._engine_waiting(engine, started, wait_s).connect() as connection:
            transaction = connection.begin()
            try:
                self._set_local_timeouts(connection, wait_s, locks=True)
                yield connection
                audit.flush(connection)  # the chain's records go last (store/audit.py)
                _still_in_time(started, wait_s)
            except BaseException:
                with suppress(OperationalError, InterfaceError):  # a lost connection
                    transaction.rollback()
                raise
            _commit(connection, transaction, self.dialect)

    def _bounded(self, started: float, wait_s: float | None) -> Any:
        """PostgreSQL: this transaction's connection is cut off a little past the deadline
        if the server has not answered by then (without one, its checkout ping still is)."""
        if self.dialect != "postgresql":
            return nullcontext()
        return postgres.bounded(None if wait_s is None else started + wait_s + _SILENCE_GRACE_S)

    def _set_local_timeouts(self, connection: Connection, wait_s: float | None, *,
                            locks: bool) -> None:
        if wait_s is None or self.dialect != "postgresql":
            return
        ms = max(int(wait_s * 1000), 1)
        if locks:
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")

    def _engine_waiting(self, engine: Engine, started: float, wait_s: float | None) -> Engine:
        """The write engine, told (SQLite) how long BEGIN IMMEDIATE may still wait."""
        if wait_s is None or self.dialect != "sqlite":
            return engine
        left_ms = max(int((wait_s - (time.monotonic() - started)) * 1000), 1)
        return engine.execution_options(**{_WAIT_OPTION: left_ms})

    @contextmanager
    def alone(self, *, wait_ms: int) -> Iterator[Connection]:
        """One write transaction nobody else shares (a restore): commits on success, rolls
        back on any error. SQLite: exclusive locking mode and BEGIN EXCLUSIVE. Every other
        connection that has the file open holds a shared lock on it for as long as it stays
        open (WAL; the service keeps connections in its pool), so this waits `wait_ms` and
        is refused (DatabaseInUse) while one does; once taken, nobody else can even read
        until the transaction ends and the connection is closed (never pooled: its locking
        mode). PostgreSQL: a plain transaction; the caller takes the locks that mean "in
        use" (store/locks.py)."""
        with self._translated(conflicts=True), self.engine.connect() as connection:
            try:
                if self.dialect == "sqlite":
                    _lock_exclusively(connection, wait_ms)
                transaction = _begun(connection)
                try:
                    yield connection
                except BaseException:
                    with suppress(OperationalError, InterfaceError):
                        transaction.rollback()
                    raise
                _commit(connection, transaction, self.dialect)
            finally:
                if self.dialect == "sqlite":
                    connection.invalidate()  # closed: the exclusive lock goes with it

    @contextmanager
    def read(self, *, wait_s: float | None = None) -> Iterator[Connection]:
        """One use case's read transaction (Core); rolled back at the end. `wait_s`: the
        caller's deadline, as for write() (PostgreSQL: statement_timeout and the watchdog)."""
        started = time.monotonic()
        with self._translated(conflicts=False), self._bounded(started, wait_s), \
                self.engine.connect() as connection:
            with connection.begin():
                self._set_local_timeouts(connection, wait_s, locks=False)
                yield connection

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """An ORM session, for tests and one-off scripts that inspect tables; the service and
        the adapters never use it (tests/test_architecture.py)."""
        with self._translated(conflicts=True), self._writer_turn(), \
                Session(self._write_engine, expire_on_commit=False) as session:
            with session.begin():
                yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """An ORM session, for tests and one-off scripts that inspect tables; the service and
        the adapters never use it (tests/test_architecture.py)."""
        with self._translated(conflicts=False), \
                Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def _translated(self, *, conflicts: bool) -> Iterator[None]:
        """Driver errors as the two the service knows: a conflict, or unavailable (a failed
        commit and a passed deadline are unavailable too); each told to `on_error` once."""
        try:
            yield
        except IntegrityError as exc:
            if not conflicts:
                raise
            conflict = StoreConflict("that conflicts with a record saved at the same time; "
                                     "nothing was saved, try again")
            self._tell(conflict)
            raise conflict from exc
        except (OperationalError, InterfaceError) as exc:
            unavailable = StoreUnavailable(unavailable_message(exc))
            self._tell(unavailable)
            raise unavailable from exc
        except (StoreUnavailable, StoreConflict) as exc:
            self._tell(exc)
            raise

    def _tell(self, error: "StoreUnavailable | StoreConflict") -> None:
        """Count `error` once, however many transactions it passes through on its way out."""
        if not getattr(error, _TOLD, False):
            setattr(error, _TOLD, True)
            self.on_error("conflict" if isinstance(error, StoreConflict) else "unavailable")

    @contextmanager
    def _writer_turn(self, wait_s: float | None = None) -> Iterator[None]:
        """This process's turn to write (SQLite); gives up as busy_timeout would, or after
        `wait_s` when the caller has its own deadline."""
        if self._writer is None:
            yield
            return
        if not self._writer_acquired(wait_s):
            raise OperationalError("BEGIN IMMEDIATE", None,
                                   Exception("database is locked (writer queue timed out)"))
        try:
            yield
        finally:
            self._writer.release()

    def _writer_acquired(self, wait_s: float | None) -> bool:
        """Waits for this process's writer lock. The default wait blocks in the kernel; a
        caller's own deadline is kept by polling on time.monotonic(), the clock that caller
        measures its deadline on: a timed lock wait runs on the kernel's monotonic clock, which
        a shifted clock (Debian's faketime, as the date tests use) does not move, so it would
        never run out there."""
        assert self._writer is not None
        if wait_s is None:
            return self._writer.acquire(timeout=self._writer_wait_s)
        deadline = time.monotonic() + min(wait_s, self._writer_wait_s)
        while not self._writer.acquire(blocking=False):
            if time.monotonic() >= deadline:
                return False
            time.sleep(_WRITER_POLL_S)
        return True

    def ping(self, wait_s: float | None = None) -> bool:
        """Whether the database answers a trivial query right now (within `wait_s`)."""
        try:
            with self.read(wait_s=wait_s) as connection:
                connection.exec_driver_sql("SELECT 1")
            return True
        except Exception:  # noqa: BLE001 - any failure means "not healthy"
            return False

    def can_write(self, wait_s: float | None = None) -> bool:
        """Whether a save would succeed right now, asked the way a save asks: a write
        transaction through write()'s path (the writer turn, BEGIN IMMEDIATE, the deadline)
        that writes Alembic's one row over itself and is rolled back: no row, no audit
        record stays, no table the service uses is touched.

        A read-only SQLite file or mount, or a PostgreSQL standby, answers reads but refuses
        the write. On SQLite the probe opens a new connection, as the pool and the CLI do,
        so SQLite and the kernel decide with the service's own user whether the files take
        writes (a database file made immutable under a running server; a folder the service
        cannot write while the files can be, where saves work): a pooled connection opened
        earlier keeps its write access. A full disk is not detected (docs/security.md)."""
        in_memory = self._writer is not None and not sqlite_files(self.url)
        engine = self._write_engine if in_memory else self._probe_engine_made()
        try:
            with self._writing(engine, wait_s) as connection:
                connection.exec_driver_sql(
                    "UPDATE alembic_version SET version_num = version_num")
                raise _ProbeDone
        except _ProbeDone:
            return True
        except Exception:  # noqa: BLE001 - any failure means "cannot write"
            return False

    def _probe_engine_made(self) -> Engine:
        """The probe's own engine, so that a busy process is not reported unhealthy: on
        PostgreSQL a pool of its own (the requests' 30 connections may all be taken while
        every save still succeeds, only later), on SQLite a new connection per probe (above)."""
        if self._probe_engine is None:
            pooling: dict[str, Any] = ({"poolclass": NullPool} if self.dialect == "sqlite"
                                       else {"pool_size": 1, "max_overflow": 1})
            self._probe_engine = make_engine(
                self.url, sqlite_busy_timeout_ms=self._busy_timeout_ms, timeouts=self._timeouts,
                **pooling).execution_options(**{_WRITE_OPTION: True})
        return self._probe_engine

    def health(self, wait_s: float) -> str:
        """'ok' (a save would succeed), 'read-only' (reads only) or 'unavailable', within
        about `wait_s` (the two probes share it)."""
        started = time.monotonic()
        if self.can_write(wait_s):
            return "ok"
        left = max(wait_s - (time.monotonic() - started), 0.05)
        return "read-only" if self.ping(left) else "unavailable"

    def dispose(self) -> None:
        self.engine.dispose()
        if self._probe_engine is not None:
            self._probe_engine.dispose()


_TOLD = "_rpm_told"  # set on an error `on_error` was told of


def _nobody(_kind: str) -> None:
    """`on_error` until someone counts."""


class _ProbeDone(Exception):
    """can_write()'s way out of write(): the transaction is rolled back, as on any error."""


def _still_in_time(started: float, wait_s: float | None) -> None:
    """No commit starts past the caller's deadline: the caller has answered by then (or is
    about to), and whatever it said, nothing of this transaction lands later."""
    if wait_s is not None and time.monotonic() - started > wait_s:
        raise StoreUnavailable(f"database unavailable: no answer within {wait_s:g} s; "
                               "nothing was saved")


def unavailable_message(exc: Exception) -> str:
    """A short reason without the SQL or its parameters (they may hold phone numbers)."""
    detail = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
    return f"database unavailable: {detail}"
