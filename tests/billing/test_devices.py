"""Boundary tables for device days, 30-day device periods and 99453/99454/99445."""

from datetime import date, timedelta

import pytest

from billing.codes import format_codes
from billing.devices import (
    CPT_99445,
    CPT_99453,
    CPT_99454,
    DevicePeriod,
    codes_in_month,
    counted_days,
    current_period,
    days_through,
    device_periods,
    has_device_data,
    month_period,
    period_verdict,
    supply_code,
)
from billing.months import Month
from billing.programme import Enrolment

OPEN = Enrolment.single(None, None)


def run(start: date, count: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(count)]


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 11, 1), 30, "99453;99454"),
        (date(2026, 11, 1), 16, "99453;99454"),
        (date(2026, 11, 1), 15, "99453;99445"),  # 2026+: 2-15 days
        (date(2026, 11, 1), 2, "99453;99445"),
        (date(2026, 11, 1), 1, ""),
        (date(2025, 11, 1), 16, "99453;99454"),
        (date(2025, 11, 1), 15, ""),  # before 2026: no 99445
        (date(2025, 11, 1), 2, ""),
        (date(2025, 12, 31), 2, ""),  # starts in 2025: its 2025 rules, though it ends in 2026
        (date(2026, 1, 1), 2, "99453;99445"),  # the first day of the 2026 rules
        (date(2018, 12, 1), 20, ""),  # before 99453/99454 existed (CY2019)
    ],
)
def test_one_period_codes(start: date, days: int, expected: str) -> None:
    periods = device_periods(run(start, days), OPEN, None)
    assert len(periods) == 1
    assert periods[0].start == start
    assert periods[0].end == start + timedelta(days=29)
    assert periods[0].day_count == days
    assert format_codes(periods[0].codes) == expected


def test_supply_code_never_both() -> None:
    assert supply_code(date(2026, 3, 1), 16) == CPT_99454
    assert supply_code(date(2026, 3, 1), 15) == CPT_99445
    assert supply_code(date(2025, 3, 1), 15) is None


def test_a_period_across_a_month_end_belongs_to_its_last_days_month() -> None:
    # first reading 20 Oct: the period runs 20 Oct - 18 Nov, its codes are November's
    days = run(date(2026, 10, 20), 10) + run(date(2026, 11, 5), 8)
    periods = device_periods(days, OPEN, None)
    assert [(p.start, p.end, p.day_count) for p in periods] == [
        (date(2026, 10, 20), date(2026, 11, 18), 18)]
    assert codes_in_month(periods, Month(2026, 10)) == ()
    assert format_codes(codes_in_month(periods, Month(2026, 11))) == "99453;99454"


def test_consecutive_periods_bill_99453_once_per_episode() -> None:
    days = run(date(2026, 1, 1), 20) + run(date(2026, 1, 31), 3) + run(date(2026, 3, 2), 1)
    periods = device_periods(days, OPEN, None)
    assert [(p.start, p.end, p.day_count, format_codes(p.codes)) for p in periods] == [
        (date(2026, 1, 1), date(2026, 1, 30), 20, "99453;99454"),
        (date(2026, 1, 31), date(2026, 3, 1), 3, "99445"),
        (date(2026, 3, 2), date(2026, 3, 31), 1, ""),
    ]


def test_99453_waits_for_the_first_period_with_a_code() -> None:
    days = [date(2025, 6, 1)] + run(date(2025, 7, 1), 16)
    periods = device_periods(days, OPEN, None)
    assert [format_codes(p.codes) for p in periods] == ["", "99453;99454"]


