"""The call DMs' outbox (service/notices.py): queued with the call in its transaction,
delivered once by whoever claims it, never lost to a crash between the claim and the send."""

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from service import Service
from service.call_notices import ASK_IF_LIVE, TELL_COUNTED, notice_for
from service.calls import CallEvent, CallOutcome, CallView
from service.notices import HeldNotice, NoticeOptions
from service.reminders import Delivery, DeliveryFailed
from store.tables import audit_events, notices
from tests.conftest import FrozenClock
from tests.telephony.conftest import NURSE_TWILIO_NUMBER, PATIENT_PHONE, new_sid, seed_clinic

CALL = CallView(call_id="C-1", call_sid="CA1", state="unconfirmed", state_reason=None,
                status="completed", direction="outbound-api", way="outbound", from_masked=None,
                to_masked=None, answered_by=None, duration_seconds=200,
                started_at=datetime(2026, 11, 3, 15, tzinfo=UTC), ended_at=None, patient=None,
                staff="U01NURSE", entry_id=None, note=None, after_close=False)


@pytest.mark.parametrize(("state", "changed", "staff", "notice"), [
    ("unconfirmed", True, "U01NURSE", ASK_IF_LIVE),
    ("counted", True, "U01NURSE", TELL_COUNTED),
    ("counted", False, "U01NURSE", None),  # a retried callback: told once already
    ("counted", True, None, None),  # nobody to tell
    ("attempt", True, "U01NURSE", None),
])
def test_the_notice_a_write_calls_for(state: str, changed: bool, staff: str | None,
                                      notice: str | None) -> None:
    outcome = CallOutcome(replace(CALL, state=state, staff=staff), changed, None)
    assert notice_for(outcome) == notice


class FakeSlack:
    """A NoticeSender: what it delivered, and what Slack 'has' for the history check."""

    def __init__(self) -> None:
        self.delivered: list[str] = []  # claim ids, in order
        self.in_history: set[str] = set()
        self.fail_with: Exception | None = None
        self.pause = 0.0
        self.lock = threading.Lock()

    def deliver(self, notice: HeldNotice) -> Delivery:
        time.sleep(self.pause)
        if self.fail_with is not None:
            raise self.fail_with
        with self.lock:
            self.delivered.append(notice.claim_id)
            self.in_history.add(notice.claim_id)
        return Delivery("D01NURSE", f"{len(self.delivered)}.0001")

    def find_delivered(self, notice: HeldNotice) -> Delivery | None:
        return Delivery("D01NURSE", "9.0001") if notice.claim_id in self.in_history else None


def _counted_call(svc: Service, *, seconds: int = 200) -> CallOutcome:
    return svc.calls.record_status(CallEvent(
        call_sid=new_sid(), status="completed", direction="outbound-api",
        from_number=NURSE_TWILIO_NUMBER, to_number=PATIENT_PHONE, duration_seconds=seconds,
        answered_by="human", sequence_number=4,
        timestamp=datetime(2026, 11, 20, 19, 30, tzinfo=UTC)))


def _rows(svc: Service) -> list[tuple[str, str, int]]:
    with svc.ctx.db.read() as conn:
        return [(r.kind, r.state, r.attempts) for r in conn.execute(
            select(notices).order_by(notices.c.id))]


def test_a_counted_call_queues_its_dm_in_its_own_transaction_once(svc: Service) -> None:
    seed_clinic(svc)
    outcome = _counted_call(svc)
    assert outcome.call.state == "counted" and outcome.notice == TELL_COUNTED
    again = svc.calls.record_status(CallEvent(
        call_sid=outcome.call.call_sid, status="completed", duration_seconds=200,
        sequence_number=4))  # Twilio's retry of the same callback
    assert again.notice is None
    assert _rows(svc) == [(TELL_COUNTED, "pending", 0)]
    # reconciliation's listing of a call queues nothing: its DM came with the callback
    svc.calls.record_status(CallEvent(call_sid=new_sid(), status="completed",
                                      from_number=NURSE_TWILIO_NUMBER, to_number=PATIENT_PHONE,
                                      direction="outbound-api", duration_seconds=90,
                                      source="reconcile"))
    assert len(_rows(svc)) == 1


