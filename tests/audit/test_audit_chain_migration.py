"""Migration 0011 chains an existing trail in id order (in pages), and downgrades cleanly."""

from datetime import UTC, date, datetime, timedelta

from alembic import command
from sqlalchemy import inspect, select, text

from service import Policy, Service, ServiceContext
from service.patients import PatientFields
from store.audit_chain import record_hash
from store.db import Database
from store.migrate import alembic_config, upgrade_to_head
from store.tables import audit_events
from tests.conftest import FrozenClock
from tests.service.helpers import DOCTOR, log, seed

OLD_ROWS = 2_500  # more than one page of the migration's 1,000


def _columns(db: Database, table: str) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns(table)}


def test_the_migration_chains_an_existing_trail_in_id_order(db: Database) -> None:
    svc = Service(ServiceContext(db, Policy(), FrozenClock()))
    seed(svc)
    log(svc, "20m", note="before the chain existed")
    config = alembic_config(db.url)
    try:
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0010")
        assert not {"prev_hash", "hash"} & _columns(db, "audit_events")
        assert "audit_head" not in _columns(db, "month_close_events")
        # what the code of 0010 wrote: no id given (the sequence), times out of id order
        start = datetime(2026, 11, 1)
        with db.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO audit_events (at, actor, action, entity, entity_id, before, "
                "after) VALUES (:at, 'cli:old', 'staff.update', 'staff', '1', NULL, :after)"),
                [{"at": start - timedelta(minutes=n), "after": f'{{"n": {n}, "note": "é"}}'}
                 for n in range(OLD_ROWS)])
    finally:
        upgrade_to_head(db.engine)
    with db.read() as conn:
        rows = conn.execute(select(audit_events).order_by(audit_events.c.id)).all()
    assert len(rows) == 6 + OLD_ROWS
    assert rows[0].prev_hash is None
    for before, row in zip(rows, rows[1:], strict=False):
        assert row.prev_hash == before.hash
        assert row.hash == record_hash(row._mapping)
    assert rows[-1].after == {"n": OLD_ROWS - 1, "note": "é"}
    assert rows[-1].at == (start - timedelta(minutes=OLD_ROWS - 1)).replace(tzinfo=UTC)
    # the downgrade below 0012 dropped the order columns: put the order back on record
    svc.patients.update("P-1042", PatientFields(ordered_by=DOCTOR, order_on=date(2026, 9, 1)),
                        actor="test")
    report = svc.audit_trail.verify()
    assert report.clean, report.findings
    # appends go on from the migrated head (the order's update above is the first)
    log(svc, "5m")
    with db.read() as conn:
        first_new = conn.execute(select(audit_events).where(audit_events.c.id > rows[-1].id)
                                 .order_by(audit_events.c.id)).first()
    assert first_new is not None and first_new.prev_hash == rows[-1].hash
    assert svc.audit_trail.verify().clean
