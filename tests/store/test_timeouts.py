"""Every PostgreSQL connection is bounded (store/postgres.py), and a caller's deadline holds
on both databases: nothing is committed after it (store/db.py). Issue 27, item 3."""

import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Connection, make_url

from store.db import Database, SaveUnconfirmed, StoreUnavailable
from store.postgres import TCP_USER_TIMEOUT_MS, Timeouts
from tests.blackhole import BlackHoleProxy

SLACK = 0.6  # what a bound may be overrun by on a loaded test machine (s)


def _count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM staff").scalar_one())


def _insert(conn: Connection, slack_id: str) -> None:
    conn.exec_driver_sql(
        "INSERT INTO staff (slack_user_id, name, role, is_admin, active, created_at) "
        f"VALUES ('{slack_id}', 'N', 'qhp', FALSE, TRUE, '2026-11-20 20:00:00')")


def test_no_commit_starts_past_the_callers_deadline(db: Database) -> None:
    """A write that overran its deadline (its caller has answered "not saved") is rolled
    back instead of committed: nothing of it lands later."""
    with pytest.raises(StoreUnavailable, match="no answer within 0.1 s"), \
            db.write(wait_s=0.1) as conn:
        _insert(conn, "U-LATE")
        time.sleep(0.15)
    with db.write(wait_s=5) as conn:  # within its deadline: saved as before
        _insert(conn, "U-IN-TIME")
    assert _count(db) == 1


@pytest.mark.postgres
def test_every_connection_carries_its_timeouts(postgres_url: str) -> None:
    db = Database(postgres_url, timeouts=Timeouts(connect_s=3, statement_ms=4000))
    try:
        with db.read() as conn:
            shown = {name: conn.exec_driver_sql(f"SHOW {name}").scalar_one() for name in (
                "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")}
            params = conn.connection.dbapi_connection.info.get_parameters()
    finally:
        db.dispose()
    assert shown == {"statement_timeout": "4s", "lock_timeout": "4s",
                     "idle_in_transaction_session_timeout": "4s"}
    assert params["connect_timeout"] == "3"
    assert params["tcp_user_timeout"] == str(TCP_USER_TIMEOUT_MS)
    assert params["keepalives"] == "1"


@pytest.mark.postgres
def test_the_urls_own_parameters_win(postgres_url: str) -> None:
    url = make_url(postgres_url).update_query_dict(
        {"connect_timeout": "7", "options": "-c statement_timeout=9000"}).render_as_string(
            hide_password=False)
    db = Database(url)
    try:
        with db.read() as conn:
            statement = conn.exec_driver_sql("SHOW statement_timeout").scalar_one()
            lock = conn.exec_driver_sql("SHOW lock_timeout").scalar_one()
            params = conn.connection.dbapi_connection.info.get_parameters()
    finally:
        db.dispose()
    assert (statement, lock, params["connect_timeout"]) == ("9s", "30s", "7")


@pytest.mark.postgres
def test_a_statement_past_the_servers_timeout_is_unavailable_not_a_hang(
        postgres_url: str) -> None:
    db = Database(postgres_url, timeouts=Timeouts(statement_ms=200))
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="statement timeout"), db.read() as conn:
            conn.exec_driver_sql("SELECT pg_sleep(5)")
        assert time.monotonic() - started < 0.2 + SLACK
        assert db.ping()  # the connection stays usable: the server ended the statement
    finally:
        db.dispose()


@pytest.fixture
def proxied(postgres_url: str) -> Iterator[tuple[BlackHoleProxy, Database]]:
    with BlackHoleProxy(make_url(postgres_url).port or 5432) as proxy:
        url = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
        db = Database(url.render_as_string(hide_password=False),
                      timeouts=Timeouts(connect_s=2))
        try:
            yield proxy, db
        finally:
            proxy.heal()
            db.dispose()


@pytest.mark.postgres
def test_a_path_gone_silent_mid_transaction_is_given_up_at_the_deadline(
        proxied: tuple[BlackHoleProxy, Database]) -> None:
    """The black hole opens between two statements of a write with a deadline: the server
    never sees the second, so no server timeout can end it, and this proxy acknowledges
    everything, so the kernel's cannot either. The watchdog cuts the connection a little past
    the deadline; the pool then starts afresh and the next write, once the path heals, saves."""
    proxy, db = proxied
    before = _count(db)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as cut, db.write(wait_s=0.3) as conn:
        _insert(conn, "U-LOST")
        proxy.black_hole()
        conn.exec_driver_sql("SELECT 1")
    took = time.monotonic() - started
    assert not isinstance(cut.value, SaveUnconfirmed)  # cut before its commit: not saved
    assert took < 0.3 + 0.5 + SLACK  # the deadline and the watchdog's grace
    assert db.engine.pool.checkedout() == 0  # nothing is left waiting on the silent path
    proxy.heal()
    with db.write(wait_s=5) as conn:
        _insert(conn, "U-AFTER")
    assert _count(db) == before + 1  # the cut transaction saved nothing
