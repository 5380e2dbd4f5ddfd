"""What every PostgreSQL connection is given so that no wait is unbounded (issue 27: a black
hole on the database path hung /healthz for 70 s and a patient's call past Twilio's 15 s).

A wait can hang in three places, each bounded here:
- at the server: `statement_timeout`, `lock_timeout` and `idle_in_transaction_session_timeout`
  (libpq `options`), so a stuck statement, a lock nobody releases, or a transaction whose
  client vanished (its locks held) ends on the server's side;
- on the network: `connect_timeout`, TCP keepalives and `tcp_user_timeout`, so the kernel
  gives a connection up when the server's side stops acknowledging (a dropped path), even in
  the middle of a query, where statement_timeout cannot help (the server never saw it);
- in the client: `pool_timeout` for a free pooled connection, a ping on checkout, and, for a
  caller with its own deadline (a phone call, /healthz), the watchdog (store/watchdog.py),
  which also covers a silent path the kernel cannot see (a pooler acknowledging for a server
  that is gone).

Values in DATABASE_URL's own query (`?connect_timeout=10&options=...`) win over these.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import InvalidatePoolError

from store.watchdog import WATCHDOG, Guard

# the network's bounds are not settings: they only fire on a path that is gone, never on a
# slow query (the server's kernel acknowledges while the server works)
TCP_USER_TIMEOUT_MS = 10_000  # unacknowledged data (a query, a keepalive probe): 10 s
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 5, 2, 3  # an idle socket: ~11 s

_FRESH = "rpm_fresh"  # a connection just made needs no ping on its first checkout


@dataclass(frozen=True)
class Timeouts:
    """DATABASE_CONNECT_TIMEOUT_S and DATABASE_STATEMENT_TIMEOUT_MS (README, settings)."""

    connect_s: int = 5  # libpq's connect_timeout (2 at least), a pooled connection's wait
    statement_ms: int = 30_000  # statement_timeout, lock_timeout, idle in transaction

    def connect_args(self, url: str) -> dict[str, Any]:
        """psycopg's connection parameters, except those the URL gives itself."""
        given = make_url(url).query
        ms = self.statement_ms
        ours: dict[str, Any] = {
            "connect_timeout": self.connect_s, "keepalives": 1,
            "keepalives_idle": KEEPALIVE_IDLE_S, "keepalives_interval": KEEPALIVE_INTERVAL_S,
            "keepalives_count": KEEPALIVE_COUNT, "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
        }
        args = {key: value for key, value in ours.items() if key not in given}
        options = (f"-c statement_timeout={ms} -c lock_timeout={ms} "
                   f"-c idle_in_transaction_session_timeout={ms}")
        own = given.get("options")  # later -c win: the URL's own come last
        args["options"] = f"{options} {own}" if isinstance(own, str) else options
        return args


DEFAULT_TIMEOUTS = Timeouts()


@dataclass
class _Bound:
    """This thread's deadline for the transaction it is opening, and what it armed."""

    at: float | None
    guards: list[Guard] = field(default_factory=list)


_local = threading.local()


@contextmanager
def bounded(at: float | None) -> Iterator[None]:
    """Connections this thread checks out inside the block are shut down at `at`
    (time.monotonic()) if still in use; None: only the checkout ping is bounded."""
    previous = getattr(_local, "bound", None)
    _local.bound = bound = _Bound(at)
    try:
        yield
    finally:
        _local.bound = previous
        for guard in bound.guards:
            WATCHDOG.disarm(guard)


def install(engine: Engine, timeouts: Timeouts) -> None:
    """The checkout ping and the caller's deadline on `engine` (PostgreSQL). Replaces
    SQLAlchemy's pool_pre_ping, whose ping nothing bounds: behind a silent path it waited
    forever, before any deadline of ours could start."""

    @event.listens_for(engine, "connect")
    def _made(_dbapi_connection: Any, record: Any) -> None:
        record.info[_FRESH] = True

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        bound: _Bound = getattr(_local, "bound", None) or _Bound(None)
        fileno = dbapi_connection.fileno()
        if not record.info.pop(_FRESH, False):
            _ping(engine, dbapi_connection, fileno, bound.at, timeouts.connect_s)
        if bound.at is not None:
            bound.guards.append(WATCHDOG.arm(fileno, bound.at))


def _ping(engine: Engine, dbapi_connection: Any, fileno: int, at: float | None,
          limit_s: float) -> None:
    """A pooled connection answers `SELECT 1` within the caller's deadline (and at most
    DATABASE_CONNECT_TIMEOUT_S), or the whole pool is made anew, as after a restart."""
    ping_at = time.monotonic() + limit_s
    guard = WATCHDOG.arm(fileno, ping_at if at is None else min(at, ping_at))
    try:
        engine.dialect.do_ping(dbapi_connection)
    except Exception as exc:  # noqa: BLE001 - any failure: this connection is gone
        raise InvalidatePoolError(f"pooled connection did not answer: {exc}") from exc
    finally:
        with suppress(Exception):
            WATCHDOG.disarm(guard)


def superuser_schema(engine: Engine) -> tuple[str, str] | None:
    """(role, schema) when the engine connects as a PostgreSQL superuser: its tables land in
    that schema (`public` unless its search_path says otherwise), owned by the superuser,
    not in the app role's own schema (deploy/postgres-setup.sql). None for any other role,
    and on SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        role, schema, superuser = connection.execute(text(
            "SELECT current_user, current_schema(), rolsuper FROM pg_roles "
            "WHERE rolname = current_user")).one()
    return (role, schema or "public") if superuser else None
