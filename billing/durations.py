"""The one duration parser: every adapter turns typed durations into seconds here.

Seconds are exact (2.5m is 150 s) and never rounded up: a fraction of a second is dropped,
so a logged duration can only ever understate the work, never overstate it.
"""

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from billing.activities import is_activity
from billing.digits import DIGIT, ONLY_ASCII_DIGITS, has_other_digits
from billing.errors import InvalidInput, quoted

ACCEPTED_FORMS = "12m, 12 min, 12 (minutes), 1h5m, 1h 5m, 1:05 (h:mm), 90s, 2.5m"

# ASCII digits only (billing.digits): `\d` also matches '٣' or '３', which Decimal reads as 3
_NUMBER = rf"{DIGIT}+(?:\.{DIGIT}+)?"
UNIT_SECONDS = {
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
}
_PART = re.compile(rf"({_NUMBER})\s*([a-z]+)\s*")
_UNITS_FORM = re.compile(rf"(?:{_NUMBER}\s*[a-z]+\s*)+")
_PLAIN_MINUTES = re.compile(_NUMBER)
_CLOCK_FORM = re.compile(rf"({DIGIT}+):([0-5]{DIGIT})")
_SHAPE_ONLY = None  # word splitting asks only whether words read as a duration, not its limit


def _refuse(text: str, why: str) -> InvalidInput:
    return InvalidInput(f"Cannot use duration {quoted(text)}: {why}. "
                        f"Accepted forms: {ACCEPTED_FORMS}.")


def _units_total(text: str, folded: str) -> Decimal:
    total = Decimal(0)
    seen: set[int] = set()
    for number, unit in _PART.findall(folded):
        size = UNIT_SECONDS.get(unit)
        if size is None:
            raise _refuse(text, f"unknown unit '{unit}'")
        if size in seen:
            raise _refuse(text, "a unit appears twice")
        seen.add(size)
        total += Decimal(number) * size
    return total


def _exact_seconds(text: str, folded: str) -> Decimal:
    if _PLAIN_MINUTES.fullmatch(folded):
        return Decimal(folded) * 60
    clock = _CLOCK_FORM.fullmatch(folded)
    if clock:
        return Decimal(int(clock.group(1)) * 3600 + int(clock.group(2)) * 60)
    if _UNITS_FORM.fullmatch(folded):
        return _units_total(text, folded)
    raise _refuse(text, "not a duration")


def parse_duration(text: str, *, max_seconds: int | None) -> int:
    """Whole seconds in `text`, refusing zero, negative, unreadable and over-long input.

    `max_seconds=None` checks the shape only: the limit is the caller's (MAX_ENTRY_MINUTES),
    so a refusal never names some other number as "the limit"."""
    folded = (text or "").strip().lower()
    if not folded:
        raise _refuse(text, "it is empty")
    if folded.startswith("-"):
        raise _refuse(text, "it must be positive")
    if has_other_digits(folded):  # '１２m' looks like 12m: say why it is not read as such
        raise _refuse(text, ONLY_ASCII_DIGITS)
    try:
        seconds = int(_exact_seconds(text, folded))  # int() truncates: never rounds up
    except InvalidOperation as exc:  # pragma: no cover - the regexes admit only decimals
        raise _refuse(text, "not a number") from exc
    if seconds <= 0:
        raise _refuse(text, "it must be at least one second")
    if max_seconds is not None and seconds > max_seconds:
        raise _refuse(text, f"it is over the {max_seconds // 60}-minute limit for one entry")
    return seconds


def looks_like_duration(text: str) -> bool:
    """Whether a word is meant as a duration, so grammars can tell it from a patient id."""
    folded = text.strip().lower()
    return bool(
        _PLAIN_MINUTES.fullmatch(folded)
        or _CLOCK_FORM.fullmatch(folded)
        or _UNITS_FORM.fullmatch(folded)
    )


def duration_word_count(words: Sequence[str], start: int = 0) -> int:
    """How many words from `start` form one duration: 2 for '12 mins' or '1h 5m' typed as
    separate words (unless the second is an activity), 1 for '12m', 0 for no duration.

    Shells and Slack both split on spaces, so every adapter asks here rather than guessing."""
    if start >= len(words):
        return 0
    if start + 1 < len(words) and not is_activity(words[start + 1]):
        pair = f"{words[start]} {words[start + 1]}"
        if looks_like_duration(pair) and _parses(pair):
            return 2
    return 1 if looks_like_duration(words[start]) and _parses(words[start]) else 0


def _parses(text: str) -> bool:
    try:
        parse_duration(text, max_seconds=_SHAPE_ONLY)
    except InvalidInput:
        return False
    return True


def minutes_floor(seconds: int) -> int:
    """Whole minutes as shown to people: 1,199 s is 19 minutes, never 20."""
    return max(seconds, 0) // 60


def format_seconds(seconds: int) -> str:
    """'19 min 59 s' style text for people, floored to whole seconds."""
    minutes, rest = divmod(max(seconds, 0), 60)
    if minutes and rest:
        return f"{minutes} min {rest} s"
    if minutes:
        return f"{minutes} min"
    return f"{rest} s"
