"""Enrolment episodes (issue 26 #10): in the month's programme, the days that count, the
refusal's reason and the days left to act, over every episode of a returning patient."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from billing.months import Month
from billing.programme import Enrolment, Window, in_programme
from billing.risk import PatientWindow
from billing.tally import OUTSIDE_WINDOW, EntryTime, MonthBounds, tally_month

NY = ZoneInfo("America/New_York")
NOV = Month(2026, 11)
START, END = NOV.bounds_utc(NY)
# enrolled from September, ended on 10 November, back on 20 November
RETURNING = Enrolment.of([(date(2026, 11, 20), None), (date(2026, 9, 1), date(2026, 11, 10))])


def d(day: int, month: int = 11) -> date:
    return date(2026, month, day)


def test_episodes_are_kept_oldest_first_and_the_latest_is_current() -> None:
    assert RETURNING.episodes == (Window(d(1, 9), d(10)), Window(d(20), None))
    assert RETURNING.current == Window(d(20), None)
    assert Enrolment.of([]) == Enrolment.single(None, None)


@pytest.mark.parametrize(("day", "why"), [
    (d(31, 8), ("enrolled", d(1, 9))),
    (d(1, 9), None), (d(10), None),
    (d(11), ("ended", d(10))), (d(19), ("ended", d(10))),  # between: the end before it
    (d(20), None), (date(2027, 5, 1), None),
])
def test_a_day_is_in_an_episode_or_says_why_not(day: date, why: tuple[str, date] | None) -> None:
    assert RETURNING.outside(day) == why
    assert RETURNING.contains(day) is (why is None)
    ended = Enrolment.of([(d(1, 9), d(10)), (d(20), d(25))])
    assert ended.outside(d(26)) == ("ended", d(25))


@pytest.mark.parametrize(("spans", "month", "expected"), [
    ([(d(1, 9), d(10, 9)), (d(1, 11), None)], Month(2026, 10), False),  # a month in the gap
    ([(d(1, 9), d(10, 9)), (d(1, 11), None)], Month(2026, 9), True),
    ([(d(1, 9), d(10, 9)), (d(1, 11), None)], NOV, True),
    ([(None, d(10, 9)), (d(1, 11), None)], Month(2026, 9), True),  # added before: in
    ([(None, d(10, 9)), (d(1, 11), d(3, 11))], Month(2026, 12), False),
])
def test_in_the_programme_when_an_episode_overlaps_the_month(
        spans: list[tuple[date | None, date | None]], month: Month, expected: bool) -> None:
    assert in_programme(month, Enrolment.of(spans), entries_in_window=0,
                        created_on=d(1, 1)) is expected


def test_with_no_enrolment_date_the_day_added_still_decides() -> None:
    first = Enrolment.of([(None, d(10, 9)), (d(1, 11), None)])
    assert not in_programme(Month(2026, 9), first, entries_in_window=0, created_on=d(1, 10))
    assert in_programme(Month(2026, 9), first, entries_in_window=1, created_on=d(1, 10))


def _entry(entry_id: int, day: int, seconds: int, *, live: bool = False) -> EntryTime:
    start = datetime(2026, 11, day, 10, tzinfo=NY).astimezone(UTC)
    return EntryTime(entry_id, 1, "clinical_staff", start, start + timedelta(seconds=seconds),
                     live, True, False)


def test_time_counts_inside_any_episode_and_never_between() -> None:
    bounds = MonthBounds(START, END, windows=RETURNING.instants(NY))
    tally = tally_month([_entry(1, 5, 900, live=True), _entry(2, 15, 600, live=True),
                         _entry(3, 25, 600)], bounds, min_live_seconds=30)
    assert tally.counted_seconds == 1500
    assert tally.not_counted_seconds(OUTSIDE_WINDOW) == 600
    assert tally.live_interactions == 1  # the call between episodes is not live
    assert tally.entries_in_window == 2


def test_an_entry_across_an_end_and_a_return_counts_its_parts_inside() -> None:
    """Back the next day: an entry across the midnight between two episodes that touch
    counts whole; across an end with no return, only its part before midnight."""
    late = datetime(2026, 11, 10, 23, 50, tzinfo=NY).astimezone(UTC)
    crossing = EntryTime(1, 1, "clinical_staff", late, late + timedelta(minutes=20), False,
                         True, False)
    touching = Enrolment.of([(d(1, 9), d(10)), (d(11), None)])
    apart = Enrolment.of([(d(1, 9), d(10)), (d(12), None)])
    for enrolment, counted in ((touching, 1200), (apart, 600)):
        bounds = MonthBounds(START, END, windows=enrolment.instants(NY))
        assert tally_month([crossing], bounds, min_live_seconds=30).counted_seconds == counted


@pytest.mark.parametrize(("today", "left"), [
    (d(1), 10 + 11),  # 1-10 and 20-30
    (d(10), 1 + 11), (d(11), 11), (d(19), 11), (d(20), 11), (d(30), 1), (d(1, 12), 0),
])
def test_days_left_to_act_skip_the_days_between_episodes(today: date, left: int) -> None:
    assert PatientWindow.over(NOV, RETURNING).days_left(today) == left


def test_one_episode_has_the_window_it_had() -> None:
    for spans in ([(None, None)], [(d(5), d(25))], [(d(1, 1), d(31, 10))]):
        enrolment = Enrolment.of(spans)
        assert PatientWindow.over(NOV, enrolment) == PatientWindow.of(NOV, *spans[0])