def test_a_second_episode_starts_its_own_periods_and_its_own_99453() -> None:
    enrolment = Enrolment.of([(date(2026, 1, 1), date(2026, 2, 10)),
                              (date(2026, 3, 1), None)])
    days = (run(date(2026, 1, 5), 20) + run(date(2026, 2, 5), 6) + run(date(2026, 2, 15), 5)
            + run(date(2026, 3, 3), 2))
    periods = device_periods(days, enrolment, None)
    assert [(p.episode, p.start, p.end, p.day_count, format_codes(p.codes))
            for p in periods] == [
        (0, date(2026, 1, 5), date(2026, 2, 3), 20, "99453;99454"),
        # clipped to the episode's last day, which is its date of service
        (0, date(2026, 2, 4), date(2026, 2, 10), 6, "99445"),
        # the days between episodes (15-19 Feb) count for nothing
        (1, date(2026, 3, 3), date(2026, 4, 1), 2, "99453;99445"),
    ]
    assert periods[1].clipped
    assert format_codes(codes_in_month(periods, Month(2026, 2))) == "99453;99454;99445"


def test_readings_outside_the_window_or_before_consent_do_not_count() -> None:
    enrolment = Enrolment.single(date(2026, 11, 3), date(2026, 11, 25))
    days = run(date(2026, 11, 1), 30)
    assert counted_days(days, enrolment, date(2026, 11, 10)) == tuple(
        run(date(2026, 11, 10), 16))
    periods = device_periods(days, enrolment, date(2026, 11, 10))
    assert [(p.start, p.end, p.day_count, format_codes(p.codes)) for p in periods] == [
        (date(2026, 11, 10), date(2026, 11, 25), 16, "99453;99454")]


def test_two_readings_on_one_day_are_one_day() -> None:
    days = [date(2026, 11, 1), date(2026, 11, 1)]
    periods = device_periods(days, OPEN, None)
    assert periods[0].day_count == 1 and periods[0].codes == ()


def test_the_current_period_is_listed_before_its_first_reading() -> None:
    periods = device_periods(run(date(2026, 9, 1), 20), OPEN, None, through=date(2026, 11, 20))
    assert [(p.start, p.day_count) for p in periods] == [
        (date(2026, 9, 1), 20), (date(2026, 10, 1), 0), (date(2026, 10, 31), 0)]
    current = current_period(periods, date(2026, 11, 20))
    assert current is not None and current.end == date(2026, 11, 29)
    ended = Enrolment.single(None, date(2026, 9, 30))
    assert len(device_periods(run(date(2026, 9, 1), 20), ended, None,
                              through=date(2026, 11, 20))) == 1


# The at-risk verdict "needs N more reading days by DATE" (issue 28, outside try): aim at
# 99454 only while 16 days are still reachable (today counted), else at 99445 when reachable
# and valid (periods from 2026), else nothing more; never a date in the past.
@pytest.mark.parametrize(
    ("start", "days", "today", "expected"),
    [
        # 30-day period 1-30 Nov 2026, readings on its first `days` days
        (date(2026, 11, 1), 1, date(2026, 11, 2), "needs 15 more reading days by 2026-11-30 "
                                                  "for 99454"),
        # 1 day, today the 16th: 15 days left (16th to 30th) + 1 = 16: still reachable
        (date(2026, 11, 1), 1, date(2026, 11, 16), "needs 15 more reading days by "
                                                   "2026-11-30 for 99454"),
        # the 17th: 14 days left + 1 = 15 < 16: aim at 99445 (1 more day)
        (date(2026, 11, 1), 1, date(2026, 11, 17), "needs 1 more reading day by 2026-11-30 "
                                                   "for 99445 (99454 is out of reach)"),
        # 99445 in, 99454 out of reach: nothing more
        (date(2026, 11, 1), 5, date(2026, 11, 25), "99445 is in; nothing more is reachable "
                                                   "this period (11 reading days at most by "
                                                   "2026-11-30)"),
        # 99445 in, 99454 reachable: aim at it
        (date(2026, 11, 1), 5, date(2026, 11, 6), "needs 11 more reading days by 2026-11-30 "
                                                  "for 99454"),
        (date(2026, 11, 1), 16, date(2026, 11, 20), "99454 is in"),
        # the last day, no reading yet: one day can still come, 99445 needs 2
        (date(2026, 11, 1), 0, date(2026, 11, 30), "nothing more is reachable this period "
                                                   "(1 reading day at most by 2026-11-30)"),
        (date(2026, 11, 1), 1, date(2026, 11, 30), "needs 1 more reading day by 2026-11-30 "
                                                   "for 99445 (99454 is out of reach)"),
        # 2025: no 99445; once 16 is out of reach nothing is
        (date(2025, 11, 1), 3, date(2025, 11, 20), "nothing more is reachable this period "
                                                   "(14 reading days at most by 2025-11-30)"),
        (date(2025, 11, 1), 3, date(2025, 11, 10), "needs 13 more reading days by 2025-11-30 "
                                                   "for 99454"),
        # ended: what it earned, never a date to act by
        (date(2026, 11, 1), 3, date(2026, 12, 1), "ended with 3 reading days: earned "
                                                  "99453 + 99445"),
        (date(2026, 11, 1), 1, date(2026, 12, 5), "ended with 1 reading day: no device code"),
    ],
)
def test_period_verdict_aims_at_the_best_code_still_reachable(
        start: date, days: int, today: date, expected: str) -> None:
    if days:
        [period] = device_periods(run(start, days), OPEN, None)
    else:  # a period with no reading day yet (the one after a coded period)
        period = DevicePeriod(0, start, start + timedelta(days=29), (), ())
    verdict = period_verdict(period, today)
    assert verdict.advice() == expected
    assert verdict.by is None or verdict.by >= today  # never a date in the past
    assert verdict.ended == (today > period.end)


