"""Who is in a month's programme, and the instants of a patient's enrolment window.

One definition for every screen (status, report, summary, risk lists, reminders, dashboard,
App Home): a patient is in a month's programme when their enrolment window (enrolment date to
end date, both days included) overlaps the month. With no enrolment date the window has no
start, and the patient is in the programme of the months in which they have entries inside
the window (as before). See docs/billing-rules.md, "In the month's programme".
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from billing.months import Month, start_of_day_utc


@dataclass(frozen=True)
class Window:
    """A patient's enrolment: first and last day in the programme (None: open that side)."""

    enrolled_on: date | None
    ended_on: date | None

    def overlaps(self, month: Month) -> bool:
        """Whether any day of `month` lies in the window."""
        starts_in_time = self.enrolled_on is None or self.enrolled_on <= month.last_day
        ends_in_time = self.ended_on is None or self.ended_on >= month.first_day
        return starts_in_time and ends_in_time

    def contains(self, day: date) -> bool:
        after_start = self.enrolled_on is None or day >= self.enrolled_on
        return after_start and (self.ended_on is None or day <= self.ended_on)

    def instants(self, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """[start, end) of the window as UTC instants (clinic midnights); None: open."""
        start = start_of_day_utc(self.enrolled_on, zone) if self.enrolled_on else None
        end = (start_of_day_utc(self.ended_on + timedelta(days=1), zone)
               if self.ended_on else None)
        return start, end


def in_programme(month: Month, window: Window, *, entries_in_window: int) -> bool:
    """Whether the patient is in `month`'s programme.

    `entries_in_window`: the patient's standing (not voided) entries with time in the month
    inside the window; it decides only for a patient with no enrolment date.
    """
    if not window.overlaps(month):
        return False
    return window.enrolled_on is not None or entries_in_window > 0


def awaiting_first_entry(month: Month, window: Window, *, created_on: date) -> bool:
    """A patient with no enrolment date who existed by the month's end and had not ended:
    not yet in the programme (no entry), but the risk lists and reminders must see them."""
    return (window.enrolled_on is None and created_on <= month.last_day
            and window.overlaps(month))


DayRange = tuple[date | None, date | None]  # first and last day, inclusive; None: open


def changed_days(old: Window, new: Window) -> tuple[DayRange, ...]:
    """The days a window change moves in or out of the programme: between the old and new
    start, and between the old and new end (an open side is unbounded)."""
    ranges: list[DayRange] = []
    if old.enrolled_on != new.enrolled_on:
        starts = [d for d in (old.enrolled_on, new.enrolled_on) if d is not None]
        first = None if len(starts) < 2 else min(starts)
        ranges.append((first, max(starts) - timedelta(days=1)))
    if old.ended_on != new.ended_on:
        ends = [d for d in (old.ended_on, new.ended_on) if d is not None]
        last = None if len(ends) < 2 else max(ends)
        ranges.append((min(ends) + timedelta(days=1), last))
    return tuple(ranges)


def months_touched(ranges: tuple[DayRange, ...], *, earliest: Month,
                   latest: Month) -> tuple[Month, ...]:
    """The months from `earliest` to `latest` that hold a day of any range, in order."""
    months: set[Month] = set()
    for first, last in ranges:
        month = max(Month.of_day(first), earliest) if first else earliest
        end = min(Month.of_day(last), latest) if last else latest
        while month <= end:
            months.add(month)
            month = month.next()
    return tuple(sorted(months))
