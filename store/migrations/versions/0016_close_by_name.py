"""a close or reopen keeps its author's name beside the id (issue 26 #15)

`month_close_events.by_name`: the staff member's name when `by` is a staff member's Slack id
(a close from Slack, or a CLI close whose --by names a staff member), as it was at that
moment. An outside auditor read the same admin's closes as "by UBIL0001" (Slack) and "by Bea
Billing" (CLI); both now read "Bea Billing (UBIL0001)". Events from before this revision get
the name their id has now; an operator's free text (`cli:root`) stays NULL.

Revision ID: 0016
Revises: 0015
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE on both databases, as 0014
    op.add_column("month_close_events", sa.Column("by_name", sa.String(200), nullable=True))
    op.execute("UPDATE month_close_events SET by_name = (SELECT staff.name FROM staff "
               "WHERE staff.slack_user_id = month_close_events.by)")


def downgrade() -> None:
    op.drop_column("month_close_events", "by_name")
