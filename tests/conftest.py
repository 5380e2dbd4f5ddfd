"""Shared fixtures: a database on SQLite and on PostgreSQL, a frozen clock, the service.

PostgreSQL tests run when RPM_TEST_POSTGRES_URL is set (e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/test) and skip otherwise; with
--require-postgres (what CI passes) a missing or unreachable server fails them instead.
Each test session creates its own throw-away database on that server and drops it after.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import store.models  # noqa: F401 - table metadata for truncation
from service import Policy, Service, ServiceContext, pins
from store.db import Database
from store.migrate import upgrade_to_head
from tests.fakes.slack_api import SlackApiRecorder

PG_ENV = "RPM_TEST_POSTGRES_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--require-postgres", action="store_true", default=False,
                     help=f"fail, instead of skip, PostgreSQL tests when {PG_ENV} is unset")


@dataclass
class FrozenClock:
    """A clock tests move by hand; starts mid-month in the afternoon, clinic time."""

    now: datetime = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture(autouse=True)
def _slack_journal_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every app a test starts with Slack journals its "Saving…" commands (bot/journal.py)
    into this test's own folder: never the checkout's ./data, never another test's."""
    monkeypatch.setenv("SLACK_JOURNAL_DIR", str(tmp_path / "slack-journal"))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        message = f"{PG_ENV} is not set: PostgreSQL tests need a server"
        if request.config.getoption("--require-postgres"):
            pytest.fail(message)
        pytest.skip(message)
    name = f"rpm_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        if request.config.getoption("--require-postgres"):
            pytest.fail(f"PostgreSQL at {PG_ENV} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    upgrade_to_head(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class _Emptier:
    """Every table emptied and every id sequence back at 1, as TRUNCATE ... RESTART IDENTITY
    would, in one round trip on the test process's pooled engine. DELETE, children first, is
    ~5x faster than TRUNCATE on tables this small (TRUNCATE gives each table a new file: ~0.4
    s a test); `setval` is ~4x faster than ALTER SEQUENCE ... RESTART (no catalogue change);
    the statements are built once, not read from the catalogue each test; and a pooled
    connection saves a backend start (~5 ms) each test: ~15 -> 2 ms a test, ~1,700
    PostgreSQL tests."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        tables = [t.name for t in SQLModel.metadata.sorted_tables]
        with self.engine.connect() as connection:
            sequences = connection.execute(text(
                "SELECT pg_get_serial_sequence(quote_ident(table_name), column_name) "
                "FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = ANY(:tables)"), {"tables": tables}).scalars()
            restarts = ", ".join(f"setval('{seq}', 1, false)" for seq in sequences if seq)
        self.sql = "; ".join([f'DELETE FROM "{table}"' for table in reversed(tables)]
                             + ([f"SELECT {restarts}"] if restarts else []))

    def __call__(self) -> None:
        with self.engine.begin() as connection:
            connection.exec_driver_sql(self.sql)


@pytest.fixture(scope="session")
def postgres_database(postgres_url: str) -> Iterator[Database]:
    """One Database (engine and pool) for every PostgreSQL test of this process: a new
    engine per test cost a backend start and the dialect's first-connect queries (~12 ms)
    each test. Each test still starts on empty tables (`postgres_emptier`); what a test
    changes on the object (a patched method, an event listener) it undoes itself."""
    database = Database(postgres_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def postgres_emptier(postgres_database: Database) -> _Emptier:
    return _Emptier(postgres_database.engine)


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database brought to the newest schema once per test process; each
    test gets a copy of it (a byte copy of a migrated file is that migrated database, without
    running every migration again: ~1.5 s a test)."""
    path = tmp_path_factory.mktemp("migrated") / "rpm.db"
    database = Database(f"sqlite:///{path}")
    upgrade_to_head(database.engine)
    database.dispose()  # the last connection's close checkpoints the WAL into the file
    assert not path.with_name("rpm.db-wal").exists()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "rpm.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_file"), path)
        yield f"sqlite:///{path}"
        return
    request.getfixturevalue("postgres_emptier")()
    yield request.getfixturevalue("postgres_url")


@pytest.fixture
def db(request: pytest.FixtureRequest, db_url: str) -> Iterator[Database]:
    if db_url.startswith("postgresql"):
        yield request.getfixturevalue("postgres_database")  # emptied by db_url
        return
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def policy() -> Policy:
    return Policy()


@pytest.fixture
def svc(db: Database, clock: FrozenClock, policy: Policy) -> Service:
    return Service(ServiceContext(db, policy, clock))


@pytest.fixture
def slack_api() -> Iterator[SlackApiRecorder]:
    """A recording Slack Web API on loopback; point SLACK_API_URL at .base_url."""
    recorder = SlackApiRecorder().start()
    yield recorder
    recorder.stop()


# A voice PIN's hash costs ~50 ms by design (service/pins.py): ~500 of them made the voice
# tests' largest cost. Tests hash at a trivial cost, stored in the hash as production stores
# its own (pin_matches reads the cost from the hash, so the same code runs). Tests whose point
# is the hash's cost or its slowness (the PIN race: the comparison must outlast the lock)
# are marked `real_pin_cost`.
TEST_SCRYPT_N = 2**4


@pytest.fixture(autouse=True)
def _cheap_pin_hashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("real_pin_cost") is None:
        monkeypatch.setattr(pins, "SCRYPT_N", TEST_SCRYPT_N)
