"""Delivery through the real slack_sdk client to the recording Slack API: exact recipients
and contents, retries, failures retried once, crashes before and after Slack accepted."""

import pytest
from sqlmodel import select

from reminders.slack import EVENT_TYPE, SlackReminderSender
from service import Service
from service.errors import StoreUnavailable
from service.reminders import Delivery, PlannedMessage, ReminderOptions
from store.models import AuditEvent, ReminderClaim
from tests.conftest import FrozenClock
from tests.fakes.slack_api import ScriptedReply, SlackApiRecorder
from tests.reminders.helpers import (
    CHANNEL_ID,
    DOCTOR,
    NURSE,
    OPTIONS,
    SlackWorkspace,
    SleepRecorder,
    sender,
)

DM_NURSE, DM_DOCTOR = "D01NURSE", "D02DOCTOR"  # what the recorder's conversations.open answers


def _claims(svc: Service) -> dict[str, ReminderClaim]:
    with svc.ctx.db.read_session() as session:
        return {c.recipient: c for c in session.exec(select(ReminderClaim))}


def test_each_staff_member_gets_one_clear_dm_and_the_channel_a_summary(
    clinic: Service, slack_api: SlackApiRecorder, slack: SlackWorkspace,
) -> None:
    run = clinic.reminders.run(sender(slack_api), None, OPTIONS, actor="test")
    assert [(o.recipient, o.status, o.patients) for o in run.outcomes] == [
        (NURSE, "sent", 2), (DOCTOR, "sent", 2), (CHANNEL_ID, "sent", 2)]
    assert [c.body["users"] for c in slack_api.calls_to("conversations.open")] == [NURSE, DOCTOR]
    assert slack.channels() == sorted([DM_NURSE, DM_DOCTOR, CHANNEL_ID])
    nurse = slack.to(DM_NURSE)
    assert nurse.headers["Authorization"] == "Bearer xoxb-test"
    assert nurse.body["text"] == (
        "RPM: 2 patients need time this month (2026-11-15).\n"
        "P-2 (CD) [critical]: 0 / 20 min · live ✗ · 3 days left: "
        "needs 20 more minutes and a live call.\n"
        "P-1 (AB) [watch]: 12 / 20 min · live ✗ · 16 days left: "
        "needs 8 more minutes and a live call.")
    blocks = nurse.body["blocks"]
    assert blocks[0] == {"type": "header", "text": {
        "type": "plain_text", "text": "RPM: 2 patients need time this month", "emoji": True}}
    assert [b["text"]["text"] for b in blocks if b["type"] == "section"] == [
        "*P-2 (CD)*  :red_circle: critical\n0 / 20 min · live ✗ · 3 days left\n"
        "_needs 20 more minutes and a live call_",
        "*P-1 (AB)*  :large_yellow_circle: watch\n12 / 20 min · live ✗ · 16 days left\n"
        "_needs 8 more minutes and a live call_",
    ]
    claims = _claims(clinic)
    assert nurse.body["metadata"] == {"event_type": EVENT_TYPE, "event_payload": {
        "claim_id": claims[NURSE].claim_id, "date": "2026-11-15"}}
    summary = slack.to(CHANNEL_ID)
    assert summary.body["text"].splitlines()[:4] == [
        "RPM daily summary: 6 patients at risk (2026-11-15).",
        "At risk by severity: critical 1, high 1, watch 4.",
        "Earned so far $52.00 · still to win from at-risk patients $312.00 "
        "(fee schedule estimates).",
        "No active staff member assigned (2):"]
    assert {"type": "context", "elements": [{"type": "mrkdwn", "text": (
        "Earned so far $52.00 · still to win from at-risk patients $312.00 "
        "(fee schedule estimates)")}]} in summary.body["blocks"]
    # no PHI beyond clinic id + initials: no names of staff or patients, no phone numbers
    for call in slack.accepted:
        assert "Nina" not in str(call.body) and "Gus" not in str(call.body)
    assert {c.recipient: (c.state, c.attempts, c.slack_channel) for c in claims.values()} == {
        NURSE: ("sent", 1, DM_NURSE), DOCTOR: ("sent", 1, DM_DOCTOR),
        CHANNEL_ID: ("sent", 1, CHANNEL_ID), "*run*": ("sent", 1, None)}


