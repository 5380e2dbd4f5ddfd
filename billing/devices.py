"""The device half of an RPM claim: reading days, 30-day device periods, 99453/99454/99445.

Pure (no I/O, no clock): the service hands in the clinic days on which a patient's device
measured something (`reading_days`, in the clinic zone), the patient's enrolment episodes and
consent date; this module says which days count, how they fall into 30-day periods and which
device codes each period supports. Effective-dated like the time codes (`billing/codes.py`):
each device code has its first (and, once retired, last) month, judged by the month in
which a period starts. Sources and choices: docs/billing-rules.md, "Device codes".

- A day counts when at least one reading was measured on it (clinic zone), inside an
  enrolment episode and on or after the consent date (as for time).
- An episode's periods are consecutive 30-day periods, the first starting on its first
  counted day; a period that would run past the episode's last day is clipped to it.
- A period's codes: 99454 with >= 16 days; else 99445 with >= 2 days when the period starts
  in 2026 or later; else none. Never both. 99453 (set-up and education) once per episode,
  with the episode's first period that supports a device code.
- A period's codes carry its last day as their date of service and belong to that day's month.
- A month's device days: once it has ended, those of the last period whose date of service is
  in it (the one its codes are), else of the period holding its last day; while it runs, of
  the period holding today; else of its last period; counted up to that day: a past month's
  never change afterwards.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from billing.codes import CodeUnits
from billing.months import Month, clinic_day
from billing.programme import Enrolment, Window

CPT_99453 = "99453"  # set-up and patient education on the device, once per episode
CPT_99454 = "99454"  # device supply with daily recordings, 16-30 days in 30
CPT_99445 = "99445"  # 2026+: device supply, 2-15 days in 30; never with 99454
DEVICE_CODES = (CPT_99453, CPT_99454, CPT_99445)

PERIOD_DAYS = 30
FULL_SUPPLY_DAYS = 16  # 99454
SHORT_SUPPLY_DAYS = 2  # 99445

# what a reading measures, and what a device is (the CLI's --kind)
READING_KINDS = ("blood_pressure", "weight", "glucose", "spo2", "other")
DEVICE_KINDS = ("bp_cuff", "scale", "glucometer", "oximeter", "other")


@dataclass(frozen=True)
class DeviceCodeRule:
    """One device-supply code: the fewest reading days a period needs and the months (of a
    period's first day) in which it may be billed; `last_month` None: still valid."""

    code: str
    min_days: int
    first_month: Month
    last_month: Month | None = None

    def valid_in(self, month: Month) -> bool:
        return self.first_month <= month and (self.last_month is None or month <= self.last_month)


# CY2019 PFS: 99453 and 99454 (16 days in 30); CY2026 PFS: 99445 (2-15 days in 30). The
# supply codes in the order they are tried: the first a period reaches is its code.
SUPPLY_CODE_RULES: tuple[DeviceCodeRule, ...] = (
    DeviceCodeRule(CPT_99454, FULL_SUPPLY_DAYS, first_month=Month(2019, 1)),
    DeviceCodeRule(CPT_99445, SHORT_SUPPLY_DAYS, first_month=Month(2026, 1)),
)
SETUP_CODE_RULE = DeviceCodeRule(CPT_99453, 0, first_month=Month(2019, 1))


@dataclass(frozen=True)
class DevicePeriod:
    """One 30-day device period of an episode: its first and last day (clipped to the
    episode's last day), the counted reading days in it and the codes it supports."""

    episode: int  # index of the episode in the patient's Enrolment, oldest first
    start: date
    end: date  # its date of service
    days: tuple[date, ...]
    codes: tuple[CodeUnits, ...]

    @property
    def day_count(self) -> int:
        return len(self.days)

    @property
    def month(self) -> Month:
        """The month whose claim holds this period's codes (its date of service)."""
        return Month.of_day(self.end)

    @property
    def clipped(self) -> bool:
        return (self.end - self.start).days + 1 < PERIOD_DAYS

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def supply_code(self) -> str | None:
        return next((c.code for c in self.codes if c.code != CPT_99453), None)


def supply_code(start: date, days: int,
                rules: tuple[DeviceCodeRule, ...] = SUPPLY_CODE_RULES) -> str | None:
    """The supply code of a period starting on `start` with `days` counted days, or None."""
    month = Month.of_day(start)
    for rule in rules:
        if rule.valid_in(month) and days >= rule.min_days:
            return rule.code
    return None


@dataclass(frozen=True)
class PeriodVerdict:
    """What a device period can still earn, judged on `today` (clinic day): the one rule
    behind "needs N more reading days by DATE" on every screen (dashboard, status, Slack,
    reminders). The best supply code still reachable with the days left (today counted) is
    aimed at; a code out of reach is never; a date in the past is never given (an ended
    period says what it earned)."""

    period: DevicePeriod
    days_left: int  # days from today to the period's last day, today included; 0: ended
    possible: int  # the most reading days the period can still end with
    aim: str | None  # the best supply code still reachable and not yet in
    needed: int  # reading days `aim` still needs (0 without an aim)
    best: str | None  # the best supply code valid for the period (99454 while it is)

    @property
    def ended(self) -> bool:
        return self.days_left == 0

    @property
    def by(self) -> date | None:
        """The last day on which the missing reading days can be measured (with an aim)."""
        return self.period.end if self.aim is not None else None

    @property
    def code(self) -> str | None:
        """The supply code the period has so far."""
        return self.period.supply_code

    def advice(self) -> str:
        """'needs 3 more reading days by 2026-12-18 for 99454', '99445 is in; nothing more
        is reachable this period', 'ended with 3 reading days: earned 99453 + 99445'."""
        days = self.period.day_count
        if self.ended:
            earned = " + ".join(c.code for c in self.period.codes)
            return (f"ended with {_days(days)}: "
                    + (f"earned {earned}" if earned else "no device code"))
        if self.aim is not None:
            text = f"needs {_days(self.needed, 'more ')} by {self.period.end} for {self.aim}"
            if self.best is not None and self.aim != self.best:
                text += f" ({self.best} is out of reach)"
            return text
        if self.code is not None and self.code == self.best:
            return f"{self.code} is in"
        got = f"{self.code} is in; " if self.code is not None else ""
        return (f"{got}nothing more is reachable this period "
                f"({_days(self.possible)} at most by {self.period.end})")


def _days(count: int, more: str = "") -> str:
    return f"{count} {more}reading day{'s' if count != 1 else ''}"


def period_verdict(period: DevicePeriod, today: date,
                   rules: tuple[DeviceCodeRule, ...] = SUPPLY_CODE_RULES) -> PeriodVerdict:
    """The period's verdict on `today`: aim at the best supply code (rules in order) whose
    days the period can still reach, counting today (unless today already has a reading)
    and every day left to its end; none when the period has it, when none is reachable,
    or when the period has ended."""
    if today > period.end:
        days_left = 0
    else:
        days_left = (period.end - max(today, period.start)).days + 1
    open_days = days_left - (1 if today in period.days else 0)
    possible = period.day_count + open_days
    valid = [rule for rule in rules if rule.valid_in(Month.of_day(period.start))]
    best = valid[0].code if valid else None
    aim, needed = None, 0
    if days_left:
        for rule in valid:  # best first
            if period.day_count >= rule.min_days:
                break  # in already; every better code was out of reach
            if possible >= rule.min_days:
                aim, needed = rule.code, rule.min_days - period.day_count
                break
    return PeriodVerdict(period, days_left, possible, aim, needed, best)


def counted_days(reading_days: Iterable[date], enrolment: Enrolment,
                 consent_on: date | None) -> tuple[date, ...]:
    """The distinct days that count: inside an episode, on or after consent; sorted."""
    return tuple(sorted(d for d in set(reading_days)
                        if enrolment.contains(d) and (consent_on is None or d >= consent_on)))


def _episode_of(enrolment: Enrolment, day: date) -> int | None:
    return next((i for i, w in enumerate(enrolment.episodes) if w.contains(day)), None)


def _periods_of_episode(index: int, window: Window, days: tuple[date, ...],
                        through: date | None) -> list[DevicePeriod]:
    """The episode's periods from its first counted day: every period up to the one holding
    its last counted day, and up to the one holding `through` (today) while the episode runs."""
    if not days:
        return []
    anchor = days[0]
    last_needed = days[-1]
    if through is not None and through > last_needed and window.contains(through):
        last_needed = through
    periods: list[DevicePeriod] = []
    setup_billed = False
    start = anchor
    while start <= last_needed:
        end = start + timedelta(days=PERIOD_DAYS - 1)
        if window.ended_on is not None and end > window.ended_on:
            end = window.ended_on
        in_period = tuple(d for d in days if start <= d <= end)
        code = supply_code(start, len(in_period))
        codes: list[CodeUnits] = []
        if code is not None:
            if not setup_billed and SETUP_CODE_RULE.valid_in(Month.of_day(start)):
                codes.append(CodeUnits(CPT_99453, 1))
                setup_billed = True
            codes.append(CodeUnits(code, 1))
        periods.append(DevicePeriod(index, start, end, in_period, tuple(codes)))
        start = end + timedelta(days=1)
    return periods


def device_periods(reading_days: Iterable[date], enrolment: Enrolment,
                   consent_on: date | None, *, through: date | None = None
                   ) -> tuple[DevicePeriod, ...]:
    """Every device period of the patient, oldest first, each with its counted days and
    codes. `through` (today): the period holding it is listed too while its episode runs,
    even before a reading falls in it (the current period)."""
    days = counted_days(reading_days, enrolment, consent_on)
    periods: list[DevicePeriod] = []
    for index, window in enumerate(enrolment.episodes):
        mine = tuple(d for d in days if _episode_of(enrolment, d) == index)
        periods.extend(_periods_of_episode(index, window, mine, through))
    return tuple(periods)


def codes_in_month(periods: Iterable[DevicePeriod], month: Month) -> tuple[CodeUnits, ...]:
    """The device codes the month's claim holds: those of the periods whose date of service
    (last day) falls in it, summed by code in the order 99453, 99454, 99445."""
    units: dict[str, int] = {}
    for period in periods:
        if period.month == month:
            for code in period.codes:
                units[code.code] = units.get(code.code, 0) + code.units
    return tuple(CodeUnits(code, units[code]) for code in DEVICE_CODES if code in units)


def current_period(periods: Iterable[DevicePeriod], today: date) -> DevicePeriod | None:
    """The period holding `today`, if any."""
    return next((p for p in periods if p.contains(today)), None)


def month_period(periods: Sequence[DevicePeriod], month: Month,
                 today: date) -> DevicePeriod | None:
    """The period a month's device days are those of, judged on `today` (clinic day).
    A month that has ended (`today` after its last day): the last period whose date of
    service (last day) is in the month, the one whose codes the month bills; else the one
    holding its last day. The running month: the one holding `today`. Either way, failing
    those, the last one with a day in the month up to that day (it ended with its episode);
    None when no period has a day in the month up to then. Its days are counted up to the
    month's last day (`days_through`), so a past month's never change afterwards."""
    cut = min(today, month.last_day)
    if today > month.last_day:
        billed = [p for p in periods if p.month == month]
        if billed:
            return billed[-1]
    return next((p for p in reversed(periods)
                 if p.start <= cut and p.end >= month.first_day), None)


def days_through(period: DevicePeriod | None, cut: date) -> int:
    """The period's counted days up to `cut`: a month's device days as they stood at its
    end, so a past month's never change with the days after it (later readings of a period
    that runs on into the next month, or a later episode taking those days)."""
    return 0 if period is None else sum(1 for day in period.days if day <= cut)


def has_device_data(periods: Iterable[DevicePeriod], month: Month) -> bool:
    """Whether a period with >= 2 counted days overlaps `month` (audit check
    `time_without_device_data`)."""
    return any(p.day_count >= SHORT_SUPPLY_DAYS and p.start <= month.last_day
               and p.end >= month.first_day for p in periods)


def reading_days(instants: Iterable[datetime], zone: ZoneInfo) -> list[date]:
    """The clinic days of reading instants: the one place readings become days."""
    return [clinic_day(instant, zone) for instant in instants]


def periods_of(instants: Iterable[datetime], enrolment: Enrolment, consent_on: date | None,
               zone: ZoneInfo, *, through: date | None) -> tuple[DevicePeriod, ...]:
    """A patient's device periods from their reading instants (billing.devices' rules)."""
    return device_periods(reading_days(instants, zone), enrolment, consent_on, through=through)
