"""Twilio's form fields -> the service's event dataclasses (no rendering, no I/O).

A signed form is Twilio's word, but the signature proves less than it seems (below), and a
value the database cannot hold must never reach it: every field a route reads is checked
here against what Twilio sends (shape, length, range, known values) and a form that fails
raises `BadPayload`, before the service is called. Unknown fields are ignored (Twilio adds
parameters without notice; the signature covers them), but every field name must have
Twilio's shape.

Why the name shape: Twilio's signature is an HMAC over the URL and the sorted fields'
names and values concatenated with nothing between them, so a captured request's bytes can
be re-split into other names and values under the same signature (e.g.
`AnsweredBy=machine_start` folded into another field's name). Twilio's names are
`[A-Z][A-Za-z0-9_]*` (`MediaUrl0`, `SipHeader_X`) plus Gather's `msg`, so a name outside
that is refused, and each route requires the fields it relies on. What remains is in
docs/security.md.
"""

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from billing.digits import digits_value, is_digits
from service.calls import KNOWN_STATUSES, CallEvent, SmsEvent
from service.voice_menu import Answer

FIELD_NAME = re.compile(r"[A-Z][A-Za-z0-9_]*")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # a control character (one regex search per field)
LOWERCASE_FIELDS = frozenset({"msg"})  # Gather's action request carries msg=Gather End

SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")  # Twilio's ids: two letters, 32 hex digits
CALL_SID_PREFIX, MESSAGE_SID_PREFIXES = "CA", ("SM", "MM")
DIRECTIONS = frozenset({"inbound", "outbound-api", "outbound-dial", "trunking-originating",
                        "trunking-terminating"})
ANSWERED_BY = frozenset({"human", "machine_start", "machine_end_beep", "machine_end_silence",
                         "machine_end_other", "fax", "unknown"})
MAX_NUMBER_CHARS = 140  # calls.from_number / to_number: E.164, client:NAME or sip:...
MAX_DIGITS_CHARS = 64
MAX_CALL_SECONDS = 24 * 3600  # Twilio ends every call after 24 hours at most
MAX_SEQUENCE = 2**31 - 1  # a 32-bit column on PostgreSQL
EARLIEST_TIMESTAMP = datetime(2008, 1, 1, tzinfo=UTC)  # before Twilio carried any call
MAX_CLOCK_SKEW = timedelta(minutes=5)  # a Timestamp further ahead is replaced by receipt

# the fields each route relies on (AccountSid is checked with the signature)
STATUS_FIELDS = ("CallSid", "CallStatus")
INCOMING_FIELDS = ("CallSid", "From", "To")
SCREEN_FIELDS = ("CallSid",)
SMS_FIELDS = ("MessageSid", "From", "To")
MENU_FIELDS = ("CallSid",)  # the voice menu's turns (Digits, SpeechResult: the answer)
MAX_SPEECH_CHARS = 2000  # a transcript longer than this is cut (a note keeps less)
MAX_TURN = 10_000  # the turn number in the menu's action URLs


def field_schema(name: str) -> dict[str, object]:
    """The OpenAPI schema of a form field: the bounds above, so that schemathesis generates
    values on both sides of them (tests/test_openapi_fuzz.py)."""
    sids = {"AccountSid": ("AC",), "CallSid": (CALL_SID_PREFIX,),
            "ParentCallSid": (CALL_SID_PREFIX,), "MessageSid": MESSAGE_SID_PREFIXES}
    if name in sids:
        return {"type": "string",
                "pattern": f"^({'|'.join(sids[name])})[0-9a-fA-F]{{32}}$"}
    enums = {"CallStatus": KNOWN_STATUSES, "Direction": DIRECTIONS, "AnsweredBy": ANSWERED_BY}
    if name in enums:
        return {"type": "string", "enum": sorted(enums[name])}
    bounds = {"CallDuration": MAX_CALL_SECONDS, "SequenceNumber": MAX_SEQUENCE}
    if name in bounds:
        return {"type": "integer", "minimum": 0, "maximum": bounds[name]}
    if name == "Timestamp":
        return {"type": "string", "maxLength": 64,
                "examples": ["Fri, 20 Nov 2026 19:30:00 +0000"]}
    if name == "Digits":
        return {"type": "string", "maxLength": MAX_DIGITS_CHARS}
    if name == "SpeechResult":
        return {"type": "string", "maxLength": MAX_SPEECH_CHARS}
    if name == "Confidence":
        return {"type": "number", "minimum": 0, "maximum": 1}
    return {"type": "string", "maxLength": MAX_NUMBER_CHARS}


class BadPayload(ValueError):
    """A signed form Twilio would not send: refused, nothing stored. The message names the
    field, never its value (values may be phone numbers)."""


def check_form(pairs: Iterable[tuple[str, object]], required: Iterable[str]) -> None:
    """Every field name has Twilio's shape, none is repeated, and `required` are present."""
    seen: dict[str, str] = {}
    for name, value in pairs:
        if not (FIELD_NAME.fullmatch(name) or name in LOWERCASE_FIELDS):
            raise BadPayload("a form field name outside Twilio's shape")
        if name in seen:
            raise BadPayload(f"{name} is repeated")
        if not isinstance(value, str):
            raise BadPayload(f"{name} is not text")
        seen[name] = value
    for name in required:
        if not seen.get(name, "").strip():
            raise BadPayload(f"{name} is required")


def _text(form: Mapping[str, object], name: str, *, max_chars: int = MAX_NUMBER_CHARS,
          ) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadPayload(f"{name} is not text")
    value = value.strip()
    if len(value) > max_chars:
        raise BadPayload(f"{name} is longer than {max_chars} characters")
    if CONTROL.search(value):
        raise BadPayload(f"{name} holds a control character")
    return value or None