def test_a_second_run_the_same_day_sends_nothing(
    clinic: Service, slack_api: SlackApiRecorder, slack: SlackWorkspace, clock: FrozenClock,
) -> None:
    clinic.reminders.run(sender(slack_api), None, OPTIONS, actor="first")
    clock.advance(hours=3)
    again = clinic.reminders.run(sender(slack_api), None, OPTIONS, actor="second")
    assert [o.status for o in again.outcomes] == ["already_sent"] * 3
    assert len(slack.accepted) == 3
    assert clinic.reminders.due(OPTIONS) is None  # the catch-up job stays quiet
    clock.advance(days=1)  # the 16th is a new day
    assert clinic.reminders.due(OPTIONS) is not None


def test_claims_and_sends_are_audited_without_patients(
    clinic: Service, slack_api: SlackApiRecorder, slack: SlackWorkspace,
) -> None:
    clinic.reminders.run(sender(slack_api), None, OPTIONS, actor="test")
    with clinic.ctx.db.read_session() as session:
        events = session.exec(select(AuditEvent).where(
            AuditEvent.entity == "reminder_claim").order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["reminder.claimed", "reminder.sent"] * 3 + [
        "reminder.day_done"]
    sent = events[1]
    assert sent.after is not None and sent.after["recipient"] == NURSE
    assert sent.after["state"] == "sent" and sent.after["patients"] == 2
    assert "P-2" not in str([e.after for e in events])


def test_429_with_retry_after_is_honoured(
    clinic: Service, slack_api: SlackApiRecorder, slack: SlackWorkspace,
    retry_sleeps: SleepRecorder,
) -> None:
    slack_api.script("chat.postMessage", ScriptedReply(
        429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"}))
    run = clinic.reminders.run(sender(slack_api), None, OPTIONS, actor="test")
    assert [o.status for o in run.outcomes] == ["sent"] * 3
    assert len(slack_api.calls_to("chat.postMessage")) == 4  # the 429, then 3 accepted
    assert len(retry_sleeps.slept) == 1 and 7 <= retry_sleeps.slept[0] < 8
    assert slack.channels() == sorted([DM_NURSE, DM_DOCTOR, CHANNEL_ID])


def test_a_failed_send_is_retried_later_that_day_once(
    clinic: Service, slack_api: SlackApiRecorder, slack: SlackWorkspace, clock: FrozenClock,
    retry_sleeps: SleepRecorder,
) -> None:
    # Slack is down for the nurse's message: 503 on the first try and all 3 retries
    slack_api.script("chat.postMessage", *[ScriptedReply(503, {"ok": False})] * 4)
    first = clinic.reminders.run_due(sender(slack_api), OPTIONS)
    assert first is not None
    assert [(o.recipient, o.status) for o in first.outcomes] == [
        (NURSE, "failed"), (DOCTOR, "sent"), (CHANNEL_ID, "sent")]
    assert first.outcomes[0].error == "slack chat.postMessage: error"
    assert _claims(clinic)[NURSE].state == "failed"
    assert "*run*" not in _claims(clinic)  # the day is not done
    assert len(retry_sleeps.slept) == 3  # slack_sdk's 5xx backoff, not slept here
    clock.advance(minutes=15)
    assert clinic.reminders.due(OPTIONS) is not None
    later = clinic.reminders.run_due(sender(slack_api), OPTIONS)
    assert later is not None
    assert [(o.recipient, o.status, o.attempts) for o in later.outcomes] == [
        (NURSE, "sent", 2), (DOCTOR, "already_sent", 1), (CHANNEL_ID, "already_sent", 1)]
    # before resending, the DM's history was searched for the claim (nothing there)
    assert len(slack_api.calls_to("conversations.history")) == 1
    assert slack.channels() == sorted([DM_NURSE, DM_DOCTOR, CHANNEL_ID])
    assert clinic.reminders.run_due(sender(slack_api), OPTIONS) is None
    assert len(slack.accepted) == 3


def test_a_refusal_from_slack_is_kept_as_the_reason_and_given_up_after_max_attempts(
    clinic: Service, slack_api: SlackApiRecorder, slack: SlackWorkspace, clock: FrozenClock,
) -> None:
    options = ReminderOptions(channel=CHANNEL_ID, max_attempts=2)
    slack.refuse[DM_NURSE] = "channel_not_found"
    first = clinic.reminders.run(sender(slack_api), None, options, actor="test")
    assert (first.outcomes[0].status, first.outcomes[0].error) == (
        "failed", "slack chat.postMessage: channel_not_found")
    clock.advance(minutes=15)
    second = clinic.reminders.run(sender(slack_api), None, options, actor="test")
    assert second.outcomes[0].status == "failed" and second.outcomes[0].attempts == 2
    clock.advance(minutes=15)
    third = clinic.reminders.run(sender(slack_api), None, options, actor="test")
    assert third.outcomes[0].status == "gave_up"
    assert clinic.reminders.due(options) is None  # the day is done: nothing left to try
    nurse_posts = [c for c in slack_api.calls_to("chat.postMessage")
                   if c.body["channel"] == DM_NURSE]
    assert len(nurse_posts) == 2 and slack.channels() == [CHANNEL_ID, DM_DOCTOR]


def test_nothing_is_sent_when_the_database_cannot_take_the_claim(
    clinic: Service, slack_api: SlackApiRecorder, slack: SlackWorkspace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down(**_options: object) -> None:
        raise StoreUnavailable("database unavailable: connection refused")

    monkeypatch.setattr(clinic.ctx.db, "write", down)
    with pytest.raises(StoreUnavailable):
        clinic.reminders.run(sender(slack_api), None, OPTIONS, actor="test")
    assert slack_api.calls_to("chat.postMessage") == []


class Killed(BaseException):
    """The process dies (like SIGKILL): no except-Exception handler runs."""


class DiesBeforeSending(SlackReminderSender):
    def deliver(self, message: PlannedMessage, claim_id: str) -> Delivery:
        raise Killed


class DiesAfterSlackAccepted(SlackReminderSender):
    def deliver(self, message: PlannedMessage, claim_id: str) -> Delivery:
        super().deliver(message, claim_id)
        raise Killed


def _dying(cls: type[SlackReminderSender], slack_api: SlackApiRecorder) -> SlackReminderSender:
    return cls(sender(slack_api).client)


def test_a_process_killed_between_claim_and_send_is_sent_later_once(
    clinic: Service, slack_api: SlackApiRecorder, slack: SlackWorkspace, clock: FrozenClock,
) -> None:
    with pytest.raises(Killed):
        clinic.reminders.run(_dying(DiesBeforeSending, slack_api), None, OPTIONS, actor="a")
    assert _claims(clinic)[NURSE].state == "claimed" and slack.accepted == []
    clock.advance(minutes=5)  # within the lease the claim's owner may still be sending
    early = clinic.reminders.run(sender(slack_api), None, OPTIONS, actor="b")
    assert [o.status for o in early.outcomes] == ["in_flight", "sent", "sent"]
    clock.advance(minutes=6)  # past the 10-minute lease: taken over
    late = clinic.reminders.run(sender(slack_api), None, OPTIONS, actor="b")
    assert [o.status for o in late.outcomes] == ["sent", "already_sent", "already_sent"]
    assert slack.channels() == sorted([DM_NURSE, DM_DOCTOR, CHANNEL_ID])
    claim = _claims(clinic)[NURSE]
    assert (claim.state, claim.attempts, claim.claimed_by) == ("sent", 2, "b")


def test_a_process_killed_after_slack_accepted_is_confirmed_from_history_not_resent(
    clinic: Service, slack_api: SlackApiRecorder, slack: SlackWorkspace, clock: FrozenClock,
) -> None:
    with pytest.raises(Killed):
        clinic.reminders.run(_dying(DiesAfterSlackAccepted, slack_api), None, OPTIONS,
                             actor="a")
    assert slack.channels() == [DM_NURSE]
    assert _claims(clinic)[NURSE].state == "claimed"
    clock.advance(minutes=11)
    run = clinic.reminders.run(sender(slack_api), None, OPTIONS, actor="b")
    assert [o.status for o in run.outcomes] == ["confirmed", "sent", "sent"]
    assert slack.channels() == sorted([DM_NURSE, DM_DOCTOR, CHANNEL_ID])
    history = slack_api.calls_to("conversations.history")
    assert len(history) == 1
    assert history[0].body["include_all_metadata"] == "1"
    assert history[0].body["channel"] == DM_NURSE
    claim = _claims(clinic)[NURSE]
    assert (claim.state, claim.slack_ts) == ("sent", run.outcomes[0].slack_ts)


def test_an_unreadable_history_fails_the_claim_instead_of_risking_a_duplicate(
    clinic: Service, slack_api: SlackApiRecorder, slack: SlackWorkspace, clock: FrozenClock,
) -> None:
    with pytest.raises(Killed):
        clinic.reminders.run(_dying(DiesAfterSlackAccepted, slack_api), None, OPTIONS,
                             actor="a")
    slack_api.script("conversations.history",
                     ScriptedReply(200, {"ok": False, "error": "missing_scope"}))
    clock.advance(minutes=11)
    run = clinic.reminders.run(sender(slack_api), None, OPTIONS, actor="b")
    assert (run.outcomes[0].status, run.outcomes[0].error) == (
        "failed", "history check failed: slack conversations.history: missing_scope")
    assert slack.channels() == sorted([DM_NURSE, DM_DOCTOR, CHANNEL_ID])


def test_posts_to_one_channel_are_paced(slack_api: SlackApiRecorder, clinic: Service) -> None:
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    paced = SlackReminderSender(sender(slack_api).client, sleep=sleep, monotonic=lambda: now[0])
    plan = clinic.reminders.plan(None, OPTIONS)
    nurse, doctor, channel = plan.messages
    paced.deliver(nurse, "c1")
    paced.deliver(doctor, "c2")  # another channel: no wait
    assert waits == []
    now[0] += 0.3
    paced.deliver(nurse, "c3")  # the same DM 0.3 s later waits out the rest of 1.1 s
    assert waits == [pytest.approx(0.8)]
    paced.deliver(channel, "c4")
    assert waits == [pytest.approx(0.8)]
    # one conversations.open per staff member, however many posts
    assert [c.body["users"] for c in slack_api.calls_to("conversations.open")] == [NURSE, DOCTOR]


def test_a_long_list_is_cut_to_fit_slacks_50_blocks(clinic: Service) -> None:
    from presentation import blocks as slack_blocks
    from reminders import messages

    plan = clinic.reminders.plan(None, OPTIONS)
    many = PlannedMessage("dm", NURSE, plan.day, plan.month, plan.messages[0].patients * 30)
    blocks = slack_blocks.reminder_blocks(many)
    assert len(blocks) <= 50
    assert blocks[-2]["elements"][0]["text"] == (
        "…and 20 more: `rpm-logger report` lists every patient")
    assert messages.text(many).endswith("…and 20 more.")


def test_timeouts_between_the_claim_and_the_lease_are_measured_on_the_service_clock(
    clinic: Service, slack_api: SlackApiRecorder, slack: SlackWorkspace, clock: FrozenClock,
) -> None:
    """The lease is judged by the clock the claim was written with (10 minutes exactly)."""
    with pytest.raises(Killed):
        clinic.reminders.run(_dying(DiesBeforeSending, slack_api), None, OPTIONS, actor="a")
    clock.advance(seconds=599)
    assert clinic.reminders.run(sender(slack_api), None, OPTIONS).outcomes[0].status == \
        "in_flight"
    clock.advance(seconds=1)
    assert clinic.reminders.run(sender(slack_api), None, OPTIONS).outcomes[0].status == "sent"
