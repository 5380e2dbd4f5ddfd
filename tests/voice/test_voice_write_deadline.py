"""A voice turn has a write deadline below Twilio's 15 s webhook timeout (outside nurse
review: with another writer holding the lock, a save said "not saved" only after SQLite's
30 s busy_timeout, and the write could land after the caller hung up).

A real competing writer holds the lock the save needs (SQLite: a second connection in
BEGIN IMMEDIATE; PostgreSQL: the call's session row FOR UPDATE); the reply must come within
the deadline, say not saved, keep the turn, and nothing may land after the blocker lets go."""

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from sqlalchemy import text
from sqlmodel import select

from service import voice_menu
from service.errors import StoreUnavailable
from service.voice_access import PinReservation
from store.db import Database
from store.models import TimeEntry, VoicePinAttempt
from store.voice_access import PIN_CHECK_LOCK_KEY
from tests.telephony.conftest import TwilioApp
from tests.voice.conftest import NURSE_PIN
from tests.voice.phone import Phone

DEADLINE_MS = 1500
SLACK_S = 1.5  # HTTP, the read that finds the step, thread hand-offs on a loaded machine

Blocker = Callable[[str], AbstractContextManager[None]]


@pytest.fixture
def deadline_app(menu_app_with: Callable[..., TwilioApp]) -> TwilioApp:
    return menu_app_with(voice_write_deadline_ms=DEADLINE_MS)


@pytest.fixture
def blocker(db: Database) -> Blocker:
    """Holds the lock a turn of call `sid` needs, from outside this process's queue."""
    @contextmanager
    def hold(sid: str) -> Iterator[None]:
        if db.dialect == "sqlite":
            with _sqlite_writer_held(db):
                yield
            return
        with db.engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT 1 FROM voice_sessions WHERE call_sid = :sid FOR UPDATE"),
                         {"sid": sid})
            yield
    return hold


@contextmanager
def _sqlite_writer_held(db: Database) -> Iterator[None]:
    """SQLite's one writer lock, held by a second connection (another process's writer)."""
    raw = sqlite3.connect(db.engine.url.database or "", isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        raw.execute("ROLLBACK")
        raw.close()


def _entries(app: TwilioApp) -> list[TimeEntry]:
    with app.service.ctx.db.read_session() as session:
        return list(session.exec(select(TimeEntry)))


def _to_confirm(app: TwilioApp) -> Phone:
    call = Phone(app, "+16175550101").dial().press(NURSE_PIN)
    call.press("1").press("1042").press("12").press("1")
    assert "Press 1 to save" in call.said
    return call


@pytest.mark.real_server  # the deadline as Twilio's HTTP request waits it out
def test_a_save_behind_a_busy_writer_says_not_saved_within_the_deadline(
        deadline_app: TwilioApp, blocker: Blocker) -> None:
    call = _to_confirm(deadline_app)
    save_path = call.action
    with blocker(call.sid):
        started = time.monotonic()
        call.press("1")
        took = time.monotonic() - started
        assert took < DEADLINE_MS / 1000 + SLACK_S, took
        assert call.said.startswith("The system is busy, so that was not saved.")
        assert "Press 1 to save, or 2 to start over." in call.said
        # what is being saved, read again before the choice (outside nurse review)
        assert "not saved. Please try again. Patient P 1 0 4 2, J D, 12 minutes, review, " \
            "today. Press 1 to save" in call.said
        assert call.action == save_path  # the turn was not taken: the same step again
        assert _entries(deadline_app) == []
    time.sleep(0.3)
    assert _entries(deadline_app) == []  # the write that gave up never lands
    call.press("1")
    assert call.said.startswith("Saved.")
    again = call.again(save_path, Digits="1", FinishedOnKey="#", msg="Gather End")
    assert again.said.startswith("Saved.")  # Twilio's retry: the same reply
    assert len(_entries(deadline_app)) == 1


@pytest.mark.real_server  # the deadline as Twilio's HTTP request waits it out
def test_a_menu_key_behind_a_busy_writer_is_asked_again_without_not_saved(
        deadline_app: TwilioApp, blocker: Blocker) -> None:
    call = Phone(deadline_app, "+16175550101").dial().press(NURSE_PIN)
    with blocker(call.sid):
        call.press("1")
    assert call.said.startswith("The system is busy. Please try again.")
    assert "not saved" not in call.said and "Main menu" in call.said
    call.press("1")
    assert "Enter the patient number" in call.said


def test_a_write_with_its_own_wait_gives_up_within_it_and_writes_nothing(
        db: Database, blocker: Blocker) -> None:
    """store/db.py: `write(wait_s=)` bounds the lock wait; later writes wait as before."""
    if db.dialect == "sqlite":
        with blocker("any"):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable), db.write(wait_s=0.4) as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = 'x'"))
            assert time.monotonic() - started < 0.4 + SLACK_S
    else:
        with db.engine.connect() as holder, holder.begin():
            holder.execute(text("LOCK TABLE alembic_version IN EXCLUSIVE MODE"))
            started = time.monotonic()
            with pytest.raises(StoreUnavailable), db.write(wait_s=0.4) as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = 'x'"))
            assert time.monotonic() - started < 0.4 + SLACK_S
    with db.read() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() != "x"
    with db.write() as conn:  # the default wait is back: an ordinary write goes through
        conn.execute(text("SELECT 1"))


