"""Phone numbers: normalised to E.164 in one place, masked wherever they are shown."""

import phonenumbers

from service.errors import BadInput


def normalize_phone(text: str, *, region: str) -> str:
    """E.164 for a number typed in any common format, or a refusal."""
    raw = (text or "").strip()
    if raw.startswith("client:"):
        raise BadInput(f"'{raw}' is a Twilio client identity, not a phone number.")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise BadInput(f"Cannot read phone number '{raw}': use a form such as "
                       "+1 617 555 0123 or (617) 555-0123.") from exc
    if not phonenumbers.is_possible_number(number):
        raise BadInput(f"'{raw}' is not a possible phone number.")
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
