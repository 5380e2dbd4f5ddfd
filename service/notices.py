"""The call DMs, exactly once and never lost (issue 25): an outbox, not a background task.

A status callback that makes a call one a nurse acts on (an unconfirmed call to confirm, a
counted one to note) queues its DM in the call write's own transaction (`queue`): the call
and its DM are stored together or not at all, and the request path sends nothing. The
scheduler leader delivers (`deliver_due`, as the reminders do: service/reminders.py): a claim
before sending, the message ts after; a claim left by a process that died is taken over after
the lease, and because that process may have died after Slack accepted the message, the claim
id travels in the message metadata and the conversation's history is searched for it before
anything is resent. A failed send is retried after a pause, up to `max_attempts` tries.

This module knows nothing about Slack: a `NoticeSender` (bot/notice_courier.py) renders and
delivers a `HeldNotice` and can look for an earlier delivery.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from service import audit
from service.calls import CallService, CallView, format_call_id
from service.context import ServiceContext
from service.reminders import Delivery
from store import notices as outbox
from store.db import Conn
from store.notices import NoticeRow

log = logging.getLogger("rpm_logger.notices")

@dataclass(frozen=True)
class NoticeOptions:
    """How the leader retries: a claim older than `lease` was its process's last act; a
    failed send waits `retry_after`; after `max_attempts` tries the notice is given up."""

    lease: timedelta = timedelta(minutes=2)
    retry_after: timedelta = timedelta(seconds=30)
    max_attempts: int = 5
    batch: int = 50


@dataclass(frozen=True)
class HeldNotice:
    """A notice this process holds: it may send (or confirm) it and must then mark it."""

    pk: int
    claim_id: str
    kind: str
    recipient: str
    call: CallView
    attempts: int
    first_claimed_at: datetime
    resumed: bool  # tried before (a failure, or a process that died): look in history first


class NoticeSender(Protocol):
    def deliver(self, notice: HeldNotice) -> Delivery:
        """Send the DM with `notice.claim_id` in its metadata; raise on failure."""
        ...

    def find_delivered(self, notice: HeldNotice) -> Delivery | None:
        """The earlier DM carrying `notice.claim_id`, if Slack has it; raise if unsure."""
        ...


class NoticeService:
    def __init__(self, ctx: ServiceContext, calls: CallService) -> None:
        self.ctx = ctx
        self.calls = calls

    def deliver_due(self, sender: NoticeSender, actor: str,
                    options: NoticeOptions | None = None) -> dict[str, int]:
        """Claim what is due and deliver each: how many went each way (sent, confirmed from
        history, failed, gave_up)."""
        options = options or NoticeOptions()
        tally: dict[str, int] = {}
        for held in self._claim_due(actor, options):
            outcome = self._deliver(held, sender, actor, options)
            tally[outcome] = tally.get(outcome, 0) + 1
        return tally

    def unsent(self) -> list[dict[str, Any]]:
        """Every notice not sent yet, as an admin reads it (no patient, no number)."""
        with self.ctx.db.read() as conn:
            return [_snapshot(row) for row in outbox.unsent(conn)]

    def _claim_due(self, actor: str, options: NoticeOptions) -> list[HeldNotice]:
        now = self.ctx.now()
        with self.ctx.db.write() as conn:
            rows = outbox.due(conn, retry_before=now - options.retry_after,
                              stale_before=now - options.lease, limit=options.batch)
            claimed = []
            for row in rows:
                before = _snapshot(row)
                after = outbox.claim(conn, row.id, now=now, actor=actor)
                _audit(conn, now, actor, "notice.claimed", after, before)
                claimed.append(after)
        return [HeldNotice(row.id, row.claim_id, row.kind, row.recipient,
                           self.calls.get(row.call_id), row.attempts,
                           row.first_claimed_at, resumed=row.attempts > 1)
                for row in claimed]

    def _deliver(self, held: HeldNotice, sender: NoticeSender, actor: str,
                 options: NoticeOptions) -> str:
        if held.resumed:
            try:
                found = sender.find_delivered(held)
            except Exception as exc:  # noqa: BLE001 - unsure whether it went out: not resent
                return self._fail(held, actor, f"history check failed: {_reason(exc)}",
                                  options)
            if found is not None:
                self._mark_sent(held, found, actor, "notice.confirmed_from_history")
                return "confirmed"
        try:
            delivery = sender.deliver(held)
        except Exception as exc:  # noqa: BLE001 - any failure: kept for a retry
            return self._fail(held, actor, _reason(exc), options)
        self._mark_sent(held, delivery, actor, "notice.sent")
        return "sent"

    def _mark_sent(self, held: HeldNotice, delivery: Delivery, actor: str,
                   action: str) -> None:
        now = self.ctx.now()
        with self.ctx.db.write() as conn:
            row = outbox.locked(conn, held.pk)
            assert row is not None
            before = _snapshot(row)
            row = outbox.mark_sent(conn, held.pk, now=now, channel=delivery.channel[:32],
                                   ts=delivery.ts[:32])
            _audit(conn, now, actor, action, row, before)

    def _fail(self, held: HeldNotice, actor: str, error: str, options: NoticeOptions) -> str:
        now = self.ctx.now()
        give_up = held.attempts >= options.max_attempts
        with self.ctx.db.write() as conn:
            row = outbox.locked(conn, held.pk)
            assert row is not None
            if row.state == outbox.SENT:  # a slower twin confirmed it meanwhile: keep that
                return "sent"
            before = _snapshot(row)
            row = outbox.mark_failed(conn, held.pk, error=error[:300], give_up=give_up)
            _audit(conn, now, actor, "notice.gave_up" if give_up else "notice.failed", row,
                   before)
        log.warning("DM %s about call %s to %s failed (attempt %d%s): %s", held.kind,
                    held.call.call_id, held.recipient, held.attempts,
                    ", given up" if give_up else "", error)
        return outbox.GAVE_UP if give_up else outbox.FAILED


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _snapshot(row: NoticeRow) -> dict[str, Any]:
    """What the audit trail and an admin see of a notice: the call's id, no patient."""
    return {"kind": row.kind, "recipient": row.recipient, "call": format_call_id(row.call_id),
            "state": row.state, "attempts": row.attempts, "claimed_by": row.claimed_by,
            "slack_ts": row.slack_ts, "last_error": row.last_error}


def _audit(conn: Conn, at: datetime, actor: str, action: str, row: NoticeRow,
           before: dict[str, Any] | None = None) -> None:
    audit.record(conn, at=at, actor=actor, action=action, entity="notice",
                 entity_id=row.claim_id, before=before, after=_snapshot(row))
