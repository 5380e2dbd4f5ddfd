"""Migration 0009 on SQLite and PostgreSQL: it downgrades with staff (referenced by every
table) and their PINs and wrong PINs in place, keeping every staff row, and upgrades again."""

from alembic import command
from sqlalchemy import inspect

from service import Policy, Service, ServiceContext
from store.db import Database
from store.migrate import alembic_config, upgrade_to_head
from tests.conftest import FrozenClock
from tests.service.helpers import NURSE, log, seed
from tests.voice.helpers import PIN, attempt, staff_pk

VOICE_COLUMNS = {"voice_pin_hash", "voice_locked_until", "voice_cleared_at"}


def _staff_columns(db: Database) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("staff")}


def test_voice_access_migration_downgrades_and_upgrades(db: Database) -> None:
    svc = Service(ServiceContext(db, Policy(), FrozenClock()))
    seed(svc)
    log(svc, "10m")
    svc.voice_access.set_pin(NURSE, PIN, actor="test")
    assert attempt(svc, staff_pk(svc, NURSE), "0000").reason == "wrong"
    config = alembic_config(db.url)
    try:
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0008")
        assert not VOICE_COLUMNS & _staff_columns(db)
        assert "voice_pin_attempts" not in inspect(db.engine).get_table_names()
    finally:
        upgrade_to_head(db.engine)
    assert VOICE_COLUMNS <= _staff_columns(db)
    assert len(svc.staff.list()) == 4
    assert svc.months.summary("P-1042").total_seconds == 600
    assert not svc.staff.get(NURSE).has_voice_pin  # a downgrade forgets PINs: set them again
