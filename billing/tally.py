"""What one patient's month counts, from the rows of the month query (pure, no I/O).

The store reads a patient's entries that touch the month (one query for a page of patients);
this function decides, in one place, every rule that turns them into counted seconds and live
interactions (docs/billing-rules.md):

- the month is split at clinic midnight: an entry across it counts its share in each month;
- time outside the enrolment window never counts, nor time before the consent date;
- a live interaction needs `min_live_seconds` (the clinic's policy floor) and belongs to the
  month in which it started, inside the window and after consent; clock-timed live entries
  that overlap in time are one interaction (the same conversation recorded twice, or two
  staff on one call), as their minutes count once;
- a patient's clock-timed entries that overlap count once (the union of their intervals);
  estimated entries are summed.

Arithmetic is in whole microseconds and the totals are floored to seconds at the end, so a
split never rounds anything up and the two shares of an entry add up to its duration. Each
entry's counted seconds (export, staff shares) are the same total apportioned to whole
seconds (largest remainder), so they add up to the month's counted seconds exactly.
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
# Why an entry's share of the month does not count at all, besides REASONS (export only: the
# summary's warnings say these in their own words).
NON_CLINICAL = "non-clinical staff: time never counts"
VOIDED = "voided"

# Why an entry marked live is not a live interaction of the month.
LIVE_SHORT = "under {floor} s: not a live interaction"
LIVE_SAME = "same live interaction as entry #{entry_id}"
LIVE_ELSEWHERE = "started in another month: its live interaction counts there"
LIVE_NOT_ELIGIBLE = "outside the enrolment window or before consent: not counted as live"
LIVE_NON_CLINICAL = "non-clinical staff: not counted as live"

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
    # the enrolment episodes' [start, end) (billing.programme.Enrolment.instants); when
    # given, they replace window_start/window_end (one episode)
    windows: tuple[tuple[datetime | None, datetime | None], ...] = ()


@dataclass(frozen=True)
class NotCounted:
    """Seconds of one entry's share of the month that do not count, and why."""

    entry_id: int
    seconds: int
    reason: str


@dataclass(frozen=True)
class StaffShare:
    """One staff member's counted seconds in the month (role as written on the entries), and
    the standing seconds they logged in it: the counted shares add up to counted_seconds."""

    staff_pk: int
    role: str
    seconds: int  # counted
    logged_seconds: int = 0  # the standing entries' share of the month, counted or not


@dataclass(frozen=True)
class EntryCount:
    """What one entry's share of the month counts: the one answer export, `entries` and a log
    reply show, from the same tally as the month's totals."""

    entry_id: int
    month_seconds: int  # the entry's share of the month (split at clinic midnight)
    counted_seconds: int  # of those, what counts (apportioned whole seconds)
    reasons: tuple[str, ...] = ()  # why the rest does not count
    live: bool = False  # a live interaction of this month
    live_note: str = ""  # marked live but not a live interaction of this month: why

    @property
    def not_counted_seconds(self) -> int:
        return self.month_seconds - self.counted_seconds


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
    by_entry: tuple[EntryCount, ...] = ()  # every entry with time in the month, voided too

    def entry(self, entry_id: int) -> EntryCount | None:
        return next((e for e in self.by_entry if e.entry_id == entry_id), None)

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
    windows: tuple[tuple[int | None, int | None], ...]  # the episodes, never overlapping
    consent: int | None

    @classmethod
    def of(cls, bounds: MonthBounds) -> "_Limits":
        def opt(value: datetime | None) -> int | None:
            return _us(value) if value is not None else None
        spans = bounds.windows or ((bounds.window_start, bounds.window_end),)
        return cls((_us(bounds.month_start), _us(bounds.month_end)),
                   tuple((opt(low), opt(high)) for low, high in spans),
                   opt(bounds.consent_start))

    def eligible(self, instant: int) -> bool:
        """Whether an instant lies inside an episode and after consent."""
        inside = any((low is None or instant >= low) and (high is None or instant < high)
                     for low, high in self.windows)
        return inside and (self.consent is None or instant >= self.consent)

    def windowed(self, start: int, end: int) -> list[tuple[int, int]]:
        """The non-empty parts of [start, end) inside the episodes."""
        parts = [_clip(start, end, low, high) for low, high in self.windows]
        return [part for part in parts if part[1] > part[0]]


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


