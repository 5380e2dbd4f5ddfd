"""month scan indexes: a covering (patient, month) index and flagged overlaps

The month report and risk scan read, per patient and month, only these columns of
time_entries: with all of them in one index neither SQLite nor PostgreSQL (index-only scan)
touches the table. It replaces ix_time_entries_patient_started, its prefix. Overlaps are rare,
so a partial index on flagged entries lets the month's overlap query skip the rest.

Revision ID: 0006
Revises: 0005
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTH_COLUMNS = ["patient_id", "started_at", "voided_at", "staff_role", "live",
                 "duration_seconds", "staff_id"]
FLAGGED = sa.text("overlaps_entry_id IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_time_entries_patient_month", "time_entries", MONTH_COLUMNS)
    op.drop_index("ix_time_entries_patient_started", table_name="time_entries")
    op.create_index("ix_time_entries_overlaps", "time_entries", ["overlaps_entry_id"],
                    sqlite_where=FLAGGED, postgresql_where=FLAGGED)


def downgrade() -> None:
    op.drop_index("ix_time_entries_overlaps", table_name="time_entries")
    op.create_index("ix_time_entries_patient_started", "time_entries",
                    ["patient_id", "started_at"])
    op.drop_index("ix_time_entries_patient_month", table_name="time_entries")
