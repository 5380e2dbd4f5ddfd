"""Month close: once a month is billed, writes dated in it need an admin amendment.

A closed month must keep matching the claim that was sent; an amendment (a late log or a
void) is still possible, but only by an admin and with a reason the auditors can read.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, select

from billing.months import Month
from service import audit
from service.context import ServiceContext
from service.errors import BadInput, NotAllowed
from service.staff import require_staff
from store.models import MonthClose

OPERATOR_PREFIX = "cli:"  # the CLI runs as the clinic's operator, trusted like an admin


@dataclass(frozen=True)
class Amendment:
    """A change to a closed month: who asks (admin Slack id, or the CLI operator) and why."""

    reason: str
    by: str
    operator: bool = False  # True only for the CLI, which runs as the clinic's operator


@dataclass(frozen=True)
class CloseView:
    month: str
    closed_at: datetime
    closed_by: str


_CLOSE_OF_MONTH = select(MonthClose).where(MonthClose.month == bindparam("month"))


def find_close(session: Session, month: Month) -> MonthClose | None:
    """Asked by every write and every month summary: one prebuilt statement."""
    return session.exec(_CLOSE_OF_MONTH, params={"month": str(month)}).first()


def check_open(session: Session, month: Month, amendment: Amendment | None) -> str | None:
    """None when `month` is open; the amendment reason when an allowed amendment; else refuse."""
    closed = find_close(session, month)
    if closed is None:
        return None
    if amendment is None:
        raise BadInput(f"{month} is closed (billed) since {closed.closed_at:%Y-%m-%d} by "
                       f"{closed.closed_by}: changes need an admin amendment with a reason.")
    reason = amendment.reason.strip()
    if not reason:
        raise BadInput("An amendment to a closed month needs a reason.")
    if not amendment.operator and not require_staff(session, amendment.by).is_admin:
        raise NotAllowed(f"Only an admin may amend closed month {month}.")
    return reason[:500]


class MonthCloseService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def close(self, month: Month, *, by: str) -> CloseView:
        """Lock a month that has ended in the clinic zone; closing twice is refused."""
        now = self.ctx.now()
        if month >= Month.containing(now, self.ctx.policy.zone):
            raise BadInput(f"{month} has not ended yet: a month is closed once it is billed.")
        with self.ctx.db.write() as session:
            existing = find_close(session, month)
            if existing is not None:
                raise BadInput(f"{month} was already closed on {existing.closed_at:%Y-%m-%d} "
                               f"by {existing.closed_by}.")
            row = MonthClose(month=str(month), closed_at=now, closed_by=by)
            session.add(row)
            audit.record(session, at=now, actor=by, action="month.close", entity="month",
                         entity_id=str(month), after={"month": str(month), "closed_by": by})
            return CloseView(row.month, row.closed_at, row.closed_by)

    def get(self, month: Month) -> CloseView | None:
        with self.ctx.db.read() as session:
            row = find_close(session, month)
            return CloseView(row.month, row.closed_at, row.closed_by) if row else None
