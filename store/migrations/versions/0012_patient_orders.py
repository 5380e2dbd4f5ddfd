"""the order behind each patient's monitoring: ordering provider, order date, last established-patient visit (issue 16, the audit packet)

Revision ID: 0012
Revises: 0011
"""
from collections.abc import Sequence

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
