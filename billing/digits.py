"""The one digits rule, for every channel (Slack, the CLI, the voice menu, Twilio's fields,
settings): only ASCII 0-9 are digits.

Why one rule: Python reads far more than 0-9 as digits. `str.isdigit()`, `int()`,
`Decimal()`, `float()` and an unflagged `\\d` accept Arabic-Indic '٣', full-width '１２' and
other scripts' digits, so '٣' typed at a minutes prompt was logged as 3 minutes; worse,
'²'.isdigit() is True while int('²') raises, so a check with one and a read with the other
answered a phone call with HTTP 500. Input is therefore checked here and nowhere else:
text that is not ASCII digits is refused with a reason, never read, guessed or dropped.
`tests/billing/test_digits.py` holds the adapters and the service to this module.
"""

import re
import unicodedata

DIGIT = "[0-9]"  # one digit, for patterns built elsewhere (never `\d`: it is Unicode)
_DIGITS = re.compile(r"[0-9]+")

# the reason every refusal gives, so that the CLI, Slack and the phone word it one way
ONLY_ASCII_DIGITS = "only the digits 0 to 9 are read"


def is_digits(text: str) -> bool:
    """True when `text` is one or more of 0-9 and nothing else (no sign, space or newline):
    the one test before any `int()` of input."""
    return _DIGITS.fullmatch(text) is not None


def digits_value(text: str) -> int | None:
    """The number `text` spells in 0-9 only, else None (the caller words the refusal)."""
    return int(text) if is_digits(text) else None


def has_other_digits(text: str) -> bool:
    """Whether `text` holds a number character other than 0-9 ('٣', '１', '²', '½', 'Ⅻ'):
    such input is refused with ONLY_ASCII_DIGITS rather than read as something else or
    silently skipped (a transcript '1²' must not become 1 minute)."""
    return any(unicodedata.category(char).startswith("N") and not "0" <= char <= "9"
               for char in text)


__all__ = ["DIGIT", "ONLY_ASCII_DIGITS", "digits_value", "has_other_digits", "is_digits"]