def test_a_reading_today_is_not_counted_twice() -> None:
    """Today's reading is in; today cannot add a second day: 1-17 Nov with today the 17th
    read on it: 2 days + 13 left after today = 15: 99454 is out of reach."""
    readings = [date(2026, 11, 1), date(2026, 11, 17)]
    [period] = device_periods(readings, OPEN, None)
    verdict = period_verdict(period, date(2026, 11, 17))
    assert (verdict.possible, verdict.aim) == (15, None)
    assert verdict.advice().startswith("99445 is in; nothing more is reachable")
    without = period_verdict(device_periods(readings[:1], OPEN, None)[0], date(2026, 11, 17))
    assert (without.possible, without.aim, without.needed) == (15, CPT_99445, 1)


def test_a_clipped_period_is_judged_to_its_own_end() -> None:
    """An episode ending on 10 November clips the period: on the 20th it has ended (no
    'by 2026-11-10'); on the 8th only 3 days are left."""
    ended = Enrolment.single(None, date(2026, 11, 10))
    [period] = device_periods(run(date(2026, 11, 1), 3), ended, None)
    assert period.end == date(2026, 11, 10)
    late = period_verdict(period, date(2026, 11, 20))
    assert late.ended and late.by is None
    assert late.advice() == "ended with 3 reading days: earned 99453 + 99445"
    early = period_verdict(period, date(2026, 11, 8))
    assert (early.days_left, early.possible, early.aim) == (3, 6, None)
    assert early.advice() == ("99445 is in; nothing more is reachable this period "
                              "(6 reading days at most by 2026-11-10)")


def test_device_data_in_a_month_needs_two_days() -> None:
    one = device_periods([date(2026, 11, 5)], OPEN, None)
    two = device_periods([date(2026, 11, 5), date(2026, 11, 6)], OPEN, None)
    assert not has_device_data(one, Month(2026, 11))
    assert has_device_data(two, Month(2026, 11))
    assert has_device_data(two, Month(2026, 12))  # the period runs to 4 Dec
    assert not has_device_data(two, Month(2026, 10))
    assert CPT_99453 and CPT_99445