def _apportion(micros: dict[int, int], caps: dict[int, int]) -> dict[int, int]:
    """Whole seconds per key adding up to the floored total (largest remainder), never more
    than a key's cap (its whole-second share of the month)."""
    seconds = {key: value // _PER_SECOND for key, value in micros.items()}
    left = sum(micros.values()) // _PER_SECOND - sum(seconds.values())
    for key in sorted(micros, key=lambda k: (-(micros[k] % _PER_SECOND), k)):
        if left <= 0 or not micros[key] % _PER_SECOND:
            break
        if seconds[key] < caps[key]:
            seconds[key] += 1
            left -= 1
    return seconds


def _one_per_conversation(live: list[tuple[int, int, int, bool]]) -> dict[int, int]:
    """Live entries (start, end, id, clock-timed) that repeat an earlier clock-timed live
    entry overlapping them in time: {id: the earlier entry's id}. Estimated entries have no
    real time to compare, so each stays an interaction of its own."""
    same: dict[int, int] = {}
    group: tuple[int, int] | None = None  # (reach, first id) of the current conversation
    for start, end, entry_id, clock_timed in sorted(live):
        if not clock_timed:
            continue
        if group is not None and start < group[0]:
            same[entry_id] = group[1]
            group = (max(group[0], end), group[1])
        else:
            group = (end, entry_id)
    return same


@dataclass
class _Entry:
    """One entry's working values in microseconds while the month is tallied."""

    row: EntryTime
    share: int = 0
    counted: int = 0
    lost: dict[str, int] | None = None
    live_note: str = ""


def _live_note(entry: EntryTime, start: int, limits: _Limits, floor: int) -> str:
    """'' when a live entry is a live interaction of the month, else why not."""
    month_start, month_end = limits.month
    if not month_start <= start < month_end:
        return LIVE_ELSEWHERE
    if entry.role not in ROLES_THAT_COUNT:
        return LIVE_NON_CLINICAL
    if not limits.eligible(start):
        return LIVE_NOT_ELIGIBLE
    if _us(entry.ended_at) - start < floor * _PER_SECOND:
        return LIVE_SHORT.format(floor=floor)
    return ""


def tally_month(entries: Iterable[EntryTime], bounds: MonthBounds, *,
                min_live_seconds: int) -> MonthTally:
    """Counted seconds, live interactions and what did not count, for one patient's month."""
    limits = _Limits.of(bounds)
    uncounted = 0
    standing = in_window = voided = 0
    work: list[_Entry] = []
    timed: list[tuple[int, int, int]] = []
    for row in entries:
        start, end = _us(row.started_at), _us(row.ended_at)
        share = _clip(start, end, *limits.month)
        if share[1] == share[0]:
            continue
        item = _Entry(row, share=share[1] - share[0], lost=defaultdict(int))
        assert item.lost is not None
        work.append(item)
        if row.voided:
            voided += 1
            continue
        standing += 1
        if row.live:
            item.live_note = _live_note(row, start, limits, min_live_seconds)
        windowed = limits.windowed(*share)
        in_window += bool(windowed)
        if row.role not in ROLES_THAT_COUNT:
            uncounted += item.share
            item.lost[NON_CLINICAL] += item.share
            continue
        eligible = [_clip(*part, limits.consent, None) for part in windowed]
        inside = sum(high - low for low, high in windowed)
        item.counted = sum(high - low for low, high in eligible)
        assert item.lost is not None
        item.lost[OUTSIDE_WINDOW] += item.share - inside
        item.lost[BEFORE_CONSENT] += inside - item.counted
        if row.clock_timed:
            timed.extend((*part, row.entry_id) for part in eligible if part[1] > part[0])
    by_id = {item.row.entry_id: item for item in work}
    for entry_id, micros in _union(timed)[1]:
        item = by_id[entry_id]
        assert item.lost is not None
        item.lost[OVERLAP] += micros
        item.counted -= micros
    live = [(_us(i.row.started_at), _us(i.row.ended_at), i.row.entry_id, i.row.clock_timed)
            for i in work if i.row.live and not i.row.voided and not i.live_note]
    for entry_id, first in _one_per_conversation(live).items():
        by_id[entry_id].live_note = LIVE_SAME.format(entry_id=first)
    return _result(work, uncounted=uncounted, standing=standing, in_window=in_window,
                   voided=voided)


def _result(work: list[_Entry], *, uncounted: int, standing: int, in_window: int,
            voided: int) -> MonthTally:
    """The tally's values from the worked entries: per entry, per staff and in total."""
    shares = {i.row.entry_id: i.share // _PER_SECOND for i in work}
    counted = _apportion({i.row.entry_id: i.counted for i in work}, shares)
    by_entry = tuple(_entry_count(i, shares, counted) for i in work)
    lost = [NotCounted(i.row.entry_id, micros // _PER_SECOND, reason)
            for i in work for reason, micros in (i.lost or {}).items()
            if micros // _PER_SECOND > 0]
    staff: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for i in work:
        if not i.row.voided:
            key = (i.row.staff_pk, i.row.role)
            staff[key][0] += counted[i.row.entry_id]
            staff[key][1] += shares[i.row.entry_id]
    live = [i for i in work if i.row.live and not i.row.voided]
    return MonthTally(
        counted_seconds=sum(counted.values()), uncounted_seconds=uncounted // _PER_SECOND,
        live_starts=tuple(sorted(i.row.started_at for i in live if not i.live_note)),
        entries=standing, entries_in_window=in_window, voided_entries=voided,
        not_counted=tuple(sorted(lost, key=lambda n: (n.entry_id, n.reason))),
        short_live=tuple(i.row.entry_id for i in live if i.live_note.startswith("under ")),
        staff=tuple(sorted((StaffShare(pk, role, seconds, logged)
                            for (pk, role), (seconds, logged) in staff.items()),
                           key=lambda s: (-s.logged_seconds, s.staff_pk, s.role))),
        by_entry=by_entry,
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


def _entry_count(item: _Entry, shares: dict[int, int], counted: dict[int, int]) -> EntryCount:
    entry_id = item.row.entry_id
    if item.row.voided:
        reasons: tuple[str, ...] = (VOIDED,)
    elif item.row.role not in ROLES_THAT_COUNT:
        reasons = (NON_CLINICAL,)
    else:
        reasons = tuple(r for r in REASONS if (item.lost or {}).get(r, 0) > 0)  # clinical
    return EntryCount(entry_id, shares[entry_id], counted[entry_id], reasons,
                      live=item.row.live and not item.row.voided and not item.live_note,
                      live_note=item.live_note if item.row.live else "")
