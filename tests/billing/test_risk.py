"""The at-risk table: severity by pace, the last days, the live contact, 99470 fallback."""

from datetime import date

import pytest

from billing.months import Month
from billing.risk import CRITICAL, HIGH, OK, WATCH, PatientWindow, assess_risk

NOV = Month(2026, 11)
DEC_2025 = Month(2025, 12)
FULL = PatientWindow.of(NOV, None, None)


def risk(today: date, seconds: int, live: bool, window: PatientWindow = FULL, month: Month = NOV):
    return assess_risk(month, window, today, counted_seconds=seconds, has_live=live)


@pytest.mark.parametrize(
    ("today", "seconds", "live", "severity", "days_left"),
    [
        (date(2026, 11, 15), 1200, True, OK, 16),  # done
        (date(2026, 11, 30), 5000, True, OK, 1),
        (date(2026, 11, 15), 900, True, WATCH, 16),  # 1 touch left, 16 days
        (date(2026, 11, 15), 1200, False, WATCH, 16),  # only the live call is missing
        (date(2026, 11, 15), 0, False, WATCH, 16),  # 4 touches, 16 days: comfortable
        (date(2026, 11, 24), 1200, False, HIGH, 7),  # live missing in the last week
        (date(2026, 11, 26), 1199, True, WATCH, 5),  # 1 touch in 5 days, live is in
        (date(2026, 11, 28), 1199, True, CRITICAL, 3),  # last 3 days, anything missing
        (date(2026, 11, 30), 1200, False, CRITICAL, 1),
        (date(2026, 11, 27), 0, True, CRITICAL, 4),  # 4 touches in 4 days: every day
        (date(2026, 11, 25), 600, True, WATCH, 6),  # 2 touches, 6 days
        (date(2026, 12, 1), 600, True, CRITICAL, 0),  # month over
    ],
)
def test_severity_table(today: date, seconds: int, live: bool, severity: str,
                        days_left: int) -> None:
    assessed = risk(today, seconds, live)
    assert (assessed.severity, assessed.days_left) == (severity, days_left)
    assert assessed.at_risk is (severity != OK)


def test_pace_decides_between_watch_and_high() -> None:
    # 20 minutes to go = 4 touches; with 8 days that is work every other day -> high
    assert risk(date(2026, 11, 23), 0, True).severity == HIGH
    # with 16 days it is comfortable -> watch
    assert risk(date(2026, 11, 15), 0, True).severity == WATCH


def test_advice_reads_like_a_reminder() -> None:
    assessed = risk(date(2026, 11, 20), 720, False)
    assert assessed.advice() == "needs 8 more minutes and a live call"
    assert risk(date(2026, 11, 20), 1141, True).advice() == (
        "needs 1 more minute for 99457 (99470 is in)")
    assert risk(date(2026, 11, 20), 540, True).advice() == "needs 11 more minutes"
    assert risk(date(2026, 11, 20), 1200, True).advice().startswith("on track")


@pytest.mark.parametrize(
    ("today", "seconds", "live", "reachable", "advice"),
    [
        # issue 13 item 8: 12 minutes short on the last day is within reach (one day left)
        (date(2026, 11, 30), 480, True, "99457", "needs 12 more minutes"),
        (date(2026, 11, 30), 300, True, "99457", "needs 15 more minutes"),
        (date(2026, 11, 30), 0, False, "99457", "needs 20 more minutes and a live call"),
        (date(2026, 11, 29), 480, False, "99457", "needs 12 more minutes and a live call"),
        (date(2026, 11, 28), 480, True, "99457", "needs 12 more minutes"),
        # 99470 already earned: the advice still points at 99457 while a day remains
        (date(2026, 11, 30), 720, True, "99457", "needs 8 more minutes for 99457 (99470 is in)"),
        (date(2026, 11, 29), 600, True, "99457",
         "needs 10 more minutes for 99457 (99470 is in)"),
        # the month is over: say what it missed, not what it "needs" (tester finding 7)
        (date(2026, 12, 1), 720, True, "99470",
         "missed 99457: 8 minutes short (the month supports 99470)"),
        (date(2026, 12, 1), 480, True, None, "missed 99457: 12 minutes short"),
        (date(2026, 12, 1), 720, False, None, "missed 99457: 8 minutes short and no live call"),
    ],
)
def test_last_days_point_at_the_highest_code_still_reachable(
    today: date, seconds: int, live: bool, reachable: str | None, advice: str
) -> None:
    assessed = risk(today, seconds, live)
    assert assessed.severity == CRITICAL
    assert (assessed.reachable_code, assessed.advice()) == (reachable, advice)
    assert "out of reach" not in assessed.advice()


def test_a_month_without_99470_never_mentions_it() -> None:
    december = PatientWindow.of(DEC_2025, None, None)
    ended = risk(date(2026, 1, 1), 720, True, december, DEC_2025)
    assert (ended.reachable_code, ended.advice()) == (None, "missed 99457: 8 minutes short")
    last_day = risk(date(2025, 12, 31), 720, True, december, DEC_2025)
    assert (last_day.reachable_code, last_day.advice()) == ("99457", "needs 8 more minutes")


def test_patients_are_judged_on_their_own_dates() -> None:
    ended = PatientWindow.of(NOV, date(2026, 1, 1), date(2026, 11, 18))
    assert risk(date(2026, 11, 16), 0, True, ended).days_left == 3
    assert risk(date(2026, 11, 16), 0, True, ended).severity == CRITICAL
    late = PatientWindow.of(NOV, date(2026, 11, 20), None)
    assert risk(date(2026, 11, 15), 0, True, late).days_left == 11
    assert risk(date(2026, 11, 19), 1200, True, ended).days_left == 0
