"""month scan index: one covering (patient, month) index

The month report and risk scan read, per page of patients, only these columns of
time_entries: with all of them in one index neither SQLite nor PostgreSQL (index-only scan)
touches the table. It replaces ix_time_entries_patient_started, its prefix.

Revision ID: 0006
Revises: 0005
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTH_COLUMNS = ["patient_id", "started_at", "voided_at", "staff_role", "live",
                 "duration_seconds", "staff_id", "overlaps_entry_id"]


def upgrade() -> None:
    op.create_index("ix_time_entries_patient_month", "time_entries", MONTH_COLUMNS)
    op.drop_index("ix_time_entries_patient_started", table_name="time_entries")


def downgrade() -> None:
    op.create_index("ix_time_entries_patient_started", "time_entries",
                    ["patient_id", "started_at"])
    op.drop_index("ix_time_entries_patient_month", table_name="time_entries")
