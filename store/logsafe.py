"""Database errors never reach a log with the data they were about.

A SQLAlchemy error prints its SQL parameters and the database's own message, which can name
the values (PostgreSQL's DETAIL: `Key (e164)=(+16175550123) already exists.`); a traceback of
any exception caused by one prints all of that, whoever logs it (our adapters' log.exception,
uvicorn's "Exception in ASGI application", APScheduler's failed jobs). hide_parameters on
every engine (store/db.py) drops the parameters at the source; `install` makes every log
record of the process keep the traceback's frames and exception types but withhold the
messages of database errors. The reply paths already speak in fixed, PHI-free messages.
The same hook keeps the dashboard's login token out of access-log lines, and withholds the
request bodies slack-bolt writes into some of its messages (a failed signature check logs
the whole body at INFO: a note's text and all).
"""

import logging
import re
import traceback
import unicodedata
from types import TracebackType
from typing import Any
from urllib.parse import unquote

from sqlalchemy.exc import StatementError

WITHHELD = "[database message withheld: it may hold patient data]"
BODY_WITHHELD = "[request body withheld: it may hold patient data]"
_MARK = "_rpm_scrubs_database_errors"


def install() -> None:
    """Scrub database errors from every log record made from now on (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, _MARK, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        scrub(record)
        return record

    setattr(factory, _MARK, True)
    logging.setLogRecordFactory(factory)


# The dashboard's one-time `?token=` login link would otherwise sit in every access log line.
_QUERY_SECRET = re.compile(r"([?&]token=)[^&\s]*")


def withhold_query_secrets(text: str) -> str:
    return _QUERY_SECRET.sub(r"\1[withheld]", text)


# A dashboard lookup by phone puts the number in the path (`/patients/+16175550123`, or any
# spelling the dashboard accepts). However it is written or encoded, a phone number has at
# least 7 digits (a US local number): a path with that many digits is logged up to its last
# segment without one, a query item with that many as `name=[withheld]`. (Numbers spelled in
# letters, 617-ALE-ADAD, are not recognised here: service.phones refuses letters wherever a
# phone is typed, so such a path finds no one and carries no number the service reads.)
PHONE_MIN_DIGITS = 7
_PATH_WITHHELD = "[withheld]"


def _digit_count(text: str) -> int:
    """Digits as a person reads them: percent-decoded (repeatedly: %252B is %2B is +), and
    digits of any script (full-width, Arabic-Indic) counted too."""
    for _ in range(5):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return sum(c.isdigit() for c in unicodedata.normalize("NFKC", text))


def withhold_numbers_in_path(path: str) -> str:
    """An access-log path with no phone number in it, in any spelling or URL encoding."""
    route, mark, query = path.partition("?")
    if _digit_count(route) >= PHONE_MIN_DIGITS:
        kept = []
        for segment in route.split("/"):
            if _digit_count(segment) or "%" in segment:
                break
            kept.append(segment)
        route = "/".join([*kept, _PATH_WITHHELD])
    if query:
        items = []
        for item in query.split("&"):
            name, equals, _value = item.partition("=")
            if _digit_count(item) >= PHONE_MIN_DIGITS:
                item = f"{name}={_PATH_WITHHELD}" if equals and \
                    _digit_count(name) < PHONE_MIN_DIGITS else _PATH_WITHHELD
            items.append(item)
        query = "&".join(items)
    return route + mark + query


# slack-bolt's messages that embed a request (or response) body, formatted before logging
# (slack_bolt/logger/messages.py, request_verification, socket_mode/internals): the part kept
# (which check, which status) and the body withheld, at every level.
_BOLT_BODIES = (
    re.compile(r"(Invalid request signature detected) \(.*", re.S),
    re.compile(r"(A global middleware \([^)]*\) skipped calling .*?) for the request \(.*",
               re.S),
    re.compile(r"(Unhandled request) \(.*", re.S),
    re.compile(r"(Unsuccessful Bolt execution result \(status: \d+), body: .*", re.S),
    re.compile(r"(Responding with status: \d+) body: .*", re.S),
    re.compile(r"([Rr]equest body): .*", re.S),
)


# slack_sdk's debug messages (web/base_client, web/async_internal_utils, web/internal_utils,
# webhook clients, chat_stream): every request's body (a reply, a DM: patient labels and
# notes), every response's body, and the URL, which for a reply is the command's
# response_url, a capability to post into the channel. The event, the Web API method and the
# status are kept; a URL that is not a Web API method is withheld.
_SDK_BODIES = (
    re.compile(r"(Sending a request) - url: (?:[A-Z]+ )?(\S+?),? .*", re.S),
    re.compile(r"(Sending a request): POST (\S+)$", re.S),
    re.compile(r"(Received the following response - status: \d+), .*", re.S),
    re.compile(r"(No response data returned from the following API call): (\S+?)\.?$", re.S),
    re.compile(r"(ChatStream appended to buffer): .*", re.S),
)
_WEB_API_METHOD = re.compile(r"https?://[^/\s]+/api/([\w.]+)")
URL_WITHHELD = "[url withheld]"


def _safe_url(url: str) -> str:
    """A Web API URL as its method (`api/chat.postMessage`); any other URL withheld."""
    method = _WEB_API_METHOD.fullmatch(url)
    return f"api/{method.group(1)}" if method else URL_WITHHELD


def withhold_bolt_bodies(text: str) -> str:
    """`text` without the request body, when it is one of Bolt's messages that carry one,
    or one of slack_sdk's request/response messages (and then without a reply's URL)."""
    for pattern in _BOLT_BODIES:
        match = pattern.match(text)
        if match:
            return f"{match.group(1)} {BODY_WITHHELD}"
    for pattern in _SDK_BODIES:
        match = pattern.match(text)
        if match:
            url = f" url: {_safe_url(match.group(2))}" if pattern.groups > 1 else ""
            return f"{match.group(1)}{url} {BODY_WITHHELD}"
    return text


def scrub(record: logging.LogRecord) -> None:
    """Replace a traceback, or an argument, that holds a database error by a safe text;
    withhold a `?token=` and phone numbers from request paths (uvicorn's access log passes
    the path as its third argument); and withhold the request bodies of Bolt's messages
    (already formatted)."""
    if isinstance(record.msg, str) and not record.args:
        record.msg = withhold_bolt_bodies(record.msg)
    if record.name == "uvicorn.access" and isinstance(record.args, tuple) and \
            len(record.args) >= 3 and isinstance(record.args[2], str):
        record.args = (*record.args[:2], withhold_numbers_in_path(record.args[2]),
                       *record.args[3:])
    if isinstance(record.args, tuple) and any(isinstance(a, str) and "token=" in a
                                              for a in record.args):
        record.args = tuple(withhold_query_secrets(a) if isinstance(a, str) else a
                            for a in record.args)
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        if _database_errors(error):
            record.exc_text = safe_traceback(error)
            record.exc_info = None
    if isinstance(record.args, tuple) and any(isinstance(a, StatementError) for a in record.args):
        record.args = tuple(_summary(a) if isinstance(a, StatementError) else a
                            for a in record.args)


def safe_traceback(error: BaseException) -> str:
    """The traceback as Python prints it, database errors' messages withheld."""
    withheld = _database_errors(error)
    blocks = []
    for exc, link in _chain(error):
        lines = ["Traceback (most recent call last):\n", *_frames(exc.__traceback__)]
        message = _summary(exc) if id(exc) in withheld else _plain(exc)
        blocks.append("".join(lines) + message + "\n" + link)
    return "".join(blocks).rstrip("\n")


