"""clock-timed entries: whether an entry's start and end were actually given

A timer, a captured call or a log with an explicit start (`--at`) is clock-timed; a log with
no time is estimated (it ends "now" by convention). Overlap rules apply to clock-timed entries
only (docs/billing-rules.md). Existing rows: captured calls (source twilio) and timer entries
(external reference `timer:...`) are clock-timed, everything else estimated; a past `--at`
log cannot be told from an estimated one, so it stays estimated (summed, never merged).

The month scan's covering index gains `ended_at` (entries crossing midnight into the month
are split, item 7) and `clock_timed`.

Revision ID: 0007
Revises: 0006
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_COLUMNS = ["patient_id", "started_at", "voided_at", "staff_role", "live",
               "duration_seconds", "staff_id", "overlaps_entry_id"]
MONTH_COLUMNS = ["patient_id", "started_at", "ended_at", "voided_at", "staff_role", "live",
                 "clock_timed", "duration_seconds", "staff_id", "overlaps_entry_id"]


def upgrade() -> None:
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clock_timed", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.execute(sa.text(
        "UPDATE time_entries SET clock_timed = :yes "
        "WHERE source = 'twilio' OR external_ref LIKE 'timer:%'"
    ).bindparams(yes=True))
    op.drop_index("ix_time_entries_patient_month", table_name="time_entries")
    op.create_index("ix_time_entries_patient_month", "time_entries", MONTH_COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_time_entries_patient_month", table_name="time_entries")
    op.create_index("ix_time_entries_patient_month", "time_entries", OLD_COLUMNS)
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.drop_column("clock_timed")
