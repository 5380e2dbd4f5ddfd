"""Phone numbers: normalised to E.164 in one place, masked wherever they are shown."""

import itertools
import re
import unicodedata

import phonenumbers

from billing.digits import DIGIT
from billing.errors import quoted
from service.errors import BadInput


class BadPhone(BadInput):
    """A number refused as typed; `reason` says why without the number (an import's list of
    bad rows names the cell, never the number)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _parse(text: str, region: str) -> tuple[str, phonenumbers.PhoneNumber]:
    """The one reader of typed phone numbers. Letters are refused: phonenumbers reads them as
    keypad digits (`617-ALE-ADAD` is +1 617 253 2323), so a vanity spelling would find a
    patient by a text no log filter recognises as a number (store/logsafe counts digits)."""
    raw = (text or "").strip()
    if raw.startswith("client:"):
        raise BadPhone(f"{quoted(raw)} is a Twilio client identity, not a phone number.",
                       "a Twilio client identity, not a phone number")
    if any(c.isalpha() for c in raw):
        raise BadPhone(f"Cannot read phone number {quoted(raw)}: letters are not read as "
                       "digits; type the digits, such as +1 617 555 0123.",
                       "not a number: it holds letters")
    try:
        return raw, phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise BadPhone(f"Cannot read phone number {quoted(raw)}: use a form such as "
                       "+1 617 555 0123 or (617) 555-0123.",
                       "not readable as a phone number (e.g. +1 617 555 0123)") from exc


def normalize_phone(text: str, *, region: str) -> str:
    """E.164 for a number typed in any common format, or a refusal. Lenient on purpose: it
    finds and removes numbers already stored; numbers to be stored go through valid_phone."""
    raw, number = _parse(text, region)
    if not phonenumbers.is_possible_number(number):
        raise BadPhone(f"{quoted(raw)} is not a possible phone number.",
                       "not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_LENGTH_REASONS = {
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "a local number without its area code",
    phonenumbers.ValidationResult.TOO_SHORT: "too few",
    phonenumbers.ValidationResult.TOO_LONG: "too many",
    phonenumbers.ValidationResult.INVALID_LENGTH: "no number there has that many",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "an unknown country code",
}


def _why_invalid(number: phonenumbers.PhoneNumber, *, anonymous: bool = False) -> str:
    """Why phonenumbers (Google's numbering-plan data) says no call can come from it;
    `anonymous`: in words that hold none of its digits."""
    digits = str(number.national_number)
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in _LENGTH_REASONS:
        return f"{len(digits)} digits after +{number.country_code}: {_LENGTH_REASONS[reason]}"
    if number.country_code == 1 and anonymous:
        return "no area code and exchange in use there"
    if number.country_code == 1:
        return (f"+1 {digits[:3]} {digits[3:6]} is not an area code and exchange in use "
                "(fictional numbers: +1 202 555 0100 to 0199)")
    return f"the +{number.country_code} numbering plan has no such number"


def valid_phone(text: str, *, region: str) -> str:
    """E.164 of a number a call could really come from, for storing: '555-0000' stored as
    +15550000 would never match any call, so it is refused with the reason."""
    raw, number = _parse(text, region)
    if not phonenumbers.is_valid_number(number):
        raise BadPhone(f"{quoted(raw)} is not a valid phone number: {_why_invalid(number)}.",
                       f"not a valid phone number: {_why_invalid(number, anonymous=True)}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_normalize_phone(text: str, *, region: str) -> str | None:
    """E.164 or None, for lookups where a non-number simply matches nothing."""
    try:
        return normalize_phone(text, region=region)
    except BadInput:
        return None


def mask_phone(e164: str) -> str:
    """'+1******0123': enough to tell numbers apart in an audit trail, not to dial them."""
    if len(e164) <= 6:
        return "*" * len(e164)
    return e164[:2] + "*" * (len(e164) - 6) + e164[-4:]


def mask_number(number: str | None) -> str | None:
    """A call's number masked (mask_phone); a Twilio client identity (`client:NAME`, a staff
    member's app, not a phone) and a missing number as they are."""
    if number is None or number.startswith("client:"):
        return number
    return mask_phone(number)


# Separators people type between digit groups that phonenumbers does not know as such.
_SEPARATOR_TWINS = {"_": "-", "\\": "-", "|": "-", "~": "-", "\t": " "}
# VALID, not POSSIBLE: a possible-only match takes "80 140/92" (pulse and blood pressure) for a
# local number. A number that is not valid cannot be dialled, so leaving it shows no one's phone.
# Not STRICT_GROUPING either: it lets `617/555/0111` through. `_grouped_as_dialled` instead.
_LENIENCY = phonenumbers.Leniency.VALID
_DIGIT_GROUPS = re.compile(rf"{DIGIT}+")  # of phonenumbers' own formatting: ASCII


def _ascii_twin(char: str) -> str:
    """One character as ASCII when it is a digit or a full-width/compatibility form of one
    (`６`, `٦`, `／`), so the matcher sees one spelling; always exactly one character, so
    offsets in the folded text are offsets in the original."""
    digit = unicodedata.decimal(char, None)
    if digit is not None:
        return str(digit)
    folded = unicodedata.normalize("NFKC", char)
    if len(folded) == 1:
        char = folded
    return _SEPARATOR_TWINS.get(char, char)


def _usual_groups(number: phonenumbers.PhoneNumber) -> list[int]:
    """The lengths of the national digit groups as the number is usually written (3, 3, 4)."""
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return [len(g) for g in _DIGIT_GROUPS.findall(formatted)[1:]]


def _grouped_as_dialled(match: phonenumbers.PhoneNumberMatch) -> bool:
    """Whether the typed digit groups split the number only where its usual format does
    (617|555|0111), or inside its last group with the joiner used before it (`617 555 01 11`).
    Readings run together split elsewhere: in `2022 120/100` or `70/72 100/100` the first
    split falls inside the area code, and in `301 200 80/40` (glucose, pulse, blood pressure)
    a slash splits what would be the last group."""
    national = phonenumbers.national_significant_number(match.number)
    usual, offset = set(), 0
    for length in _usual_groups(match.number)[:-1]:
        offset += length
        usual.add(offset)
    last = offset
    typed = list(_DIGIT_GROUPS.finditer(match.raw_string))
    extension = len(match.number.extension or "")
    prefix = sum(len(g.group()) for g in typed) - len(national) - extension  # +1 or trunk 1
    position, joiners = -prefix, {}
    for group, following in zip(typed, typed[1:], strict=False):
        position += len(group.group())
        joiners[position] = match.raw_string[group.end():following.start()]
        if 0 < position < last and position not in usual:
            return False
        if position > last and joiners[position] != joiners.get(last):
            return False
    return True


# A second look, for what the matcher cannot see (it stops at separators it does not know,
# at letters touching the digits, and its grouping check refuses dictation): digit groups
# joined by one to three non-word characters (`*`, `,`, `;`, `:`, `#`, `+`, a newline...) or
# an `x`, weighed by phonenumbers' validity and by how the digits are grouped.
_JOINER = re.compile(r"[^\w]{1,3}|[xX]")
_MAX_DIGITS = 15  # E.164
_MIN_NATIONAL_DIGITS = 8  # shorter "valid" numbers are service codes (+1 310 2020 in Canada)


def _chains(folded: str) -> list[list[tuple[int, int, str]]]:
    """Runs of digit groups (start, end, joiner before it) with a joiner between each two."""
    chains: list[list[tuple[int, int, str]]] = []
    for found in _DIGIT_GROUPS.finditer(folded):
        start, end = found.span()
        if chains and _JOINER.fullmatch(folded[chains[-1][-1][1]:start]):
            chains[-1].append((start, end, folded[chains[-1][-1][1]:start]))
        else:
            chains.append([(start, end, "")])
    return chains


def _spelled_as_number(folded: str, chain: list[tuple[int, int, str]], first: int, last: int,
                       region: str) -> phonenumbers.PhoneNumber | None:
    """The number groups first..last spell, when they are one a person would write that way.

    A valid number of 8 or more digits (`80 140/92` is not one), then by grouping: one block
    or as usually dialled (3-3-4), even with letters touching (`tel6175550114`,
    `617-555-0116ext`); otherwise one joiner throughout (`2022 120/100`, blood pressure after
    a year, mixes two) and digit by digit; or, when nothing else is joined on and no letter
    touches, usual groups run together (`617555 0111`), or pairs or blocks of 3 and 4 spaced,
    hyphenated or dotted (`6175 550 115`; a list of readings `80, 76, 81, 90, 72` is not
    dictation). Five two-digit values in a row, spaced, that make a valid number cannot be
    told from a dictated one, and are masked."""
    window = chain[first:last + 1]
    joiners = {joiner for _, _, joiner in window[1:]}
    dialled = all(not joiner.strip(" -.()") for joiner in joiners)  # `( x 201 200-0000`
    digits = "".join(folded[start:end] for start, end, _ in window)
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    national = phonenumbers.national_significant_number(number)
    if len(national) < _MIN_NATIONAL_DIGITS or not phonenumbers.is_valid_number(number):
        return None
    lengths = [end - start for start, end, _ in window]
    prefix = len(digits) - len(national)
    if prefix and lengths[0] == prefix and len(lengths) > 1:
        lengths = lengths[1:]
    usual = _usual_groups(number)
    if len(lengths) == 1 or (lengths == usual and dialled):
        return number
    if len(joiners) > 1:
        return None
    if lengths == usual or set(lengths) == {1}:
        return number
    start, end = window[0][0], window[-1][1]
    alone = first == 0 and last == len(chain) - 1
    if not alone or (start > 0 and folded[start - 1].isalpha()) or \
            (end < len(folded) and folded[end].isalpha()):
        return None
    if set(_splits(lengths)) <= set(_splits(usual)):  # usual groups run together: 617555 0111
        return number
    if dialled and (set(lengths) == {2} or set(lengths) <= {3, 4}):  # not `80, 76, 81, 90, 72`
        return number
    return None


def _splits(lengths: list[int]) -> list[int]:
    """Where groups of these lengths split the digits: [3, 3, 4] -> [3, 6]."""
    return list(itertools.accumulate(lengths[:-1]))


def _grouped_spans(folded: str, region: str) -> list[tuple[int, int, str]]:
    """(start, end, last four) of numbers spelled in digit groups, leftmost longest first."""
    spans = []
    for chain in _chains(folded):
        first = 0
        while first < len(chain):
            for last in range(len(chain) - 1, first - 1, -1):
                width = sum(end - start for start, end, _ in chain[first:last + 1])
                number = width <= _MAX_DIGITS and _spelled_as_number(
                    folded, chain, first, last, region)
                if number:
                    last_four = phonenumbers.national_significant_number(number)[-4:]
                    spans.append((chain[first][0], chain[last][1], last_four))
                    first = last
                    break
            first += 1
    return spans


def redact_phones(text: str | None, *, region: str) -> str | None:
    """`text` (a note, a reason) with every phone number in it masked to '***0123'.

    Numbers are found by phonenumbers' matcher (not a regex of separators) on a folded copy
    of the text, so `617/555/0111`, `617 - 555 - 0112`, `617_555_0113` and full-width digits
    are all found, while vitals, doses and dates are not; then digit groups the matcher
    cannot see (`617*555*0111`, `6 1 7 5 5 5 0 1 1 1`, `tel6175550114`) are weighed by
    `_spelled_as_number`. The one masker of free text."""
    if not text:
        return text
    folded = "".join(_ascii_twin(c) for c in text)
    spans = [(m.start, m.end, phonenumbers.national_significant_number(m.number)[-4:])
             for m in phonenumbers.PhoneNumberMatcher(folded, region, leniency=_LENIENCY)
             if _grouped_as_dialled(m)]
    pieces, done = [], 0
    for start, end, last_four in sorted(spans + _grouped_spans(folded, region),
                                        key=lambda span: (span[0], -span[1])):
        if start < done:
            continue  # found by both looks
        pieces += [text[done:start], "***" + last_four]
        done = end
    return "".join(pieces) + text[done:]
