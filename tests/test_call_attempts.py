"""Clinic finding (issue 26 item 4): `/rpm log P-1003 2m call tried` was saved as a live call
and gave the patient 99457. A call that reached no one is logged as an `attempt` in Slack, the
CLI and the voice menu (tests/voice/test_voice_attempt.py): its time counts, it is never live,
and every reply says which it was."""

import os

import pytest

from billing.errors import InvalidInput
from presentation import blocks, render
from service import Service
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.service.helpers import NURSE, log, seed


def test_an_attempt_counts_its_time_and_is_never_the_live_contact(svc: Service) -> None:
    seed(svc)
    log(svc, "20m", "review")
    entry_id = log(svc, "2m", "no-answer")
    summary = svc.months.summary("P-1042")
    assert summary.total_seconds == 22 * 60 and not summary.live_interactions
    assert summary.codes == ()  # 22 minutes but no live interaction: no 99457
    entry = svc.entries.get(entry_id)
    assert (entry.activity, entry.live) == ("attempt", False)
    with pytest.raises(InvalidInput, match="never a live interaction"):
        log(svc, "2m", "voicemail", live=True)
    assert svc.months.summary("P-1042").total_seconds == 22 * 60  # the refusal saved nothing


def test_the_slack_and_cli_replies_say_it_was_an_attempt(
    svc: Service, db_url: str, clock: FrozenClock,
) -> None:
    seed(svc)
    reply = blocks.logged_reply(svc.chat_entries.log(_request("attempt")), svc.ctx.policy.zone)
    assert "2 min of attempt (no one reached: not a live interaction) for P-1042 (JD)" in reply.text
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    cli = Cli({**env, "DATABASE_URL": db_url}, clock=clock)
    out = cli("log", "P-1042", "3m", "voicemail", "left a message", "--staff", NURSE).stderr
    assert "3 min of attempt (no one reached: not a live interaction)" in out
    refused = cli("log", "P-1042", "3m", "attempt", "--live", "--staff", NURSE, code=2)
    assert "never a live interaction" in refused.stderr
    entries = svc.entries.for_patient_month("P-1042", svc.months.current())
    assert len(entries) == 2
    assert "  attempt (no one reached: not a live interaction)  by " in render.entry_text(
        entries[-1], svc.ctx.policy.zone)


def _request(activity: str):  # type: ignore[no-untyped-def]
    from service.entries import LogRequest

    return LogRequest(patient="P-1042", duration="2m", activity=activity, staff=NURSE,
                      source="slack")


def test_an_ended_month_of_attempts_only_says_why_it_supports_no_code(
        svc: Service, clock: FrozenClock) -> None:
    """Outside auditor: 22 minutes of attempts and reviews, no live interaction: `status`
    and the report said only "nothing: the month has ended"."""
    from datetime import UTC, datetime

    from billing.months import Month
    from service.month_words import still_needed

    seed(svc)
    log(svc, "12m", "attempt", started_at=datetime(2026, 10, 20, 15, tzinfo=UTC))
    log(svc, "10m", "review", started_at=datetime(2026, 10, 21, 15, tzinfo=UTC))
    [summary] = [s for s in svc.months.report(Month(2026, 10)) if s.patient_id == "P-1042"]
    assert not summary.codes and summary.month_ended
    assert still_needed(summary) == ("nothing: the month has ended without a live "
                                     "interaction, so its time supports no code")


def test_an_ended_month_short_of_time_says_by_how_much(svc: Service) -> None:
    """Outside auditor's retry of issue 26: 5 minutes with a live call read "Still needed:
    nothing: the month has ended", as if nothing had been missed."""
    from datetime import UTC, datetime

    from billing.months import Month
    from service.month_words import still_needed

    seed(svc)
    log(svc, "5m", "call", started_at=datetime(2026, 10, 20, 15, tzinfo=UTC))
    [summary] = [s for s in svc.months.report(Month(2026, 10)) if s.patient_id == "P-1042"]
    assert not summary.codes and summary.live_interactions and summary.month_ended
    assert still_needed(summary) == "nothing: the month has ended 5 min short of 99470"