def _chain(error: BaseException) -> list[tuple[BaseException, str]]:
    """The exception and its causes/contexts, oldest first, with Python's linking lines."""
    found: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = error
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, ("\nThe above exception was the direct cause "
                                                "of the following exception:\n\n")
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, ("\nDuring handling of the above exception, "
                                                  "another exception occurred:\n\n")
        else:
            current = None
    return list(reversed(found))


def _database_errors(error: BaseException) -> set[int]:
    """Ids of the SQLAlchemy statement errors in the chain and the driver errors they wrap."""
    ids: set[int] = set()
    for exc, _ in _chain(error):
        if isinstance(exc, StatementError):
            ids.add(id(exc))
            if exc.orig is not None:
                ids.add(id(exc.orig))
    return ids


def _frames(tb: TracebackType | None) -> list[str]:
    return traceback.format_tb(tb) if tb is not None else []


def _name(exc: BaseException) -> str:
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else \
        f"{kind.__module__}.{kind.__qualname__}"


def _plain(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(exc)).rstrip("\n")


def _summary(exc: BaseException) -> str:
    """The error's type (and its driver error's type) and the SQL without values."""
    text = f"{_name(exc)}: {WITHHELD}"
    if isinstance(exc, StatementError):
        if exc.orig is not None:
            text += f" (from {_name(exc.orig)})"
        if exc.statement:
            text += f" [SQL: {' '.join(str(exc.statement).split())[:300]}]"
    return text
