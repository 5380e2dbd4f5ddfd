"""Calendar months in the clinic's time zone.

CPT 99457 is counted per calendar month as the clinic lives it, not per UTC month: an entry
at 21:00 on 31 January in New York belongs to January even though it is 1 February in UTC.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing.digits import DIGIT, ONLY_ASCII_DIGITS, has_other_digits
from billing.errors import InvalidInput

_MONTH_FORM = re.compile(rf"({DIGIT}{{4}})-({DIGIT}{{1,2}})")
_DAY_FORM = re.compile(rf"{DIGIT}{{4}}-{DIGIT}{{2}}-{DIGIT}{{2}}")
# The months a clinic can name: each needs the day before it (a month scan reaches back to
# entries that started the day before, store/month_totals.LONGEST_ENTRY) and the month after
# it (its end bound), and Python's dates run from 0001-01-01 to 9999-12-31.
FIRST_MONTH_YEAR = 2
LAST_MONTH_YEAR = 9998


def clinic_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, refused clearly when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"Unknown time zone '{name}': use an IANA name such as "
                           "America/New_York.") from exc


def parse_day(text: str) -> date:
    """A calendar date written YYYY-MM-DD (0-9 only), the one reader of typed dates (the
    CLI's options, import files): '20261103', '2026-W45-2' and '2026-11-3', which Python's
    fromisoformat reads or half-reads, are refused with the form to use."""
    raw = (text or "").strip()
    hint = "use YYYY-MM-DD, e.g. 2026-11-03"
    if has_other_digits(raw):
        raise InvalidInput(f"Cannot read date '{raw[:30]}': {ONLY_ASCII_DIGITS}; {hint}.")
    if not _DAY_FORM.fullmatch(raw):
        raise InvalidInput(f"'{raw[:30]}' is not a date: {hint}.")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"'{raw}' is not a date in the calendar: {hint}.") from None


@dataclass(frozen=True, order=True)
class Month:
    """One calendar month; ordering follows the calendar."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise InvalidInput(f"Not a month: {self.year}-{self.month:02d}.")
        if not FIRST_MONTH_YEAR <= self.year <= LAST_MONTH_YEAR:
            raise InvalidInput(f"Not a month: {self.year:04d}-{self.month:02d} (use a month "
                               f"from {FIRST_MONTH_YEAR:04d}-01 to {LAST_MONTH_YEAR}-12).")

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def parse(cls, text: str) -> "Month":
        """A month from 'YYYY-MM' only: '2026-1' is refused with its right spelling, since a
        month typed loosely (and closed by mistake) is how a billed month goes wrong."""
        raw = (text or "").strip()
        if has_other_digits(raw):  # '２０２６-１１' was read as 2026-11
            raise InvalidInput(f"Cannot read month '{text}': {ONLY_ASCII_DIGITS}; "
                               "use YYYY-MM, e.g. 2026-11.")
        match = _MONTH_FORM.fullmatch(raw)
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise InvalidInput(f"Cannot read month '{text}': use YYYY-MM, e.g. 2026-11.")
        if len(match.group(2)) != 2:
            right = f"{match.group(1)}-{int(match.group(2)):02d}"
            raise InvalidInput(f"Write the month as YYYY-MM: '{right}', not '{raw}'.")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of_day(cls, day: date) -> "Month":
        return cls(day.year, day.month)

    @classmethod
    def containing(cls, instant: datetime, zone: ZoneInfo) -> "Month":
        """The clinic month in which `instant` (zone-aware) falls."""
        if instant.tzinfo is None:
            raise ValueError("instant must be zone-aware")
        return cls.of_day(instant.astimezone(zone).date())

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return _last_day(self.year, self.month)

    @property
    def days(self) -> int:
        return self.last_day.day

    def next(self) -> "Month":
        return Month.of_day(self.last_day + timedelta(days=1))

    def previous(self) -> "Month":
        return Month.of_day(self.first_day - timedelta(days=1))

    def contains(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    def bounds_utc(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) of the clinic month as UTC instants, for range queries."""
        return start_of_day_utc(self.first_day, zone), start_of_day_utc(
            self.next().first_day, zone
        )


@lru_cache(maxsize=1024)  # asked several times per patient row by a month scan
def _last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def start_of_day_utc(day: date, zone: ZoneInfo) -> datetime:
    """Midnight of `day` in the clinic zone, as UTC (DST-safe: zoneinfo resolves the offset)."""
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def days_left(month: Month, today: date) -> int:
    """Days from `today` to the month's end, today included; 0 once the month is over."""
    if today > month.last_day:
        return 0
    if today < month.first_day:
        return month.days
    return (month.last_day - today).days + 1


def clinic_day(instant: datetime, zone: ZoneInfo) -> date:
    """The clinic's calendar day of an instant: what a person reads as "on <date>"
    (21:30 in New York on 20 November is 20 November, although UTC says the 21st)."""
    return instant.astimezone(zone).date()


def clinic_clock(instant: datetime, zone: ZoneInfo) -> str:
    """'21:30 EST': an instant's clinic time of day with the zone's abbreviation."""
    return f"{instant.astimezone(zone):%H:%M %Z}"


def clinic_time(instant: datetime, zone: ZoneInfo) -> str:
    """'2026-11-20 21:30 EST': an instant as the clinic reads it, date and time."""
    return f"{instant.astimezone(zone):%Y-%m-%d %H:%M %Z}"
def months_spanned(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[Month, ...]:
    """The clinic months that [start, end) has time in: an entry across midnight at a month's
    end has a share in both, so a close of either locks it."""
    first = Month.containing(start, zone)
    last = Month.containing(max(start, end - timedelta(microseconds=1)), zone)
    months = [first]
    while months[-1] < last:
        months.append(months[-1].next())
    return tuple(months)