def test_a_call_write_that_fails_queues_no_dm(svc: Service, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    seed_clinic(svc)
    import service.call_notices as call_notices

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("the insert failed")

    monkeypatch.setattr(call_notices.outbox, "add", broken)
    with pytest.raises(RuntimeError):
        _counted_call(svc)
    monkeypatch.undo()
    assert _rows(svc) == []
    assert svc.months.summary("P-1042").total_seconds == 0  # the call's time went with it


def test_a_queued_dm_is_sent_once_and_audited(svc: Service) -> None:
    seed_clinic(svc)
    _counted_call(svc)
    slack = FakeSlack()
    assert svc.notices.deliver_due(slack, "leader") == {"sent": 1}
    assert svc.notices.deliver_due(slack, "leader") == {}
    assert len(slack.delivered) == 1 and _rows(svc) == [(TELL_COUNTED, "sent", 1)]
    assert svc.notices.unsent() == []
    with svc.ctx.db.read() as conn:
        actions = list(conn.execute(select(audit_events.c.action).where(
            audit_events.c.entity == "notice").order_by(audit_events.c.id)).scalars())
    assert actions == ["notice.claimed", "notice.sent"]


def test_a_failed_send_is_retried_after_a_pause_then_given_up(
        svc: Service, clock: FrozenClock) -> None:
    seed_clinic(svc)
    _counted_call(svc)
    slack = FakeSlack()
    slack.fail_with = DeliveryFailed("slack chat.postMessage: user_not_found")
    options = NoticeOptions(max_attempts=3)
    assert svc.notices.deliver_due(slack, "leader", options) == {"failed": 1}
    assert svc.notices.deliver_due(slack, "leader", options) == {}  # not before retry_after
    clock.advance(seconds=31)
    assert svc.notices.deliver_due(slack, "leader", options) == {"failed": 1}
    clock.advance(seconds=31)
    assert svc.notices.deliver_due(slack, "leader", options) == {"gave_up": 1}
    clock.advance(minutes=10)
    assert svc.notices.deliver_due(slack, "leader", options) == {}
    [unsent] = svc.notices.unsent()
    assert unsent["state"] == "gave_up" and unsent["attempts"] == 3
    assert "user_not_found" in unsent["last_error"] and PATIENT_PHONE not in str(unsent)


@pytest.mark.parametrize("slack_had_it", [True, False])
def test_a_sender_dying_between_claim_and_send_loses_nothing_and_repeats_nothing(
        svc: Service, clock: FrozenClock, slack_had_it: bool) -> None:
    """The claim is taken, then the process dies before (False) or after (True) Slack
    accepted the DM. Another sender takes the claim over after the lease: it finds the DM in
    the conversation's history, or sends it; either way exactly one DM."""
    seed_clinic(svc)
    _counted_call(svc)
    slack = FakeSlack()
    [held] = svc.notices._claim_due("dead", NoticeOptions())  # noqa: SLF001 - then it dies
    if slack_had_it:
        slack.in_history.add(held.claim_id)
    assert svc.notices.deliver_due(slack, "next") == {}  # the lease still runs
    clock.advance(minutes=2, seconds=1)
    expected = "confirmed" if slack_had_it else "sent"
    assert svc.notices.deliver_due(slack, "next") == {expected: 1}
    assert slack.delivered == ([] if slack_had_it else [held.claim_id])
    assert _rows(svc) == [(TELL_COUNTED, "sent", 2)]


def test_two_senders_at_once_send_each_dm_once(svc: Service) -> None:
    seed_clinic(svc)
    for seconds in range(100, 110):
        _counted_call(svc, seconds=seconds)
    slack = FakeSlack()
    slack.pause = 0.02
    results: list[dict[str, int]] = []
    threads = [threading.Thread(target=lambda n=n: results.append(
        svc.notices.deliver_due(slack, f"sender-{n}"))) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(slack.delivered) == sorted(set(slack.delivered))
    assert len(slack.delivered) == 10 and sum(r.get("sent", 0) for r in results) == 10
    with svc.ctx.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(notices).where(
            notices.c.state == "sent")).scalar_one() == 10
