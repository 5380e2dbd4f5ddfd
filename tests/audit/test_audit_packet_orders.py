"""The order behind a patient's monitoring (migration 0012): ordering provider, order date and
last established-patient visit, set by `patient add/update`, checked, audited and shown."""

import pytest
from alembic import command
from sqlalchemy import inspect

from store.db import Database
from store.migrate import alembic_config, upgrade_to_head
from tests.cli.runner import Cli

ORDER_COLUMNS = {"ordering_provider_id", "order_on", "last_visit_on"}


@pytest.fixture
def cli(staffed_cli: Cli) -> Cli:
    return staffed_cli


def test_order_fields_are_set_shown_and_audited(cli: Cli) -> None:
    cli("patient", "add", "P-1042", "--initials", "JD", "--ordered-by", "U02DOC",
        "--order-date", "2026-09-15", "--last-visit", "2026-09-01")
    shown = cli("patient", "show", "P-1042").stdout
    assert "U02DOC" in shown and "2026-09-15" in shown and "2026-09-01" in shown
    cli("patient", "update", "P-1042", "--last-visit", "2026-10-20")
    shown = cli("patient", "show", "P-1042").stdout
    assert "2026-10-20" in shown and "2026-09-15" in shown  # the rest kept


def test_order_fields_not_on_file_say_so(cli: Cli) -> None:
    cli("patient", "add", "P-7")
    shown = cli("patient", "show", "P-7").stdout
    assert shown.count("not on file") >= 3


@pytest.mark.parametrize(("args", "says"), [
    (("--ordered-by", "U01NURSE"), "ordering provider must be a physician or QHP"),
    (("--ordered-by", "U99NOBODY"), "U99NOBODY"),
    (("--order-date", "2099-01-01"), "in the future"),
    (("--last-visit", "2099-01-01"), "in the future"),
    (("--order-date", "2026-13-01"), "is not a date"),
])
def test_bad_order_fields_are_refused_and_change_nothing(cli: Cli, args: tuple[str, ...],
                                                         says: str) -> None:
    cli("patient", "add", "P-1042", "--ordered-by", "U02DOC", "--order-date", "2026-09-15")
    refused = cli("patient", "update", "P-1042", *args, code=2)
    assert says in refused.stderr
    shown = cli("patient", "show", "P-1042").stdout
    assert "U02DOC" in shown and "2026-09-15" in shown
    cli("patient", "add", "P-2", *args, code=2)
    cli("patient", "show", "P-2", code=2)


def test_order_fields_are_in_the_audit_trail(svc_db: Database) -> None:
    from sqlalchemy import select

    from store.tables import audit_events

    with svc_db.engine.connect() as conn:
        rows = conn.execute(select(audit_events.c.action, audit_events.c.after)
                            .where(audit_events.c.action.like("patient.%"))
                            .order_by(audit_events.c.id)).all()
    add, update = rows[0].after, rows[1].after
    assert (add["ordered_by"], add["order_on"], add["last_visit_on"]) == (
        "U02DOC", "2026-09-15", None)
    assert update["last_visit_on"] == "2026-10-20"


@pytest.fixture
def svc_db(cli: Cli, db_url: str) -> Database:
    cli("patient", "add", "P-1042", "--ordered-by", "U02DOC", "--order-date", "2026-09-15")
    cli("patient", "update", "P-1042", "--last-visit", "2026-10-20")
    return Database(db_url)


def test_order_migration_downgrades_and_upgrades(db: Database) -> None:
    def columns() -> set[str]:
        return {c["name"] for c in inspect(db.engine).get_columns("patients")}

    assert ORDER_COLUMNS <= columns()
    config = alembic_config(db.url)
    try:
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0011")
        assert not ORDER_COLUMNS & columns()
    finally:
        upgrade_to_head(db.engine)
    assert ORDER_COLUMNS <= columns()
