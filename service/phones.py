"""Phone numbers: normalised to E.164 in one place, masked wherever they are shown."""

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
