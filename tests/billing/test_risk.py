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
    assert risk(date(2026, 11, 20), 1141, True).advice() == "needs 1 more minute"
    assert risk(date(2026, 11, 20), 1200, True).advice().startswith("on track")


def test_99470_is_offered_when_20_minutes_is_out_of_reach() -> None:
    # last day, 5 minutes in: 15 more is beyond a day's 10 minutes, 5 more for 10 is not
    assessed = risk(date(2026, 11, 30), 300, True)
    assert assessed.severity == CRITICAL and assessed.short_code_possible
    assert "99470 (10 minutes) is still possible" in assessed.advice()
    # 2025 has no 99470
    december = PatientWindow.of(DEC_2025, None, None)
    assert not risk(date(2025, 12, 31), 300, True, december, DEC_2025).short_code_possible
    # still reachable: no 99470 hint
    assert not risk(date(2026, 11, 29), 300, True).short_code_possible


def test_patients_are_judged_on_their_own_dates() -> None:
    ended = PatientWindow.of(NOV, date(2026, 1, 1), date(2026, 11, 18))
    assert risk(date(2026, 11, 16), 0, True, ended).days_left == 3
    assert risk(date(2026, 11, 16), 0, True, ended).severity == CRITICAL
    late = PatientWindow.of(NOV, date(2026, 11, 20), None)
    assert risk(date(2026, 11, 15), 0, True, late).days_left == 11
    assert risk(date(2026, 11, 19), 1200, True, ended).days_left == 0
