"""Issue 12 #12: every date a person reads is the clinic's, even late in the evening.

At 21:30 in New York on 20 November it is already 21 November in UTC: a reply that formats
the UTC timestamp names the wrong day (and a timer the wrong hour)."""

from datetime import UTC, datetime

import pytest

from billing.months import Month
from bot import dispatch, grammar
from presentation import blocks
from service import Service
from service.closes import Amendment
from service.errors import BadInput
from tests.conftest import FrozenClock
from tests.service.helpers import ADMIN, NURSE, log, seed

LATE_EVENING = datetime(2026, 11, 21, 2, 30, tzinfo=UTC)  # 21:30 EST on 20 November


@pytest.fixture
def late(svc: Service, clock: FrozenClock) -> Service:
    seed(svc)
    clock.now = LATE_EVENING
    return svc


def _reply(svc: Service, text: str, user: str = NURSE) -> str:
    reply = dispatch.run(svc, grammar.parse(text), dispatch.Caller(user, "C0DATES"))
    return reply.text + "\n" + "\n".join(str(b) for b in reply.blocks)


def test_a_late_evening_log_reply_names_the_clinic_day(late: Service) -> None:
    text = _reply(late, "log P-1042 12m review")
    assert "on 2026-11-20" in text
    assert "2026-11-21" not in text


def test_a_late_evening_timer_shows_clinic_time(late: Service, clock: FrozenClock) -> None:
    _reply(late, "start P-1042")
    shown = _reply(late, "timer")
    assert "21:30" in shown and "02:30" not in shown and "UTC" not in shown
    home = blocks.home_view([], late.timers.current(NURSE), late.ctx.policy.zone)
    assert "21:30" in str(home) and "02:30" not in str(home)
    again = _reply(late, "start P-1042")
    assert "21:30" in again and "02:30" not in again
    clock.advance(hours=5)  # over the 240-minute limit: the reply suggests a log for the day
    stopped = _reply(late, "stop")
    assert "on 2026-11-20" in stopped and "2026-11-21" not in stopped


def test_already_voided_and_closed_refusals_name_clinic_days(late: Service) -> None:
    entry = log(late, "12m")
    late.entries.void(entry, reason="duplicate", by=NURSE)
    with pytest.raises(BadInput, match="voided on 2026-11-20") as refusal:
        late.entries.void(entry, reason="again", by=ADMIN)
    assert "2026-11-21" not in str(refusal.value)
    late.closes.close(Month(2026, 10), by=ADMIN)
    with pytest.raises(BadInput, match="closed on 2026-11-20"):
        late.closes.close(Month(2026, 10), by=ADMIN)
    with pytest.raises(BadInput, match=r"since 2026-11-20 by"):
        log(late, "5m", started_at=datetime(2026, 10, 30, 15, 0, tzinfo=UTC))
    assert log(late, "5m", started_at=datetime(2026, 10, 30, 15, 0, tzinfo=UTC),
               amendment=Amendment("late paper note", ADMIN))
