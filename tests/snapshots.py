"""Seeded databases, built once per test process and copied into each test's fresh database.

Most tests start from the same seed (tests.service.helpers.seed, the telephony and
reminder clinics, the web month): staff, patients, a month of entries, written through the
service so each write leaves its audit record. Written through the service each time, that
costs every PostgreSQL test one commit (and fsync) per write, ~50 ms, and every SQLite test
~15 ms. The first test of a process that asks for a seed builds it through the service as
before; its rows (every table, the audit trail with its hash chain included) and PostgreSQL's
id sequences are kept, and later tests get them copied in, in one transaction.

A copy is only ever made into an empty database (no audit record yet: every write leaves
one), with the same frozen instant and the same policy as the build; otherwise the seed is
built through the service, as before. So a test that moves the clock or changes a setting
before seeding gets what it asked for."""

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Table, exists, insert, select, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import store.models  # noqa: F401 - every table's metadata
from service import Service
from store.db import Database
from store.tables import audit_events

T = TypeVar("T")


@dataclass(frozen=True)
class _Seeded:
    rows: tuple[tuple[Table, tuple[dict[str, Any], ...]], ...]
    sequences: tuple[tuple[str, int, bool], ...]  # PostgreSQL: (name, last_value, is_called)
    value: Any  # what the build returned (ids, say)
    now: Any  # the frozen instant after the build (a build may move the clock)


_SEEDED: dict[tuple[str, str, str], _Seeded] = {}


def seeded(svc: Service, name: str, build: Callable[[Service], T]) -> T:
    """`build(svc)`, or the rows an earlier build of `name` left, copied into svc's
    database; returns what the build returned."""
    return seeded_into(svc.ctx.db, svc.ctx.clock, f"{name} {svc.ctx.policy!r}",
                       lambda: build(svc))


def seeded_into(db: Database, clock: Any, name: str, build: Callable[[], T]) -> T:
    """`build()` writing into `db` (through the service or the CLI, on the frozen `clock`),
    or the rows an earlier build of `name` left, copied in. `name` must say every input of
    the build besides the dialect and the instant (the policy, the CLI's settings)."""
    if not hasattr(clock, "advance") or not hasattr(clock, "now"):
        return build()  # a clock that moves by itself: no copy could stand for the build
    key = (db.dialect, name, clock().isoformat())
    saved = _SEEDED.get(key)
    if saved is not None and _copied(db, saved):
        clock.now = saved.now
        return copy.deepcopy(saved.value)  # type: ignore[no-any-return]
    if saved is not None or not _empty(db):
        return build()
    value = build()
    _SEEDED[key] = _read(db, value, clock())
    return value


def _empty(db: Database) -> bool:
    with db.engine.connect() as conn:
        return not conn.execute(select(exists().select_from(audit_events))).scalar()


def _tables() -> list[Table]:
    return list(SQLModel.metadata.sorted_tables)


def _sequences(conn: Connection) -> list[str]:
    names = [t.name for t in _tables() if "id" in t.c]
    found = conn.execute(text(
        "SELECT pg_get_serial_sequence(quote_ident(t), 'id') FROM unnest(CAST(:names AS "
        "text[])) AS t"), {"names": names}).scalars()
    return [name for name in found if name]


def _read(db: Database, value: Any, now: Any) -> _Seeded:
    with db.engine.connect() as conn:
        rows = tuple((table, tuple(dict(r._mapping) for r in conn.execute(
            select(table).order_by(*table.primary_key.columns))))
            for table in _tables())
        sequences: tuple[tuple[str, int, bool], ...] = ()
        if db.dialect == "postgresql":
            sequences = tuple(
                (name, *conn.execute(text(f"SELECT last_value, is_called FROM {name}")).one())
                for name in _sequences(conn))
    return _Seeded(tuple((t, r) for t, r in rows if r), sequences, value, now)


def _copied(db: Database, saved: _Seeded) -> bool:
    """The saved rows inserted in one transaction, only into an empty database."""
    with db.engine.begin() as conn:
        if conn.execute(select(exists().select_from(audit_events))).scalar():
            return False
        for table, rows in saved.rows:
            conn.execute(insert(table), list(rows))
        for name, last_value, is_called in saved.sequences:
            conn.execute(text("SELECT setval(CAST(:name AS regclass), :value, :called)"),
                         {"name": name, "value": last_value, "called": is_called})
    return True


def seeded_by_cli(cli: Any, *commands: tuple[str, ...]) -> None:
    """`commands` run through the in-process CLI (`tests.cli.runner.Cli` on its frozen
    clock), or the rows an earlier run of the same commands left, copied in. Every CLI
    command builds its own service and engine, so a fixture of six commands costs six
    start-ups each test (~0.2 s on PostgreSQL) without this."""
    if cli.process or cli.clock is None:
        for args in commands:
            cli(*args)
        return
    def build() -> None:
        for args in commands:
            cli(*args)

    settings = sorted((k, v) for k, v in cli.env.items() if k != "DATABASE_URL")
    db = Database(cli.env["DATABASE_URL"])
    try:
        seeded_into(db, cli.clock, f"cli {commands!r} {settings!r}", build)
    finally:
        db.dispose()
