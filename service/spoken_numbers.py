"""Numbers as a speech transcript carries them: minutes ("two hundred forty", "an hour and a
half", "1 hour 30 minutes") and a patient number's digits ("one zero four two").

Pure functions, one parser for the voice menu (outside nurse review: "two hundred forty" was
read as 42, "one hundred" as 1, "1 hour" as 1). What cannot be read surely is refused with a
reason, never guessed: "five six" is not 56 nor 11, "ten forty two" is not 1042. A reason
never repeats the transcript's words (a transcript may hold a name): it says what was wrong.
"""

import re
from decimal import Decimal

from billing.digits import DIGIT, has_other_digits, is_digits
from billing.durations import UNIT_SECONDS

_ONES = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
         "seven": 7, "eight": 8, "nine": 9}
_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
          "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_NUMBER_WORDS = _ONES.keys() | _TEENS.keys() | _TENS.keys() | {"hundred"}
# the typed units' words (billing.durations), not their letters: a transcript's "m" or "s"
# is no unit anyone said
_UNITS = {word: size for word, size in UNIT_SECONDS.items() if len(word) > 1}
# a transcript of keyed-in-speech digits: ASR writes homophones for some of them
_DIGIT_WORDS = {**{w: str(n) for w, n in _ONES.items()}, "oh": "0", "o": "0", "to": "2",
                "too": "2", "for": "4", "ate": "8"}
_ID_WORDS = {"patient", "number", "id", "is", "dash", "hyphen"}  # said around the digits
_NUMERAL = re.compile(rf"{DIGIT}+(?:\.{DIGIT}+)?")  # 0-9 only (billing.digits)
_TOKEN = re.compile(rf"{_NUMERAL.pattern}|[a-z]+")

# a comma between digits is a thousands separator only before a group of exactly three
# ('1,000'); any other ('1,5': a decimal comma in some languages) is refused, not dropped
_THOUSANDS = re.compile(rf"(?<={DIGIT}),(?={DIGIT}{{3}}(?!{DIGIT}))")
_UNSURE_COMMA = re.compile(rf"{DIGIT},(?!{DIGIT}{{3}}(?!{DIGIT})){DIGIT}")

SAY_MINUTES = "Say it like twenty five minutes, or key the minutes."
SAY_DIGITS = "Say the digits one at a time, like one zero four two, or key them."


class Unsure(ValueError):
    """The transcript does not surely say one number; the message says why (no words of it)."""


def _tokens(speech: str, say: str) -> list[str]:
    """The numerals and words of a transcript. A number character other than 0-9 ('٣',
    '１', '²') is refused here: the tokens would skip it, so '1²' was heard as 1. So is a
    comma inside a number that is not a thousands separator: '1,5' was heard as 15."""
    if has_other_digits(speech):
        raise Unsure(f"I heard a number written in a way I cannot read. {say}")
    text = speech.lower()
    if _UNSURE_COMMA.search(text):  # '1,5': one and a half, or fifteen?
        raise Unsure(f"I heard a number with a comma in it that I cannot read surely. {say}")
    return _TOKEN.findall(_THOUSANDS.sub("", text).replace(",", " "))


def patient_digits(speech: str) -> str:
    """The digits of a clinic id, said one by one ('P one zero four two' -> '1042');
    numerals pass as they are. A number word above nine, or any word that is not a digit,
    a single letter or 'patient number', is refused: its digits are not sure."""
    out = []
    for token in _tokens(speech, SAY_DIGITS):
        if is_digits(token):
            out.append(token)
        elif token in _DIGIT_WORDS:
            out.append(_DIGIT_WORDS[token])
        elif token in _TEENS or token in _TENS or token == "hundred":
            raise Unsure(f"I heard a number, not its digits. {SAY_DIGITS}")
        elif len(token) > 1 and token not in _ID_WORDS:
            raise Unsure(f"I heard words that are not digits. {SAY_DIGITS}")
    if not out:
        raise Unsure(f"I did not hear any digits. {SAY_DIGITS}")
    return "".join(out)


