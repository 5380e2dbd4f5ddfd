"""Boundary tables for what a patient's month counts (billing.tally), issue 11 items 1-7."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from billing.months import Month
from billing.programme import Window
from billing.tally import (
    BEFORE_CONSENT,
    NON_CLINICAL,
    OUTSIDE_WINDOW,
    OVERLAP,
    VOIDED,
    EntryCount,
    EntryTime,
    MonthBounds,
    MonthTally,
    NotCounted,
    share_seconds,
    tally_month,
)

NY = ZoneInfo("America/New_York")
OCT = Month(2026, 10)
START, END = OCT.bounds_utc(NY)
NURSE, DOCTOR, CLERK = 1, 2, 3
ROLE = {NURSE: "clinical_staff", DOCTOR: "physician", CLERK: "non_clinical"}


def at(day: int, hour: int = 10, minute: int = 0, second: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=NY)


def entry(entry_id: int, start: datetime, seconds: int, *, staff: int = NURSE,
          live: bool = False, timed: bool = True, voided: bool = False) -> EntryTime:
    return EntryTime(entry_id, staff, ROLE[staff], start.astimezone(UTC),
                     (start + timedelta(seconds=seconds)).astimezone(UTC), live, timed, voided)


def tally(*entries: EntryTime, enrolled: tuple[int, int] | None = None,
          ended: tuple[int, int] | None = None, consent: tuple[int, int] | None = None,
          floor: int = 30) -> MonthTally:
    def day(pair: tuple[int, int] | None) -> object:
        return datetime(2026, pair[0], pair[1]).date() if pair else None
    window_start, window_end = Window(day(enrolled), day(ended)).instants(NY)  # type: ignore[arg-type]
    consent_start = Window(day(consent), None).instants(NY)[0]  # type: ignore[arg-type]
    return tally_month(entries, MonthBounds(START, END, window_start, window_end, consent_start),
                       min_live_seconds=floor)


# item 1: the live floor applies to every live entry, whatever its source
@pytest.mark.parametrize(
    ("seconds", "floor", "live", "short"),
    [
        (29, 30, 0, 1),
        (30, 30, 1, 0),
        (31, 30, 1, 0),
        (29, 0, 1, 0),  # a floor of 0 (MIN_LIVE_CALL_SECONDS=0) counts every live entry
        (59, 60, 0, 1),
    ],
)
def test_live_floor(seconds: int, floor: int, live: int, short: int) -> None:
    result = tally(entry(1, at(5), seconds, live=True), floor=floor)
    assert (result.live_interactions, len(result.short_live)) == (live, short)
    assert result.counted_seconds == seconds  # its seconds still count as time


# item 2: time outside the enrolment window never counts, whichever side
@pytest.mark.parametrize(
    ("enrolled", "ended", "counted", "outside", "live"),
    [
        (None, None, 2400, 0, 1),
        (None, (10, 10), 0, 2400, 0),  # ended before the work
        (None, (10, 20), 1200, 1200, 0),  # the call on the 21st falls outside
        ((10, 15), None, 2400, 0, 1),
        ((10, 21), None, 1200, 1200, 1),
        ((10, 22), None, 0, 2400, 0),
        ((10, 20), (10, 20), 1200, 1200, 0),  # one-day window: its day counts
        ((9, 1), (9, 30), 0, 2400, 0),
    ],
)
def test_enrolment_window(enrolled: tuple[int, int] | None, ended: tuple[int, int] | None,
                          counted: int, outside: int, live: int) -> None:
    result = tally(entry(1, at(20), 1200), entry(2, at(21), 1200, live=True),
                   enrolled=enrolled, ended=ended)
    assert result.counted_seconds == counted
    assert result.not_counted_seconds(OUTSIDE_WINDOW) == outside
    assert result.live_interactions == live


def test_window_edges_are_clinic_midnights() -> None:
    last_second = entry(1, at(10, 23, 59, 0), 120)  # 23:59 on the last day, 2 min
    result = tally(last_second, ended=(10, 10))
    assert (result.counted_seconds, result.not_counted_seconds(OUTSIDE_WINDOW)) == (60, 60)
    assert result.not_counted == (NotCounted(1, 60, OUTSIDE_WINDOW),)


# item 5: with a consent date, time before it does not count
@pytest.mark.parametrize(
    ("consent", "counted", "before", "live"),
    [
        (None, 2400, 0, 1),  # no consent date: today's behaviour (a warning elsewhere)
        ((10, 1), 2400, 0, 1),
        ((10, 5), 2400, 0, 1),  # consent on the day of the work: the whole day counts
        ((10, 6), 1200, 1200, 1),
        ((10, 7), 0, 2400, 0),
        ((10, 20), 0, 2400, 0),
    ],
)
def test_consent(consent: tuple[int, int] | None, counted: int, before: int, live: int) -> None:
    result = tally(entry(1, at(5), 1200), entry(2, at(6), 1200, live=True), consent=consent)
    assert result.counted_seconds == counted
    assert result.not_counted_seconds(BEFORE_CONSENT) == before
    assert result.live_interactions == live


# item 6: overlapping clock-timed entries count once; estimated entries are summed
@pytest.mark.parametrize(
    ("entries", "counted", "lost"),
    [
        # the same 20 minutes logged twice by one nurse
        ((entry(1, at(5), 1200), entry(2, at(5), 1200)), 1200, 1200),
        # two staff on the same minutes: one person's time
        ((entry(1, at(5), 1200), entry(2, at(5), 1200, staff=DOCTOR)), 1200, 1200),
        # partial overlap: 10:00-10:20 and 10:10-10:30
        ((entry(1, at(5), 1200), entry(2, at(5, 10, 10), 1200)), 1800, 600),
        # touching, not overlapping
        ((entry(1, at(5), 1200), entry(2, at(5, 10, 20), 1200)), 2400, 0),
        # one inside another, and a third after both
        ((entry(1, at(5), 3600), entry(2, at(5, 10, 10), 600), entry(3, at(5, 12), 60)),
         3660, 600),
        # estimated entries are summed as today, even at the same time
        ((entry(1, at(5), 1200, timed=False), entry(2, at(5), 1200, timed=False)), 2400, 0),
        ((entry(1, at(5), 1200), entry(2, at(5), 1200, timed=False)), 2400, 0),
        # a voided duplicate no longer overlaps
        ((entry(1, at(5), 1200), entry(2, at(5), 1200, voided=True)), 1200, 0),
        # non-clinical time never counts, so it never takes a clinician's minutes either
        ((entry(1, at(5), 1200), entry(2, at(5), 1200, staff=CLERK)), 1200, 0),
    ],
)
def test_clock_timed_union(entries: tuple[EntryTime, ...], counted: int, lost: int) -> None:
    result = tally(*entries)
    assert result.counted_seconds == counted
    assert result.not_counted_seconds(OVERLAP) == lost


def test_overlap_names_the_entry_whose_minutes_were_already_counted() -> None:
    result = tally(entry(7, at(5), 1200), entry(8, at(5, 10, 5), 1200))
    assert result.not_counted == (NotCounted(8, 900, OVERLAP),)


# item 7: an entry across clinic midnight at month end is split
@pytest.mark.parametrize(
    ("start", "seconds", "october", "november"),
    [
        (at(31, 23, 50), 1200, 600, 600),  # 23:50 Oct 31 -> 00:10 Nov 1
        (at(31, 23, 59, 59), 2, 1, 1),
        (at(31, 23, 40), 1200, 1200, 0),  # ends exactly at midnight
        (at(1, 0, 0, 0, month=11), 60, 0, 60),
        (at(30, 23, 50, month=9), 1200, 600, 0),  # from September into October
    ],
)
def test_split_at_clinic_midnight(start: datetime, seconds: int, october: int,
                                  november: int) -> None:
    row = entry(1, start, seconds)
    assert tally(row).counted_seconds == october
    nov_start, nov_end = Month(2026, 11).bounds_utc(NY)
    assert share_seconds(row.started_at, row.ended_at, nov_start, nov_end) == november
    assert share_seconds(row.started_at, row.ended_at, START, END) == october


def test_a_live_interaction_belongs_to_the_month_it_started_in() -> None:
    late_call = entry(1, at(31, 23, 50), 1200, live=True)
    assert tally(late_call).live_interactions == 1
    nov_start, nov_end = Month(2026, 11).bounds_utc(NY)
    november = tally_month([late_call], MonthBounds(nov_start, nov_end), min_live_seconds=30)
    assert (november.live_interactions, november.counted_seconds) == (0, 600)
    from_september = entry(2, at(30, 23, 59, month=9), 120, live=True)
    assert tally(from_september).live_interactions == 0


def test_sub_second_splits_never_round_up() -> None:
    start = (at(31, 23, 59, 30) + timedelta(microseconds=500_000)).astimezone(UTC)
    row = EntryTime(1, NURSE, "clinical_staff", start, start + timedelta(seconds=60), False,
                    False, False)
    nov_start, nov_end = Month(2026, 11).bounds_utc(NY)
    shares = (share_seconds(row.started_at, row.ended_at, START, END),
              share_seconds(row.started_at, row.ended_at, nov_start, nov_end))
    assert shares == (29, 30)  # 29.5 s and 30.5 s, floored


def test_counts_entries_voids_non_clinical_and_staff_shares() -> None:
    result = tally(entry(1, at(5), 600), entry(2, at(6), 300, staff=CLERK),
                   entry(3, at(7), 900, voided=True), entry(4, at(8), 120, staff=DOCTOR,
                                                            live=True))
    assert (result.counted_seconds, result.uncounted_seconds) == (720, 300)
    assert (result.entries, result.voided_entries, result.live_interactions) == (3, 1, 1)
    assert [(s.staff_pk, s.role, s.seconds, s.logged_seconds) for s in result.staff] == [
        (NURSE, "clinical_staff", 600, 600), (CLERK, "non_clinical", 0, 300),
        (DOCTOR, "physician", 120, 120)]
    assert result.first_live_at == at(8).astimezone(UTC)


def test_entries_outside_the_month_are_ignored() -> None:
    result = tally(entry(1, at(1, month=11), 600), entry(2, at(29, month=9), 600))
    assert (result.entries, result.counted_seconds, result.entries_in_window) == (0, 0, 0)


def test_entries_in_window_counts_only_time_inside_the_window() -> None:
    result = tally(entry(1, at(5), 600), entry(2, at(25), 600), ended=(10, 10))
    assert (result.entries, result.entries_in_window) == (2, 1)


# billing office findings 2 and 6: every entry's and every staff member's counted seconds come
# from the same tally and add up to the month's counted seconds
@pytest.mark.parametrize(
    ("entries", "kwargs", "by_entry", "staff"),
    [
        # the same 20 minutes logged twice: the second counts nothing
        ((entry(1, at(5), 1200), entry(2, at(5), 1200)), {},
         [(1, 1200, 1200, ()), (2, 1200, 0, (OVERLAP,))], [(NURSE, 1200, 2400)]),
        # a nurse and a doctor on the same minutes: the first to start gets them
        ((entry(1, at(5), 1200), entry(2, at(5, 10, 10), 1200, staff=DOCTOR)), {},
         [(1, 1200, 1200, ()), (2, 1200, 600, (OVERLAP,))],
         [(DOCTOR, 600, 1200), (NURSE, 1200, 1200)]),
        # all of it outside the window
        ((entry(1, at(25), 1500),), {"ended": (10, 10)},
         [(1, 1500, 0, (OUTSIDE_WINDOW,))], [(NURSE, 0, 1500)]),
        # non-clinical and voided time
        ((entry(1, at(5), 300, staff=CLERK), entry(2, at(6), 600, voided=True)), {},
         [(1, 300, 0, (NON_CLINICAL,)), (2, 600, 0, (VOIDED,))], [(CLERK, 0, 300)]),
    ],
)
def test_entry_and_staff_counts_add_up_to_the_counted_seconds(
        entries: tuple[EntryTime, ...], kwargs: dict[str, tuple[int, int]],
        by_entry: list[tuple[int, int, int, tuple[str, ...]]],
        staff: list[tuple[int, int, int]]) -> None:
    result = tally(*entries, **kwargs)  # type: ignore[arg-type]
    assert [(e.entry_id, e.month_seconds, e.counted_seconds, e.reasons)
            for e in result.by_entry] == by_entry
    assert sorted((s.staff_pk, s.seconds, s.logged_seconds) for s in result.staff) == sorted(staff)
    assert sum(e.counted_seconds for e in result.by_entry) == result.counted_seconds
    assert sum(s.seconds for s in result.staff) == result.counted_seconds


def test_sub_second_counts_are_apportioned_to_the_floored_total() -> None:
    base = at(5).astimezone(UTC)
    rows = [EntryTime(n, NURSE, "clinical_staff", base + timedelta(microseconds=300_000 * n),
                      base + timedelta(seconds=600, microseconds=300_000 * n), False, True,
                      False) for n in (1, 2, 3)]
    result = tally_month(rows, MonthBounds(START, END), min_live_seconds=30)
    assert result.counted_seconds == 600  # 600.6 s of union, floored
    assert sum(e.counted_seconds for e in result.by_entry) == 600


# findings 7/8: live as the tally counts it, entry by entry
def test_a_duplicated_clock_timed_call_is_one_live_interaction() -> None:
    result = tally(entry(1, at(5), 1200, live=True), entry(2, at(5, 10, 5), 600, live=True,
                                                             staff=DOCTOR))
    assert result.live_interactions == 1
    assert result.entry(1) == EntryCount(1, 1200, 1200, (), live=True)
    assert result.entry(2) == EntryCount(2, 600, 0, (OVERLAP,), live=False,
                                         live_note="same live interaction as entry #1")


def test_estimated_live_entries_are_each_an_interaction() -> None:
    result = tally(entry(1, at(5), 1200, live=True, timed=False),
                   entry(2, at(5), 1200, live=True, timed=False))
    assert result.live_interactions == 2


def test_a_short_live_entry_says_why_it_is_not_live() -> None:
    result = tally(entry(1, at(5), 29, live=True))
    assert result.entry(1) == EntryCount(1, 29, 29, (), live=False,
                                         live_note="under 30 s: not a live interaction")
    late = tally(entry(2, at(30, 23, 50, month=9), 1200, live=True)).entry(2)
    assert late is not None and not late.live and "another month" in late.live_note
