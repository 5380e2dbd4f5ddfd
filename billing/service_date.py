"""The date of service a month's claim carries (docs/audit.md, "Date of service").

99457/99458/99470 have a calendar-month clock and are billed once per patient per month
(../shared/reference.md); the reference names no date of service. The rule used here: the
clinic day on which the month first supported a code, i.e. its counted time reached the
base code's threshold with a live interaction already held. That is the earliest day the
service was complete; every code of the month (99458 units included) carries it.
"""

from datetime import date, timedelta

from billing.codes import MonthActivity, assess_month
from billing.months import Month

RULE = ("the clinic day on which the month first supported a code: its counted time reached "
        "the base code's threshold (20 min for 99457, 10 min for 99470) and a live "
        "interaction had taken place")


def date_of_service(month: Month, so_far: tuple[tuple[int, int], ...], *,
                    max_add_on_units: int) -> date | None:
    """The first day of `month` whose running totals (counted seconds, live interactions at
    the end of each clinic day, billing.tally.running_totals) support a code; None when the
    month supports none."""
    for day, (seconds, live) in enumerate(so_far):
        assessed = assess_month(month, MonthActivity(seconds, live),
                                max_add_on_units=max_add_on_units)
        if assessed.codes:
            return month.first_day + timedelta(days=day)
    return None
