"""Boundary tables for the codes a month supports (each row a month scenario)."""

import pytest

from billing.codes import (
    CPT_99457,
    CPT_99458,
    CPT_99470,
    CodeRule,
    CodeUnits,
    MonthActivity,
    assess_month,
    format_codes,
    rule_set_for,
    valid_months,
)
from billing.months import Month

NOV_2026 = Month(2026, 11)
DEC_2025 = Month(2025, 12)
JAN_2026 = Month(2026, 1)


def codes(month: Month, seconds: int, live: int = 1, cap: int = 2) -> str:
    assessment = assess_month(month, MonthActivity(seconds, live), max_add_on_units=cap)
    return format_codes(assessment.codes)


@pytest.mark.parametrize(
    ("month", "seconds", "live", "cap", "expected"),
    [
        # 2026+: 99470 for 10-19 minutes, 99457 from 20
        (NOV_2026, 0, 1, 2, ""),
        (NOV_2026, 599, 1, 2, ""),
        (NOV_2026, 600, 1, 2, "99470"),
        (NOV_2026, 1199, 1, 2, "99470"),  # 19:59 is never rounded up to 20
        (NOV_2026, 1200, 1, 2, "99457"),  # never 99457 with 99470
        (NOV_2026, 2399, 1, 2, "99457"),
        (NOV_2026, 2400, 1, 2, "99457;99458"),
        (NOV_2026, 3599, 1, 2, "99457;99458"),
        (NOV_2026, 3600, 1, 2, "99457;99458x2"),
        (NOV_2026, 10_000, 1, 2, "99457;99458x2"),  # a payer's cap of 2
        (NOV_2026, 4800, 1, 3, "99457;99458x3"),  # the default cap: CMS's MUE of 3
        (NOV_2026, 4799, 1, 3, "99457;99458x2"),
        (NOV_2026, 10_000, 1, 3, "99457;99458x3"),
        (NOV_2026, 10_000, 1, 0, "99457"),
        # no live interaction: nothing at all, whatever the time
        (NOV_2026, 600, 0, 2, ""),
        (NOV_2026, 1200, 0, 2, ""),
        (NOV_2026, 5000, 0, 2, ""),
        # before 2026: no 99470
        (DEC_2025, 600, 1, 2, ""),
        (DEC_2025, 1199, 1, 2, ""),
        (DEC_2025, 1200, 1, 2, "99457"),
        (DEC_2025, 2400, 1, 2, "99457;99458"),
        (JAN_2026, 600, 1, 2, "99470"),  # the first month of the 2026 rules
        # CY2019: 99457 alone; 99458 from CY2020 (issue 11, item 4)
        (Month(2019, 1), 1200, 1, 2, "99457"),
        (Month(2019, 12), 3600, 1, 2, "99457"),
        (Month(2019, 12), 10_000, 1, 3, "99457"),
        (Month(2020, 1), 2399, 1, 2, "99457"),
        (Month(2020, 1), 2400, 1, 2, "99457;99458"),
        # before the codes existed
        (Month(2018, 12), 5000, 1, 2, ""),
    ],
)
def test_codes_by_month_time_and_live(
    month: Month, seconds: int, live: int, cap: int, expected: str
) -> None:
    assert codes(month, seconds, live, cap) == expected


