"""Phone numbers: normalised to E.164 in one place, masked wherever they are shown."""

import re
import unicodedata

import phonenumbers

from service.errors import BadInput


def _parse(text: str, region: str) -> tuple[str, phonenumbers.PhoneNumber]:
    raw = (text or "").strip()
    if raw.startswith("client:"):
        raise BadInput(f"'{raw}' is a Twilio client identity, not a phone number.")
    try:
        return raw, phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise BadInput(f"Cannot read phone number '{raw}': use a form such as "
                       "+1 617 555 0123 or (617) 555-0123.") from exc


def normalize_phone(text: str, *, region: str) -> str:
    """E.164 for a number typed in any common format, or a refusal. Lenient on purpose: it
    finds and removes numbers already stored; numbers to be stored go through valid_phone."""
    raw, number = _parse(text, region)
    if not phonenumbers.is_possible_number(number):
        raise BadInput(f"'{raw}' is not a possible phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_LENGTH_REASONS = {
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "a local number without its area code",
    phonenumbers.ValidationResult.TOO_SHORT: "too few",
    phonenumbers.ValidationResult.TOO_LONG: "too many",
    phonenumbers.ValidationResult.INVALID_LENGTH: "no number there has that many",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "an unknown country code",
}


def _why_invalid(number: phonenumbers.PhoneNumber) -> str:
    """Why phonenumbers (Google's numbering-plan data) says no call can come from it."""
    digits = str(number.national_number)
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in _LENGTH_REASONS:
        return f"{len(digits)} digits after +{number.country_code}: {_LENGTH_REASONS[reason]}"
    if number.country_code == 1:
        return (f"+1 {digits[:3]} {digits[3:6]} is not an area code and exchange in use "
                "(fictional numbers: +1 202 555 0100 to 0199)")
    return f"the +{number.country_code} numbering plan has no such number"


def valid_phone(text: str, *, region: str) -> str:
    """E.164 of a number a call could really come from, for storing: '555-0000' stored as
    +15550000 would never match any call, so it is refused with the reason."""
    raw, number = _parse(text, region)
    if not phonenumbers.is_valid_number(number):
        raise BadInput(f"'{raw}' is not a valid phone number: {_why_invalid(number)}.")
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


# Separators people type between digit groups that phonenumbers does not know as such.
_SEPARATOR_TWINS = {"_": "-", "\\": "-", "|": "-", "~": "-", "\t": " "}
# VALID, not POSSIBLE: a possible-only match takes "80 140/92" (pulse and blood pressure) for a
# local number. A number that is not valid cannot be dialled, so leaving it shows no one's phone.
# Not STRICT_GROUPING either: it lets `617/555/0111` through. `_grouped_as_dialled` instead.
_LENIENCY = phonenumbers.Leniency.VALID
_DIGIT_GROUPS = re.compile(r"\d+")


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


def _grouped_as_dialled(match: phonenumbers.PhoneNumberMatch) -> bool:
    """Whether the typed digit groups split the number only where its usual format does
    (617|555|0111), or inside its last group. Readings run together split elsewhere: in
    `2022 120/100` or `70/72 100/100` the first split falls inside the area code."""
    national = phonenumbers.national_significant_number(match.number)
    formatted = phonenumbers.format_number(match.number,
                                           phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    groups = _DIGIT_GROUPS.findall(formatted)[1:]  # without the country code
    usual, offset = set(), 0
    for group in groups[:-1]:
        offset += len(group)
        usual.add(offset)
    last = offset
    typed = [len(g) for g in _DIGIT_GROUPS.findall(match.raw_string)]
    extension = len(match.number.extension or "")
    prefix = sum(typed) - len(national) - extension  # country code or trunk prefix typed first
    position = -prefix
    for length in typed[:-1]:
        position += length
        if 0 < position < last and position not in usual:
            return False
    return True


def redact_phones(text: str | None, *, region: str) -> str | None:
    """`text` (a note, a reason) with every phone number in it masked to '***0123'.

    Numbers are found by phonenumbers' matcher (not a regex of separators) on a folded copy
    of the text, so `617/555/0111`, `617 - 555 - 0112`, `617_555_0113` and full-width digits
    are all found, while vitals, doses and dates are not. The one masker of free text."""
    if not text:
        return text
    folded = "".join(_ascii_twin(c) for c in text)
    pieces, done = [], 0
    for match in phonenumbers.PhoneNumberMatcher(folded, region, leniency=_LENIENCY):
        if not _grouped_as_dialled(match):
            continue
        last_four = phonenumbers.national_significant_number(match.number)[-4:]
        pieces += [text[done:match.start], "***" + last_four]
        done = match.end
    return "".join(pieces) + text[done:]
