"""The log formats of `serve`: text (the default) or one JSON object per line.

LOG_FORMAT=json is for a log collector: every record, ours and the libraries' (uvicorn's
too: `serve` hands its loggers to the root handler), is one line with `time` (UTC, ISO 8601),
`level`, `logger` and `message`; a record made while a request is answered carries that
request's `request_id`, and an access line also `route`, `method`, `status` and
`duration_ms`. Text lines carry a timestamp. Either way the message is the one
store/logsafe.py already scrubbed when the record was made (docs/security.md), and an access
line names the route template, never the path: the formats add no PHI.
"""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")
# the request being answered, for every record made while it is (contextvars follow the
# request into the thread pool and into tasks it starts)
REQUEST_ID: ContextVar[str | None] = ContextVar("rpm_request_id", default=None)
ACCESS_FIELDS = ("route", "method", "status", "duration_ms")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (json.dumps escapes every line break)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        line.update({name: getattr(record, name) for name in ACCESS_FIELDS
                     if hasattr(record, name)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:  # logsafe's traceback, database messages withheld
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure(log_format: str, level: str) -> None:
    """The root handler (stderr) in `log_format` at `level`, replacing any before it."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
