"""Who is in a month's programme, and the instants of a patient's enrolment episodes.

One definition for every screen (status, report, summary, risk lists, reminders, dashboard,
App Home): a patient is in a month's programme when one of their enrolment episodes
(enrolment date to end date, both days included) overlaps the month (issue 26 #10: a patient
who ended and enrolled again has two episodes, and the days between them count for nothing).
With no enrolment date the first episode starts when the patient was added (or at their first
entry, if back-dated earlier): a patient added with nothing logged yet is the one the clinic
must not forget, so they are on the report and the risk lists alike (issue 13 #3). See
docs/billing-rules.md, "In the month's programme" and "Enrolment episodes".
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from billing.months import Month, start_of_day_utc


@dataclass(frozen=True)
class Window:
    """One enrolment episode: first and last day in the programme (None: open that side)."""

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


_Span = tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class Enrolment:
    """A patient's enrolment episodes, oldest first, never overlapping: only the first may
    have no enrolment date, only the last may be open (not ended). A patient with no
    episode on record has one open window (None, None), as before episodes were kept."""

    episodes: tuple[Window, ...]

    @classmethod
    def of(cls, spans: Iterable[tuple[date | None, date | None]]) -> "Enrolment":
        """The episodes of (started_on, ended_on) pairs in any order (an unknown start
        first); none at all: one window open on both sides."""
        ordered = sorted(spans, key=lambda s: (s[0] is not None, s[0] or date.min))
        return cls(tuple(Window(start, end) for start, end in ordered) or (Window(None, None),))

    @classmethod
    def single(cls, enrolled_on: date | None, ended_on: date | None) -> "Enrolment":
        return cls((Window(enrolled_on, ended_on),))

    @property
    def current(self) -> Window:
        """The latest episode: what `--enrolled` and `patient end` change."""
        return self.episodes[-1]

    def in_month(self, month: Month) -> tuple[Window, ...]:
        """The episodes with a day in `month`."""
        return tuple(w for w in self.episodes if w.overlaps(month))

    def overlaps(self, month: Month) -> bool:
        """Whether any day of `month` lies in an episode."""
        return bool(self.in_month(month))

    def contains(self, day: date) -> bool:
        return self.outside(day) is None

    def outside(self, day: date) -> tuple[str, date] | None:
        """Why `day` is in no episode: ("enrolled", the first day) before the first,
        ("ended", the last day of the episode before it) after an end (between two episodes
        or after the last), None inside one. Each adapter words it (CLI, Slack, voice)."""
        why: tuple[str, date] | None = None
        for window in self.episodes:
            outside = window.outside(day)
            if outside is None:
                return None
            if outside[0] == "enrolled":
                return why or outside
            why = outside
        return why

    def instants(self, zone: ZoneInfo) -> tuple[_Span, ...]:
        """Each episode's [start, end) as UTC instants (clinic midnights); None: open."""
        return tuple(window.instants(zone) for window in self.episodes)

    def days_in(self, month: Month) -> tuple[tuple[date, date], ...]:
        """The (first, last) days of `month` inside each episode that overlaps it."""
        return tuple((max(month.first_day, w.enrolled_on or month.first_day),
                      min(month.last_day, w.ended_on or month.last_day))
                     for w in self.in_month(month))


def in_programme(month: Month, window: "Window | Enrolment", *, entries_in_window: int,
                 created_on: date) -> bool:
    """Whether the patient is in `month`'s programme: an episode overlaps the month.

    When the only such episode has no enrolment date, `created_on` (the clinic day the
    patient was added) and `entries_in_window` (standing entries with time in the month
    inside an episode) decide: added by the month's last day, or time logged in the month (a
    back-dated entry).
    """
    enrolment = window if isinstance(window, Enrolment) else Enrolment((window,))
    episodes = enrolment.in_month(month)
    if not episodes:
        return False
    if any(w.enrolled_on is not None for w in episodes):
        return True
    return created_on <= month.last_day or entries_in_window > 0
