"""The date of service a month's claim carries (docs/audit.md, "Date of service").

99457/99458/99470 have a calendar-month clock and are billed once per patient per month
(../shared/reference.md); the reference names no date of service. The rule used here: the
clinic day on which the month first supported the base code it bills (99457 or 99470), i.e.
its counted time reached that code's threshold with a live interaction already held. That is
the earliest day the service billed was complete; every code of the month (99458 units
included) carries it. A month that reaches 10 minutes (99470) on the 5th and 20 (99457) on
the 9th bills 99457, dated the 9th.
"""

from datetime import date, timedelta

from billing.codes import CodeUnits, MonthActivity, assess_month
from billing.months import Month

RULE = ("the clinic day on which the month first supported the base code it bills: counted "
        "time reached that code's threshold (20 min for 99457, 10 min for 99470) with a live "
        "interaction already held; add-on units carry the same date")


def date_of_service(month: Month, so_far: tuple[tuple[int, int], ...],
                    codes: tuple[CodeUnits, ...], *, max_add_on_units: int) -> date | None:
    """The first day of `month` whose running totals (counted seconds, live interactions at
    the end of each clinic day, billing.tally.running_totals) support the base code of
    `codes` (what the month bills); None when it bills nothing."""
    if not codes:
        return None
    base = codes[0].code
    for day, (seconds, live) in enumerate(so_far):
        assessed = assess_month(month, MonthActivity(seconds, live),
                                max_add_on_units=max_add_on_units)
        if assessed.units_of(base):
            return month.first_day + timedelta(days=day)
    return None
