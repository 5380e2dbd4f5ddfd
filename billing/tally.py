"""What one patient's month counts, from the rows of the month query (pure, no I/O).

The store reads a patient's entries that touch the month (one query for a page of patients);
this function decides, in one place, every rule that turns them into counted seconds and live
interactions (docs/billing-rules.md):

- the month is split at clinic midnight: an entry across it counts its share in each month;
- time outside the enrolment window never counts, nor time before the consent date;
- a live interaction needs `min_live_seconds` (the clinic's policy floor) and belongs to the
  month in which it started, inside the window and after consent;
- a patient's clock-timed entries that overlap count once (the union of their intervals);
  estimated entries are summed.

Arithmetic is in whole microseconds and the totals are floored to seconds at the end, so a
split never rounds anything up and the two shares of an entry add up to its duration.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from billing.codes import ROLES_THAT_COUNT

OUTSIDE_WINDOW = "outside the enrolment window"
BEFORE_CONSENT = "before the consent date"
OVERLAP = "overlaps other clock-timed time of this patient (counted once)"
REASONS = (OUTSIDE_WINDOW, BEFORE_CONSENT, OVERLAP)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_PER_SECOND = 1_000_000


def _us(instant: datetime) -> int:
    return (instant - _EPOCH) // _US


@dataclass(frozen=True)
class EntryTime:
    """One entry as the month query reads it."""

    entry_id: int
    staff_pk: int
    role: str  # as written on the entry
    started_at: datetime
    ended_at: datetime
    live: bool
    clock_timed: bool
    voided: bool


@dataclass(frozen=True)
class MonthBounds:
    """The month and the patient's limits, as UTC instants (None: open on that side)."""

    month_start: datetime
    month_end: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    consent_start: datetime | None = None


@dataclass(frozen=True)
class NotCounted:
    """Seconds of one entry's share of the month that do not count, and why."""

    entry_id: int
    seconds: int
    reason: str


@dataclass(frozen=True)
class StaffShare:
    """One staff member's standing seconds in the month (role as written on the entries)."""

    staff_pk: int
    role: str
    seconds: int


@dataclass(frozen=True)
class MonthTally:
    counted_seconds: int
    uncounted_seconds: int  # roles whose time never counts (non-clinical)
    live_starts: tuple[datetime, ...]  # counted live interactions, in time order
    entries: int  # standing entries with time in the month
    entries_in_window: int  # of those, with time inside the enrolment window
    voided_entries: int
    not_counted: tuple[NotCounted, ...] = ()
    short_live: tuple[int, ...] = ()  # entries marked live but under the floor
    staff: tuple[StaffShare, ...] = ()

    @property
    def live_interactions(self) -> int:
        return len(self.live_starts)

    @property
    def first_live_at(self) -> datetime | None:
        return self.live_starts[0] if self.live_starts else None

    def not_counted_seconds(self, reason: str) -> int:
        return sum(n.seconds for n in self.not_counted if n.reason == reason)


def _clip(start: int, end: int, low: int | None, high: int | None) -> tuple[int, int]:
    """[start, end) cut to [low, high); an empty result has end == start."""
    if low is not None:
        start = max(start, low)
    if high is not None:
        end = min(end, high)
    return start, max(start, end)


@dataclass
class _Limits:
    month: tuple[int, int]
    window: tuple[int | None, int | None]
    consent: int | None

    @classmethod
    def of(cls, bounds: MonthBounds) -> "_Limits":
        def opt(value: datetime | None) -> int | None:
            return _us(value) if value is not None else None
        return cls((_us(bounds.month_start), _us(bounds.month_end)),
                   (opt(bounds.window_start), opt(bounds.window_end)),
                   opt(bounds.consent_start))

    def eligible(self, instant: int) -> bool:
        """Whether an instant lies inside the window and after consent."""
        low, high = self.window
        after = all(bound is None or instant >= bound for bound in (low, self.consent))
        return after and (high is None or instant < high)


def _is_live(entry: EntryTime, start: int, limits: _Limits, min_live_seconds: int) -> bool:
    duration = _us(entry.ended_at) - start
    month_start, month_end = limits.month
    return (month_start <= start < month_end and duration >= min_live_seconds * _PER_SECOND
            and limits.eligible(start))


