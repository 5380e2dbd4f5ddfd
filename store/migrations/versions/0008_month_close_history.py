"""month close history: every close and reopen kept, each close with its per-patient record

`month_closes` held one row per closed month and nothing about what was billed. It becomes
`month_close_events` (one row per close or reopen) and `month_close_lines` (what each
patient's month supported at that close). Months closed before this revision had no record:
their close is kept with `record = 'pending'`, and the service rebuilds the record with the
month rules on first start after the upgrade (`MonthCloseService.reconstruct_pending`),
marked `reconstructed`: it is what the entries support when rebuilt, not what was read at close.

Voids of closed months kept their amendment reason only in the audit trail; it becomes a
column (`void_amendment_reason`), filled from the audit rows of past voids.

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    events = op.create_table(
        "month_close_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("record", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("recorded_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_month_close_events_month", "month_close_events", ["month", "id"])
    op.create_table(
        "month_close_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("codes", sa.JSON(), nullable=False),
        sa.Column("total_seconds", sa.Integer(), nullable=False),
        sa.Column("live_interactions", sa.Integer(), nullable=False),
        sa.Column("expected_cents", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["month_close_events.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "patient_id",
                            name="uq_month_close_lines_event_patient"),
    )
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("void_amendment_reason",
                                      sqlmodel.sql.sqltypes.AutoString(length=500),
                                      nullable=True))
    bind = op.get_bind()
    old = sa.table("month_closes", sa.column("month", sa.String),
                   sa.column("closed_at", store.types.UTCDateTime()),
                   sa.column("closed_by", sa.String))
    closes = bind.execute(sa.select(old.c.month, old.c.closed_at, old.c.closed_by)
                          .order_by(old.c.month)).all()
    if closes:
        op.bulk_insert(events, [
            {"month": month, "action": "close", "at": at, "by": by, "record": "pending"}
            for month, at, by in closes])
    _keep_void_amendment_reasons(bind)
    op.drop_table("month_closes")


def _keep_void_amendment_reasons(bind: sa.engine.Connection) -> None:
    """Past amended voids: the reason the audit row kept goes onto the entry."""
    audit = sa.table("audit_events", sa.column("action", sa.String),
                     sa.column("entity_id", sa.String), sa.column("after", sa.JSON))
    entries = sa.table("time_entries", sa.column("id", sa.Integer),
                       sa.column("void_amendment_reason", sa.String))
    rows = bind.execute(sa.select(audit.c.entity_id, audit.c.after)
                        .where(audit.c.action == "entry.void")).all()
    for entity_id, after in rows:
        reason = (after or {}).get("amendment_reason")
        if reason and str(entity_id).isdigit():
            bind.execute(entries.update().where(entries.c.id == int(entity_id))
                         .values(void_amendment_reason=str(reason)[:500]))


def downgrade() -> None:
    op.create_table(
        "month_closes",
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("closed_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.PrimaryKeyConstraint("month"),
    )
    bind = op.get_bind()
    events = sa.table("month_close_events", sa.column("id", sa.Integer),
                      sa.column("month", sa.String), sa.column("action", sa.String),
                      sa.column("at", store.types.UTCDateTime()), sa.column("by", sa.String))
    latest: dict[str, tuple[str, object, str]] = {}
    for month, action, at, by in bind.execute(
            sa.select(events.c.month, events.c.action, events.c.at, events.c.by)
            .order_by(events.c.id)).all():
        latest[month] = (action, at, by)
    closed = [{"month": m, "closed_at": at, "closed_by": by}
              for m, (action, at, by) in latest.items() if action == "close"]
    if closed:
        old = sa.table("month_closes", sa.column("month", sa.String),
                       sa.column("closed_at", store.types.UTCDateTime()),
                       sa.column("closed_by", sa.String))
        op.bulk_insert(old, closed)
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.drop_column("void_amendment_reason")
    op.drop_table("month_close_lines")
    op.drop_index("ix_month_close_events_month", table_name="month_close_events")
    op.drop_table("month_close_events")