@pytest.mark.parametrize(
    ("month", "seconds", "live", "next_code", "to_next", "needs_live"),
    [
        (NOV_2026, 0, 0, CPT_99470, 600, True),
        (NOV_2026, 599, 1, CPT_99470, 1, False),
        (NOV_2026, 600, 1, CPT_99457, 600, False),
        (NOV_2026, 1199, 1, CPT_99457, 1, False),
        (NOV_2026, 1200, 1, CPT_99458, 1200, False),
        (NOV_2026, 2400, 1, CPT_99458, 1200, False),
        (NOV_2026, 3600, 1, None, None, False),  # cap reached: nothing further
        # time reached but no live: the first reachable code needs 0 s and a live contact
        (NOV_2026, 700, 0, CPT_99470, 0, True),
        (NOV_2026, 1500, 0, CPT_99457, 0, True),
        (DEC_2025, 0, 1, CPT_99457, 1200, False),
        (DEC_2025, 700, 0, CPT_99457, 500, True),
        # 2019 has no add-on: once 99457 is reached nothing further
        (Month(2019, 6), 1200, 1, None, None, False),
        (Month(2019, 6), 3000, 1, None, None, False),
        (Month(2020, 1), 1200, 1, CPT_99458, 1200, False),
    ],
)
def test_what_is_missing_for_the_next_code(
    month: Month, seconds: int, live: int, next_code: str | None, to_next: int | None,
    needs_live: bool,
) -> None:
    assessment = assess_month(month, MonthActivity(seconds, live), max_add_on_units=2)
    assert assessment.next_code == next_code
    assert assessment.seconds_to_next_code == to_next
    assert assessment.needs_live_interaction is needs_live


def test_units_are_reported_per_code() -> None:
    assessment = assess_month(NOV_2026, MonthActivity(3700, 2), max_add_on_units=2)
    assert assessment.codes == (CodeUnits(CPT_99457, 1), CodeUnits(CPT_99458, 2))
    assert assessment.units_of(CPT_99458) == 2
    assert assessment.units_of(CPT_99470) == 0


def test_rule_sets_are_effective_dated_data() -> None:
    assert rule_set_for(Month(2025, 12)).short_code_seconds is None  # type: ignore[union-attr]
    assert rule_set_for(Month(2026, 1)).short_code_seconds == 600  # type: ignore[union-attr]
    assert rule_set_for(Month(2019, 12)).add_on_seconds is None  # type: ignore[union-attr]
    assert rule_set_for(Month(2020, 1)).add_on_seconds == 1200  # type: ignore[union-attr]
    assert rule_set_for(Month(2018, 1)) is None
    future = (CodeRule(CPT_99457, 1200, Month(2019, 1), last_month=Month(2026, 12)),
              CodeRule(CPT_99457, 900, Month(2027, 1)))
    assert rule_set_for(Month(2027, 3), future).first_code_seconds == 900  # type: ignore[union-attr]
    assert rule_set_for(Month(2026, 12), future).first_code_seconds == 1200  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("code", "first", "last"),
    [
        (CPT_99457, Month(2019, 1), None),
        (CPT_99458, Month(2020, 1), None),  # created for CY2020, not 2019
        (CPT_99470, Month(2026, 1), None),
    ],
)
def test_each_code_has_its_first_and_last_valid_month(
    code: str, first: Month, last: Month | None
) -> None:
    assert valid_months(code) == (first, last)


def test_a_retired_code_stops_after_its_last_month() -> None:
    rules = (CodeRule(CPT_99457, 1200, Month(2019, 1)),
             CodeRule(CPT_99458, 1200, Month(2020, 1), last_month=Month(2030, 6)))
    assert rule_set_for(Month(2030, 6), rules).add_on_seconds == 1200  # type: ignore[union-attr]
    assert rule_set_for(Month(2030, 7), rules).add_on_seconds is None  # type: ignore[union-attr]


def test_codes_text_for_billing_offices() -> None:
    assert format_codes((CodeUnits(CPT_99457, 1), CodeUnits(CPT_99458, 2))) == "99457;99458x2"
    assert format_codes(()) == ""


def test_codes_in_words_for_people() -> None:
    """Clinic finding (issue 26 item 15): Slack showed codes as `99457;99458`, the billing
    office's CSV spelling; people read them as a sum."""
    from billing.codes import CodeUnits, codes_in_words

    assert codes_in_words((CodeUnits("99457", 1), CodeUnits("99458", 2))) == "99457 + 99458 ×2"
    assert codes_in_words((CodeUnits("99470", 1),)) == "99470"
    assert codes_in_words(()) == ""