def _union(intervals: list[tuple[int, int, int]]) -> tuple[int, list[tuple[int, int]]]:
    """Microseconds covered by the intervals, and per entry the part already covered."""
    covered, lost, reach = 0, [], None
    for start, end, entry_id in sorted(intervals):
        fresh = end - max(start, reach) if reach is not None else end - start
        fresh = max(fresh, 0)
        covered += fresh
        if end - start - fresh:
            lost.append((entry_id, end - start - fresh))
        reach = end if reach is None else max(reach, end)
    return covered, lost


def share_seconds(started_at: datetime, ended_at: datetime, month_start: datetime,
                  month_end: datetime) -> int:
    """Whole seconds of [started_at, ended_at) inside the month (floored), as tally_month
    splits an entry across clinic midnight."""
    start, end = _clip(_us(started_at), _us(ended_at), _us(month_start), _us(month_end))
    return (end - start) // _PER_SECOND


def tally_month(entries: Iterable[EntryTime], bounds: MonthBounds, *,
                min_live_seconds: int) -> MonthTally:
    """Counted seconds, live interactions and what did not count, for one patient's month."""
    limits = _Limits.of(bounds)
    counted = uncounted = 0
    standing = in_window = voided = 0
    live: list[datetime] = []
    short_live: list[int] = []
    lost: dict[tuple[int, str], int] = defaultdict(int)
    timed: list[tuple[int, int, int]] = []
    staff: dict[tuple[int, str], int] = defaultdict(int)
    for entry in entries:
        start, end = _us(entry.started_at), _us(entry.ended_at)
        share = _clip(start, end, *limits.month)
        if share[1] == share[0]:
            continue
        if entry.voided:
            voided += 1
            continue
        standing += 1
        staff[(entry.staff_pk, entry.role)] += share[1] - share[0]
        windowed = _clip(*share, *limits.window)
        in_window += windowed[1] > windowed[0]
        if entry.role not in ROLES_THAT_COUNT:
            uncounted += share[1] - share[0]
            continue
        eligible = _clip(*windowed, limits.consent, None)
        lost[(entry.entry_id, OUTSIDE_WINDOW)] += (share[1] - share[0]) - (
            windowed[1] - windowed[0])
        lost[(entry.entry_id, BEFORE_CONSENT)] += (windowed[1] - windowed[0]) - (
            eligible[1] - eligible[0])
        if entry.clock_timed:
            timed.append((*eligible, entry.entry_id))
        else:
            counted += eligible[1] - eligible[0]
        if entry.live:
            if _is_live(entry, start, limits, min_live_seconds):
                live.append(entry.started_at)
            elif _is_live(entry, start, limits, 0):
                short_live.append(entry.entry_id)
    covered, overlapped = _union(timed)
    for entry_id, micros in overlapped:
        lost[(entry_id, OVERLAP)] += micros
    not_counted = tuple(NotCounted(entry_id, micros // _PER_SECOND, reason)
                        for (entry_id, reason), micros in sorted(lost.items())
                        if micros // _PER_SECOND > 0)
    shares = sorted((StaffShare(pk, role, micros // _PER_SECOND)
                     for (pk, role), micros in staff.items()),
                    key=lambda s: (-s.seconds, s.staff_pk, s.role))
    return MonthTally(
        counted_seconds=(counted + covered) // _PER_SECOND,
        uncounted_seconds=uncounted // _PER_SECOND,
        live_starts=tuple(sorted(live)), entries=standing, entries_in_window=in_window,
        voided_entries=voided, not_counted=not_counted, short_live=tuple(short_live),
        staff=tuple(shares),
    )


def running_totals(entries: Iterable[EntryTime], bounds: MonthBounds, cuts: Iterable[datetime],
                   *, min_live_seconds: int) -> tuple[tuple[int, int], ...]:
    """(counted seconds, live interactions) of the month up to each cut (e.g. each clinic
    midnight), by the same rules as `tally_month`: the month so far is the month ending at
    the cut, so the dashboard's day-by-day chart never counts what the report would not, and
    its last day is the report's month. A cut that no entry reaches reuses the previous one.
    """
    rows = list(entries)
    totals: list[tuple[int, int]] = []
    previous: datetime | None = None
    for cut in cuts:
        touched = previous is None or any(
            not e.voided and e.started_at < cut and e.ended_at > previous for e in rows)
        if touched or not totals:
            tally = tally_month(rows, replace(bounds, month_end=cut),
                                min_live_seconds=min_live_seconds)
            totals.append((tally.counted_seconds, tally.live_interactions))
        else:
            totals.append(totals[-1])
        previous = cut
    return tuple(totals)
