"""Which DM a call write calls for, queued in that write's transaction (service/notices.py
delivers it). Apart from notices.py so that service/calls.py can queue without a cycle."""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from store import notices as outbox
from store.db import Conn

if TYPE_CHECKING:
    from service.calls import CallOutcome

ASK_IF_LIVE, TELL_COUNTED = "ask_if_live", "tell_counted"


def notice_for(outcome: "CallOutcome") -> str | None:
    """Which DM this write calls for: only when the state just became one people act on,
    and someone is on the call."""
    call = outcome.call
    if not outcome.changed or call.staff is None:
        return None
    return {"unconfirmed": ASK_IF_LIVE, "counted": TELL_COUNTED}.get(call.state)


def queue(conn: Conn, outcome: "CallOutcome", call_pk: int, now: datetime) -> str | None:
    """In the call write's transaction: the DM its outcome calls for, if any (its kind)."""
    kind = notice_for(outcome)
    if kind is None:
        return None
    assert outcome.call.staff is not None
    outbox.add(conn, claim_id=str(uuid.uuid4()), kind=kind, recipient=outcome.call.staff,
               call_id=call_pk, state=outbox.PENDING, attempts=0, created_at=now)
    return kind
