"""Twilio's form fields -> the service's event dataclasses (no rendering, no I/O).

Twilio adds parameters without notice: unknown fields are ignored here (the signature check
covers all of them). Numbers stay as Twilio sent them; the service normalises them.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from service.calls import CallEvent, SmsEvent


def _text(form: Mapping[str, object], name: str) -> str | None:
    value = form.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _int(form: Mapping[str, object], name: str) -> int | None:
    value = _text(form, name)
    if value is None:
        return None
    try:
        return max(0, int(value))
    except ValueError:
        return None


def parse_timestamp(text: str | None) -> datetime | None:
    """Twilio's `Timestamp` is RFC 2822 ("Fri, 20 Nov 2026 20:00:00 +0000"); ISO accepted too."""
    if not text:
        return None
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def call_event(form: Mapping[str, object], *, source: str = "webhook") -> CallEvent:
    """A voice status callback (or the request of /incoming) as a CallEvent."""
    status = (_text(form, "CallStatus") or "").lower()
    return CallEvent(
        call_sid=_text(form, "CallSid") or "",
        status=status,
        account_sid=_text(form, "AccountSid"),
        direction=(_text(form, "Direction") or "").lower() or None,
        from_number=_text(form, "From") or _text(form, "Caller"),
        to_number=_text(form, "To") or _text(form, "Called"),
        parent_call_sid=_text(form, "ParentCallSid"),
        # CallDuration is the leg's billed seconds; Duration is minutes (rounded up)
        duration_seconds=_int(form, "CallDuration"),
        answered_by=(_text(form, "AnsweredBy") or "").lower() or None,
        sequence_number=_int(form, "SequenceNumber"),
        timestamp=parse_timestamp(_text(form, "Timestamp")),
        source=source,
    )


def sms_event(form: Mapping[str, object]) -> SmsEvent:
    return SmsEvent(
        message_sid=_text(form, "MessageSid") or _text(form, "SmsSid") or "",
        from_number=_text(form, "From"),
        to_number=_text(form, "To"),
        account_sid=_text(form, "AccountSid"),
    )


def digits(form: Mapping[str, object]) -> str:
    return _text(form, "Digits") or ""