def spoken_seconds_of(speech: str) -> int:
    """Whole seconds said, for a minutes prompt: 'twenty five' (minutes when no unit), 'two
    hundred forty', 'an hour', '1 hour', 'one and a half hours', 'an hour and fifteen
    minutes', 'an hour thirty'. Fractions of a second are dropped, never rounded up."""
    tokens = _tokens(speech, SAY_MINUTES)
    groups: list[tuple[Decimal, int | None]] = []
    i = 0
    while i < len(tokens):
        if tokens[i] == "and" and groups:
            i += 1
            continue
        quantity, i = _quantity(tokens, i)
        unit = _UNITS.get(tokens[i]) if i < len(tokens) else None
        if unit is not None:
            i += 1
            quantity, i = _and_a_half(tokens, i, quantity)
        groups.append((quantity, unit))
    return _total(groups)


def _total(groups: list[tuple[Decimal, int | None]]) -> int:
    if not groups:
        raise Unsure(f"I did not hear a number. {SAY_MINUTES}")
    if len(groups) == 1 and groups[0][1] is None:
        return int(groups[0][0] * 60)  # a bare number is minutes
    *named, (last, last_unit) = groups
    if last_unit is None:  # 'an hour thirty': minutes after hours, under an hour
        if not (named and named[-1][1] == 3600 and last < 60 and last == int(last)):
            raise Unsure(f"I heard more than one number. {SAY_MINUTES}")
        groups = [*named, (last, 60)]
    units = [unit or 0 for _, unit in groups]
    if 0 in units or units != sorted(set(units), reverse=True):
        raise Unsure(f"I heard more than one number. {SAY_MINUTES}")
    return int(sum(quantity * (unit or 60) for quantity, unit in groups))


def _quantity(tokens: list[str], i: int) -> tuple[Decimal, int]:
    """One amount from tokens[i]: a numeral, 'a'/'an', 'half a(n)', 'a half' or number
    words; then an optional 'and a half'."""
    token = tokens[i]
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    if _NUMERAL.fullmatch(token):
        value, i = Decimal(token), i + 1
    elif token in ("a", "an") and nxt == "half":
        value, i = Decimal("0.5"), i + 2
    elif token == "half" and nxt in ("a", "an"):
        value, i = Decimal("0.5"), i + 2
    elif token in ("a", "an") and nxt != "hundred":
        value, i = Decimal(1), i + 1
    elif token in _NUMBER_WORDS or token in ("a", "an"):
        value, i = _words(tokens, i)
    else:
        raise Unsure(f"I heard words that are not a number of minutes. {SAY_MINUTES}")
    return _and_a_half(tokens, i, value)


def _and_a_half(tokens: list[str], i: int, value: Decimal) -> tuple[Decimal, int]:
    for tail in (["and", "a", "half"], ["and", "half"]):
        if tokens[i:i + len(tail)] == tail:
            return value + Decimal("0.5"), i + len(tail)
    return value, i


# what may follow what in one spoken number: 'two hundred (and) forty five', 'nineteen'
_AFTER = {"start": {"ones", "teens", "tens", "hundred"}, "ones": {"hundred"},
          "hundred": {"ones", "teens", "tens"}, "tens": {"ones"}, "end": set()}


def _kind(word: str) -> str | None:
    if word in _ONES:
        return "ones"
    if word in _TEENS:
        return "teens"
    if word in _TENS:
        return "tens"
    return "hundred" if word in ("hundred", "a", "an") else None


def _words(tokens: list[str], i: int) -> tuple[Decimal, int]:
    """Number words from tokens[i], as far as they make one number: 'two hundred forty'."""
    value, state = 0, "start"
    while i < len(tokens):
        word = tokens[i]
        if word == "and" and state == "hundred" and i + 1 < len(tokens) \
                and _kind(tokens[i + 1]) in ("ones", "teens", "tens"):
            i += 1
            continue
        kind = _kind(word)
        if word in ("a", "an"):
            if state != "start" or i + 1 >= len(tokens) or tokens[i + 1] != "hundred":
                break
            value, i = 1, i + 1
            state = "ones"
            continue
        if kind is None or kind not in _AFTER[state]:
            break
        if kind == "hundred":
            value = (value or 1) * 100
        else:
            value += {**_ONES, **_TEENS, **_TENS}[word]
        state = {"ones": "ones" if state == "start" else "end", "teens": "end",
                 "tens": "tens", "hundred": "hundred"}[kind]
        i += 1
    return Decimal(value), i