def test_a_write_with_its_own_wait_gives_up_in_this_process_queue_too(db: Database) -> None:
    """SQLite: a writer of this process holding its turn (another request's save) bounds the
    wait just as a writer of another process does; PostgreSQL: a row lock of this process."""
    import threading
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.write() as conn:  # PostgreSQL: the row the waiting write needs, locked
            conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable), db.write(wait_s=0.4) as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'x'"))
        assert time.monotonic() - started < 0.4 + SLACK_S
    finally:
        release.set()
        holder.join()
    with db.read() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() != "x"


# -- a PIN turn (issue 27): reserved, compared, settled, all within the one deadline ------


def _attempt_rows(app: TwilioApp) -> list[tuple[bool]]:
    """(pending,) of every wrong-PIN row."""
    with app.service.ctx.db.read_session() as session:
        return [(row.pending,) for row in session.exec(select(VoicePinAttempt))]


@pytest.mark.real_server  # the deadline as Twilio's HTTP request waits it out
def test_a_pin_behind_a_held_pin_check_lock_is_asked_again(
        deadline_app: TwilioApp, db: Database) -> None:
    """Another PIN check holds the clinic's PIN-check lock (PostgreSQL: the advisory lock;
    SQLite: the writer lock): this PIN is not compared nor counted, and asked again."""
    call = Phone(deadline_app, "+16175550101").dial()
    with _pin_check_lock_held(db):
        call.press(NURSE_PIN)
        assert call.said == ("The system is busy. Please try again. Please enter your voice "
                             "PIN, then press pound.")
    assert _attempt_rows(deadline_app) == []
    assert "Main menu" in call.press(NURSE_PIN).said


@contextmanager
def _pin_check_lock_held(db: Database) -> Iterator[None]:
    if db.dialect == "sqlite":
        with _sqlite_writer_held(db):
            yield
        return
    with db.engine.connect() as conn, conn.begin():
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PIN_CHECK_LOCK_KEY})
        yield


def test_a_pin_compared_past_the_deadline_is_settled_by_the_next_try(
        menu_app_with: Callable[..., TwilioApp], monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison (the slow hash, on a loaded machine) outlasts the whole turn's
    deadline: the settle is not begun and the caller is asked again at the same turn; the
    attempt stays reserved (counted), and keying again settles that same one."""
    app = menu_app_with(voice_write_deadline_ms=1000)
    real, slowed = voice_menu.compare_pin, []

    def compare_past_the_deadline(reservation: PinReservation, digits: str) -> bool:
        if not slowed:
            slowed.append(digits)
            time.sleep(1.05)  # longer than the turn's 1000 ms, whatever else took
        return real(reservation, digits)

    monkeypatch.setattr(voice_menu, "compare_pin", compare_past_the_deadline)
    call = Phone(app, "+16175550101").dial()
    pin_path = call.action
    call.press("11111")
    assert call.said == ("The system is busy. Please try again. Please enter your voice PIN, "
                         "then press pound.")
    assert call.action == pin_path and _attempt_rows(app) == [(True,)]
    call.press("11111")
    assert call.said.startswith("That PIN is not right.")
    assert _attempt_rows(app) == [(False,)]