def test_time_codes_without_device_data_is_a_finding() -> None:
    from zoneinfo import ZoneInfo

    from billing.audit_checks import (
        TIME_WITHOUT_DEVICE_DATA,
        MonthFacts,
        PatientMonth,
        run_checks,
    )

    facts = MonthFacts(Month(2026, 11), ZoneInfo("America/New_York"), patients=(
        PatientMonth("P-1", 1200, "99457", device_data=False),
        PatientMonth("P-2", 1200, "99457", device_data=True),
        PatientMonth("P-3", 300, "", device_data=False),  # no codes: nothing to ask
        PatientMonth("P-4", 1200, "99457"),  # not known: never a finding
    ))
    found = [f for f in run_checks(facts) if f.check == TIME_WITHOUT_DEVICE_DATA]
    assert [f.patient_id for f in found] == ["P-1"]


def test_a_months_device_days_stand_as_at_its_last_day_whatever_episode_follows() -> None:
    october, today = Month(2026, 10), date(2026, 11, 20)

    def october_days(first: date, enrolment: Enrolment) -> tuple[date, date, int]:
        days = run(first, (today - first).days + 1)  # every day to 20 November (today)
        periods = device_periods(days, enrolment, None, through=today)
        period = month_period(periods, october, today)
        assert period is not None
        return period.start, period.end, days_through(period, october.last_day)

    one = Enrolment.of([(date(2026, 10, 1), None)])
    # ended on 5 November, enrolled again on 10 November: the period holding 31 October is
    # clipped to 5 November; October's days are counted to 31 October either way
    two = Enrolment.of([(date(2026, 10, 1), date(2026, 11, 5)), (date(2026, 11, 10), None)])
    # from 1 October: 1-30 October is the period October bills; its 30 days, not the next
    # period's 1 (31 October, running on into November)
    assert october_days(date(2026, 10, 1), one) == (date(2026, 10, 1), date(2026, 10, 30), 30)
    assert october_days(date(2026, 10, 1), two) == (date(2026, 10, 1), date(2026, 10, 30), 30)
    # from 5 October: no period ends in October; the one holding 31 October, to that day
    assert october_days(date(2026, 10, 5), one) == (date(2026, 10, 5), date(2026, 11, 3), 27)
    assert october_days(date(2026, 10, 5), two) == (date(2026, 10, 5), date(2026, 11, 3), 27)
    november = device_periods(run(date(2026, 10, 1), 51), two, None, through=today)
    running = month_period(november, Month(2026, 11), today)
    assert running is not None and running.episode == 1
    assert days_through(running, today) == 11  # 10-20 November, the new episode's


def test_an_ended_month_has_the_period_it_bills_the_running_one_the_period_of_today() -> None:
    # 15 October - 13 November (20 days) bills November; 14 November - 13 December has none
    periods = device_periods(run(date(2026, 10, 15), 20), OPEN, None,
                             through=date(2026, 12, 5))
    november = Month(2026, 11)
    ended = month_period(periods, november, date(2026, 12, 5))
    assert ended is not None and (ended.start, ended.end) == (date(2026, 10, 15),
                                                              date(2026, 11, 13))
    assert days_through(ended, november.last_day) == 20
    running = month_period(periods, november, date(2026, 11, 30))  # its last day: running
    assert running is not None and running.start == date(2026, 11, 14)
    assert days_through(running, november.last_day) == 0


def test_a_month_ending_between_episodes_has_its_last_period() -> None:
    ended = Enrolment.of([(date(2026, 9, 1), date(2026, 10, 10))])
    periods = device_periods(run(date(2026, 9, 1), 40), ended, None,
                             through=date(2026, 10, 31))
    october = month_period(periods, Month(2026, 10), date(2026, 10, 31))
    assert october is not None and (october.start, october.end) == (date(2026, 10, 1),
                                                                      date(2026, 10, 10))
    assert days_through(october, date(2026, 10, 31)) == 10
    assert current_period(periods, date(2026, 10, 31)) is None  # none holds its last day
    assert month_period(periods, Month(2026, 12), date(2026, 12, 31)) is None
