"""the voice menu: server-side sessions keyed by CallSid, and staff menu calls as their own kind of call record (issue 15)

Revision ID: 0010
Revises: 0009
"""
from collections.abc import Sequence

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
