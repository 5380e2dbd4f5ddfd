"""Month assignment in the clinic zone: edges, DST, and a property against a naive oracle."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.errors import InvalidInput
from billing.months import Month, clinic_zone, days_left, months_spanned, parse_day

NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize(
    ("instant", "zone", "month"),
    [
        # 23:59 on the last day, clinic time, is still that month (UTC is already the 1st)
        (datetime(2026, 2, 1, 4, 59, tzinfo=UTC), NY, Month(2026, 1)),
        # 00:00 on the 1st, clinic time, is the new month
        (datetime(2026, 2, 1, 5, 0, tzinfo=UTC), NY, Month(2026, 2)),
        # summer: New York is UTC-4
        (datetime(2026, 8, 1, 3, 59, tzinfo=UTC), NY, Month(2026, 7)),
        (datetime(2026, 8, 1, 4, 0, tzinfo=UTC), NY, Month(2026, 8)),
        # year end
        (datetime(2027, 1, 1, 4, 59, 59, tzinfo=UTC), NY, Month(2026, 12)),
        (datetime(2027, 1, 1, 7, 59, tzinfo=UTC), LA, Month(2026, 12)),
        (datetime(2027, 1, 1, 8, 0, tzinfo=UTC), LA, Month(2027, 1)),
    ],
)
def test_month_of_an_instant_in_the_clinic_zone(instant: datetime, zone: ZoneInfo,
                                                month: Month) -> None:
    assert Month.containing(instant, zone) == month


def test_month_bounds_follow_dst() -> None:
    # March 2026 starts in EST (UTC-5) and ends in EDT (UTC-4): DST began on 8 March
    start, end = Month(2026, 3).bounds_utc(NY)
    assert start == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
    assert end == datetime(2026, 4, 1, 4, 0, tzinfo=UTC)
    assert end - start == timedelta(days=31) - timedelta(hours=1)
    # November 2026: DST ended on 1 November, so the month is an hour longer
    start, end = Month(2026, 11).bounds_utc(NY)
    assert start == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    assert end - start == timedelta(days=30, hours=1)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31),
                    timezones=st.just(UTC)))
def test_an_instant_lies_within_its_months_bounds(instant: datetime) -> None:
    month = Month.containing(instant, NY)
    start, end = month.bounds_utc(NY)
    assert start <= instant < end
    assert month == Month.of_day(instant.astimezone(NY).date())


@given(st.integers(2019, 2035), st.integers(1, 12))
def test_consecutive_months_tile_time(year: int, number: int) -> None:
    month = Month(year, number)
    assert month.bounds_utc(NY)[1] == month.next().bounds_utc(NY)[0]
    assert month.next().previous() == month
    assert Month.parse(str(month)) == month


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-11", "2026/11", "", "november"])
def test_bad_months_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        Month.parse(text)


@pytest.mark.parametrize("text", ["0001-01", "0001-12", "9999-12", "9999-01", "0000-05"])
def test_months_without_a_day_before_or_after_are_refused(text: str) -> None:
    """0001-01 has no day before it (a month scan reaches back a day), 9999-12 no next month:
    both used to crash every month screen with OverflowError."""
    with pytest.raises(InvalidInput, match=f"Not a month: {text} .use a month from 0002-01"):
        Month.parse(text)
    start, _ = Month.parse("0002-01").bounds_utc(ZoneInfo("Pacific/Kiritimati"))
    assert (start - timedelta(days=1)).year == 1  # the day before the first month exists


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(InvalidInput, match="IANA"):
        clinic_zone("Mars/Olympus")


def test_naive_instants_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        Month.containing(datetime(2026, 1, 1), NY)


@pytest.mark.parametrize(
    ("today", "left"),
    [(date(2026, 11, 1), 30), (date(2026, 11, 15), 16), (date(2026, 11, 30), 1),
     (date(2026, 12, 1), 0), (date(2026, 10, 31), 30)],
)
def test_days_left_include_today(today: date, left: int) -> None:
    assert days_left(Month(2026, 11), today) == left


def test_month_shape() -> None:
    assert Month(2028, 2).days == 29
    assert Month(2026, 2).last_day == date(2026, 2, 28)
    assert str(Month(2026, 3)) == "2026-03"
    assert Month(2025, 12) < Month(2026, 1)


@pytest.mark.parametrize(("typed", "hint"), [("2026-1", "'2026-01', not '2026-1'"),
                                             ("2026-9", "'2026-09'")])
def test_a_month_is_yyyy_mm_only_and_the_refusal_spells_it(typed: str, hint: str) -> None:
    with pytest.raises(InvalidInput, match=hint):
        Month.parse(typed)
    assert Month.parse("2026-01") == Month(2026, 1)
@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        (datetime(2026, 10, 31, 23, 50), 20, ("2026-10", "2026-11")),  # across midnight
        (datetime(2026, 10, 31, 23, 40), 20, ("2026-10",)),  # ends exactly at midnight
        (datetime(2026, 11, 1, 0, 0), 20, ("2026-11",)),
        (datetime(2026, 10, 15, 10, 0), 240, ("2026-10",)),
    ],
)
def test_months_spanned_split_at_clinic_midnight(start: datetime, minutes: int,
                                                 expected: tuple[str, ...]) -> None:
    zone = ZoneInfo("America/New_York")
    begin = start.replace(tzinfo=zone)
    spanned = months_spanned(begin, begin + timedelta(minutes=minutes), zone)
    assert tuple(str(m) for m in spanned) == expected


@pytest.mark.parametrize("text", ["20261103", "2026-W45-2", "2026-11-3", "２０２６-11-03",
                                  "2026-13-01", "2026-02-30", "", "03/11/2026"])
def test_a_day_is_read_as_yyyy_mm_dd_only(text: str) -> None:
    """One reader of typed dates (CLI options, import files): what fromisoformat also takes
    ('20261103', ISO weeks) is refused with the form to use."""
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        parse_day(text)
    assert parse_day(" 2026-11-03 ") == date(2026, 11, 3)
