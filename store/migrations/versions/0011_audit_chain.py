"""a tamper-evident audit trail: every audit record carries the hash of the previous one; existing records are chained in id order; a month close records the chain head (issue 16)

Existing records are chained here, in id order, BATCH at a time (keyset pages, so a big
trail never loads into memory), with the same functions new appends use
(store/audit_chain.py). Closes made before this revision recorded no head (NULL).

Revision ID: 0011
Revises: 0010
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types
from store.audit_chain import record_hash

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000

_audit = sa.table(
    "audit_events", sa.column("id", sa.Integer), sa.column("at", store.types.UTCDateTime()),
    sa.column("actor", sa.String), sa.column("action", sa.String),
    sa.column("entity", sa.String), sa.column("entity_id", sa.String),
    sa.column("before", sa.JSON), sa.column("after", sa.JSON),
    sa.column("prev_hash", sa.String), sa.column("hash", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=True))
    _chain_existing(op.get_bind())
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("hash", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
                              nullable=False)
        batch_op.create_index("uq_audit_events_prev_hash", ["prev_hash"], unique=True)
    op.add_column("month_close_events", sa.Column(
        "audit_head", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def _chain_existing(bind: sa.engine.Connection) -> None:
    """Hash every existing record in id order, each linked to the one before it."""
    page = (sa.select(_audit.c.id, _audit.c.at, _audit.c.actor, _audit.c.action,
                      _audit.c.entity, _audit.c.entity_id, _audit.c.before, _audit.c.after)
            .where(_audit.c.id > sa.bindparam("after_id")).order_by(_audit.c.id).limit(BATCH))
    stamp = (_audit.update().where(_audit.c.id == sa.bindparam("row_id"))
             .values(prev_hash=sa.bindparam("prev"), hash=sa.bindparam("digest")))
    previous: str | None = None
    after_id = 0
    while True:
        rows = bind.execute(page, {"after_id": after_id}).all()
        if not rows:
            return
        updates = []
        for row in rows:
            digest = record_hash(dict(row._mapping) | {"prev_hash": previous})
            updates.append({"row_id": row.id, "prev": previous, "digest": digest})
            previous = digest
        bind.execute(stamp, updates)
        after_id = rows[-1].id


def downgrade() -> None:
    # in place (SQLite >= 3.35 drops a column itself): a batch would copy the table and
    # drop the original, which month_close_lines' foreign key refuses once a close has lines
    op.drop_column("month_close_events", "audit_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("uq_audit_events_prev_hash")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
    _resume_the_sequence(op.get_bind())


def _resume_the_sequence(bind: sa.engine.Connection) -> None:
    """From this revision on the chain gives ids (the last id + 1, store/audit.py), so on
    PostgreSQL the id sequence fell behind; the code of 0010 takes ids from it again."""
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text(
            "SELECT setval(pg_get_serial_sequence('audit_events', 'id'), "
            "COALESCE((SELECT max(id) FROM audit_events), 0) + 1, false)"))
