"""A save whose commit lost its answer is "could not confirm", never "not saved" (outside
attack: PostgreSQL cut mid-commit stored one of 200 entries while the nurse was told "not
saved — try again… nothing was half-written"; logging again would count it twice).

The commit's answer is lost on the real driver (the dialect's commit runs, or not, then the
driver's own error is raised), over real signed Slack requests."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from service import Service
from store.db import Database, SaveUnconfirmed, StoreUnavailable
from tests.bot.conftest import SlackSender
from tests.bot.helpers import entries
from tests.conftest import FrozenClock


@contextmanager
def commit_answer_lost(db: Database, *, committed: bool) -> Iterator[None]:
    """The next commit's answer is lost: after the server committed (`committed`) or
    before; later commits go through."""
    dialect = db.engine.dialect
    real = dialect.do_commit
    error: type[Exception] = psycopg.OperationalError if db.dialect == "postgresql" \
        else sqlite3.OperationalError
    lost_already: list[bool] = []

    def lost(dbapi_connection: Any) -> None:
        if lost_already:
            return real(dbapi_connection)
        lost_already.append(True)
        if committed:
            real(dbapi_connection)
        raise error("server closed the connection unexpectedly")

    dialect.do_commit = lost  # type: ignore[method-assign]
    try:
        yield
    finally:
        dialect.do_commit = real  # type: ignore[method-assign]


# SQLite commits in this process, atomically: a failed commit is known rolled back ("not
# saved", the last test); only PostgreSQL's commit can lose its answer.
POSTGRES_ONLY = pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)


@POSTGRES_ONLY
@pytest.mark.parametrize("committed", [True, False])
def test_a_lost_commit_answer_says_could_not_confirm_then_a_repeat_is_flagged(
        slack: SlackSender, seeded: Service, clock: FrozenClock, committed: bool) -> None:
    with commit_answer_lost(seeded.ctx.db, committed=committed):
        sent = slack.command("log P-1042 12m review")
    assert "could not confirm* your time was saved" in sent.text
    assert "not saved" not in sent.text and "half-written" not in sent.text
    assert "Check `/rpm status` before logging it again" in sent.text
    assert len(entries(seeded)) == (1 if committed else 0)

    clock.advance(minutes=5)  # the nurse checks, or not, and logs it again
    again = slack.command("log P-1042 12m review")
    assert "Saved entry" in again.text
    if committed:
        assert "entry #1 is identical, so the save I could not confirm earlier was saved " \
            "after all" in again.text
        assert any(b.get("type") == "actions" for b in again.body["blocks"])  # Undo
    else:
        assert "double submission" not in again.text
    assert len(entries(seeded)) == (2 if committed else 1)


def test_without_an_unconfirmed_save_a_repeat_minutes_later_is_no_double(
        slack: SlackSender, seeded: Service, clock: FrozenClock) -> None:
    """The widened check belongs to the author whose save could not be confirmed only."""
    slack.command("log P-1042 12m review")
    clock.advance(minutes=5)
    assert "double submission" not in slack.command("log P-1042 12m review").text


def test_the_store_says_unconfirmed_on_postgresql_and_not_saved_on_sqlite(db: Database) -> None:
    """SQLite commits in this process, atomically: a failed commit is known rolled back."""
    from sqlalchemy import text

    expected = SaveUnconfirmed if db.dialect == "postgresql" else StoreUnavailable
    with commit_answer_lost(db, committed=False), pytest.raises(expected) as raised:
        with db.write() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
    assert (type(raised.value) is SaveUnconfirmed) == (db.dialect == "postgresql")
    with db.write() as conn:  # the pool recovers: the next write goes through
        conn.execute(text("SELECT 1"))