def _sid(form: Mapping[str, object], name: str, prefixes: tuple[str, ...]) -> str | None:
    value = _text(form, name)
    if value is not None and not (SID.fullmatch(value) and value.startswith(prefixes)):
        raise BadPayload(f"{name} is not a Twilio {'/'.join(prefixes)} id")
    return value


def _known(form: Mapping[str, object], name: str, known: Iterable[str]) -> str | None:
    value = _text(form, name)
    if value is None:
        return None
    if value.lower() not in known:
        raise BadPayload(f"{name} is not a value Twilio sends")
    return value.lower()


def _int(form: Mapping[str, object], name: str, maximum: int) -> int | None:
    value = _text(form, name)
    if value is None:
        return None
    number = digits_value(value)
    if number is None or number > maximum:
        raise BadPayload(f"{name} is not a whole number from 0 to {maximum}")
    return number


def parse_timestamp(text: str | None) -> datetime | None:
    """Twilio's `Timestamp` is RFC 2822 ("Fri, 20 Nov 2026 20:00:00 +0000"); ISO accepted too.

    None for anything else. The parsers raise OverflowError as well as ValueError on values
    past what a datetime holds (an offset of 10^17 seconds, year 10^14, year 1 moved to UTC),
    so all three are caught here: a bad date is a bad payload, never a 500."""
    if not text:
        return None
    unparsable = (TypeError, ValueError, OverflowError)
    try:
        parsed = parsedate_to_datetime(text)
    except unparsable:
        try:
            parsed = datetime.fromisoformat(text)
        except unparsable:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except unparsable:  # year 1 with a positive offset, and the like
        return None


def _timestamp(form: Mapping[str, object], received: datetime) -> datetime | None:
    """When the event happened; one more than 5 minutes ahead of our clock is taken as
    received now (a skewed clock must not date a call in the future or the next month)."""
    text = _text(form, "Timestamp")
    if text is None:
        return None
    moment = parse_timestamp(text)
    if moment is None or moment < EARLIEST_TIMESTAMP:
        raise BadPayload("Timestamp is not a date Twilio sends")
    return received if moment > received + MAX_CLOCK_SKEW else moment


def call_event(form: Mapping[str, object], *, received: datetime,
               source: str = "webhook") -> CallEvent:
    """A voice status callback (or the request of /incoming) as a CallEvent."""
    return CallEvent(
        call_sid=_sid(form, "CallSid", (CALL_SID_PREFIX,)) or "",
        status=_known(form, "CallStatus", KNOWN_STATUSES) or "",
        account_sid=_text(form, "AccountSid"),
        direction=_known(form, "Direction", DIRECTIONS),
        from_number=_text(form, "From") or _text(form, "Caller"),
        to_number=_text(form, "To") or _text(form, "Called"),
        parent_call_sid=_sid(form, "ParentCallSid", (CALL_SID_PREFIX,)),
        # CallDuration is the leg's billed seconds; Duration is minutes (rounded up)
        duration_seconds=_int(form, "CallDuration", MAX_CALL_SECONDS),
        answered_by=_known(form, "AnsweredBy", ANSWERED_BY),
        sequence_number=_int(form, "SequenceNumber", MAX_SEQUENCE),
        timestamp=_timestamp(form, received),
        source=source,
    )


def sms_event(form: Mapping[str, object]) -> SmsEvent:
    return SmsEvent(
        message_sid=_sid(form, "MessageSid", MESSAGE_SID_PREFIXES) or "",
        from_number=_text(form, "From"),
        to_number=_text(form, "To"),
        account_sid=_text(form, "AccountSid"),
    )


def digits(form: Mapping[str, object]) -> str:
    return _text(form, "Digits", max_chars=MAX_DIGITS_CHARS) or ""


def call_sid(form: Mapping[str, object]) -> str:
    """The CallSid of a required-CallSid form (check_form ran first)."""
    return _sid(form, "CallSid", (CALL_SID_PREFIX,)) or ""


def menu_turn(raw: str | None) -> int:
    """The voice menu's `t` query parameter; anything else is turn 0 (never a turn the
    menu is waiting for, so the caller hears the last reply again)."""
    if raw and is_digits(raw) and len(raw) <= len(str(MAX_TURN)):
        return min(int(raw), MAX_TURN)
    return 0


def menu_answer(form: Mapping[str, object]) -> Answer:
    """A Gather's result: keys (Digits), a transcript (SpeechResult) or nothing (the
    Redirect after a silent Gather). A value Twilio would not send (over-long Digits, a
    control character, a Confidence that is no fraction) is `garbled`: the menu asks again
    with the reason instead of refusing the call. Transcripts are never logged."""
    try:
        digits = _text(form, "Digits", max_chars=MAX_DIGITS_CHARS)
        speech = form.get("SpeechResult")
        if speech is not None and not isinstance(speech, str):
            raise BadPayload("SpeechResult is not text")
        speech = " ".join(CONTROL.sub(" ", speech or "").split())[:MAX_SPEECH_CHARS] or None
        confidence = _text(form, "Confidence")
        if confidence is not None and not _fraction(confidence):
            raise BadPayload("Confidence is not a number from 0 to 1")
    except BadPayload:
        return Answer(garbled=True)
    return Answer(digits=digits, speech=speech,
                  confidence=float(confidence) if confidence is not None else None)


def _fraction(text: str) -> bool:
    """A number from 0 to 1 as Twilio writes it; float() also reads '٠٫٥' and '１': ASCII
    only."""
    if not text.isascii():
        return False
    try:
        return 0.0 <= float(text) <= 1.0
    except ValueError:
        return False
