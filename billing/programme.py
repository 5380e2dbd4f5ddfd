"""Who is in a month's programme, and the instants of a patient's enrolment window.

One definition for every screen (status, report, summary, risk lists, reminders, dashboard,
App Home): a patient is in a month's programme when their enrolment window (enrolment date to
end date, both days included) overlaps the month. With no enrolment date the window starts
when the patient was added (or at their first entry, if back-dated earlier): a patient added
with nothing logged yet is the one the clinic must not forget, so they are on the report and
the risk lists alike (issue 13 #3). See docs/billing-rules.md, "In the month's programme".
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
        return self.outside(day) is None

    def outside(self, day: date) -> tuple[str, date] | None:
        """Why `day` is outside the window: ("enrolled", the first day) before it, ("ended",
        the last day) after it, None inside. Each adapter words it (CLI, Slack, voice)."""
        if self.enrolled_on is not None and day < self.enrolled_on:
            return "enrolled", self.enrolled_on
        if self.ended_on is not None and day > self.ended_on:
            return "ended", self.ended_on
        return None

    def instants(self, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """[start, end) of the window as UTC instants (clinic midnights); None: open."""
        start = start_of_day_utc(self.enrolled_on, zone) if self.enrolled_on else None
        end = (start_of_day_utc(self.ended_on + timedelta(days=1), zone)
               if self.ended_on else None)
        return start, end


def in_programme(month: Month, window: Window, *, entries_in_window: int,
                 created_on: date) -> bool:
    """Whether the patient is in `month`'s programme.

    With no enrolment date, `created_on` (the clinic day the patient was added) and
    `entries_in_window` (standing entries with time in the month inside the window) decide:
    added by the month's last day, or time logged in the month (a back-dated entry).
    """
    if not window.overlaps(month):
        return False
    if window.enrolled_on is not None:
        return True
    return created_on <= month.last_day or entries_in_window > 0
