"""Every metric one app exports, on the app's own registry (docs/operations.md lists them).

One registry per app, never prometheus_client's process-wide default: tests build many apps
in one process, and a second app's metrics would collide with the first's there. Several
server processes each serve their own /metrics on their own port (Prometheus scrapes each);
a restart starts that process's counters from zero, as rate() and increase() expect.

No label carries PHI. Label values are route templates (never a raw path: one can hold a
patient id or a phone number), the grammar's command kinds, call states and fixed words. As a
guard behind that, a value with a digit in it (every patient id, phone number and date has
one) or anything but letters, `_ . / { } -` is counted as "other"; HTTP status codes are the
one numeric label.
"""

import re
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.process_collector import ProcessCollector

from observability.disk import DiskSpace

__all__ = ["CONTENT_TYPE", "Metrics", "http_method", "label"]

# the text format every Prometheus reads (2.x and 3.x); the names here need no escaping, so
# the page is the same in the newer 1.0.0 format
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

_SAFE_LABEL = re.compile(r"[A-Za-z_./{}:-]{1,100}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"
# a `_created` twin of every counter (its creation time) only doubles the page; Prometheus
# reads a reset from the counter itself
disable_created_metrics()
# latency buckets (seconds): Slack's ack deadline is 1.5 s, /healthz answers within 1.5 s,
# a Twilio webhook within 5 s, Twilio gives up at 15 s
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 5.0, 10.0, 15.0)


def label(value: str) -> str:
    """`value` as a label value, or "other" when it could carry PHI (module docstring)."""
    return value if _SAFE_LABEL.fullmatch(value) else OTHER


def http_method(method: str) -> str:
    """A standard method as it is; anything else a client sent as "other"."""
    return method if method in _METHODS else OTHER


class Metrics:
    """The app's registry and what the adapters count into it."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry()
        self._clock = clock
        self._disk: DiskSpace | None = None
        self._reconciled_at = 0.0  # the last success, or when this process began to reconcile
        r = self.registry
        self._requests = Counter(
            "rpm_http_requests", "HTTP requests answered, by route template, method and "
            "status.", ["route", "method", "status"], registry=r)
        self._latency = Histogram(
            "rpm_http_request_duration_seconds", "Time from a request's arrival to the end "
            "of its answer, by route template.", ["route"], buckets=_BUCKETS, registry=r)
        self._slack_commands = Counter(
            "rpm_slack_commands", "/rpm commands by kind and what the acknowledgement said: "
            "answered (the reply itself), saving (\"Saving...\", the reply posted later), "
            "not_saved (refused unrun: backlog full).", ["kind", "outcome"], registry=r)
        self._backlog = Gauge(
            "rpm_slack_backlog_depth", "Slack command works accepted and unfinished.",
            registry=r)
        self._backlog_limit = Gauge(
            "rpm_slack_backlog_limit", "The backlog's bound: past it a command is told "
            "\"not saved\".", registry=r)
        self._callbacks = Counter(
            "rpm_twilio_callbacks", "Twilio call status callbacks by outcome: the state the "
            "callback moved its call to (counted, attempt, short, unmatched, refused, ...), "
            "unchanged, invalid (400) or not_stored (503).", ["outcome"], registry=r)
        self._reminders = Counter(
            "rpm_reminders", "At-risk reminder messages by outcome: sent or failed (a failed "
            "send is retried later that day).", ["outcome"], registry=r)
        self._notices = Counter(
            "rpm_call_dms", "Call DMs (a call to confirm, a counted call) by outcome: sent, "
            "confirmed (found in Slack after a crash), failed (retried) or gave_up.",
            ["outcome"], registry=r)
        self._reconcile_runs = Counter(
            "rpm_reconcile_runs", "Twilio reconciliation runs by result: ok or failed.",
            ["result"], registry=r)
        self._reconcile_success = Gauge(
            "rpm_reconcile_last_success_timestamp_seconds", "Unix time of this process's "
            "last successful reconciliation (when it became the scheduler leader until one "
            "succeeds; 0: it does not reconcile).", registry=r)
        self._slack_api_errors = Counter(
            "rpm_slack_api_errors", "Slack Web API calls that failed (unreachable, an HTTP "
            "error or ok=false; each attempt), by API method.", ["method"], registry=r)
        self._twilio_api_errors = Counter(
            "rpm_twilio_api_errors", "Twilio REST API calls refused or unreachable, by "
            "operation.", ["operation"], registry=r)
        self._database_errors = Counter(
            "rpm_database_errors", "Transactions the database refused: unavailable (no "
            "answer, an error, a deadline passed) or conflict (a concurrent write; retried).",
            ["kind"], registry=r)
        ProcessCollector(registry=r)  # process_start_time_seconds: when counters restarted

    def exposition(self) -> bytes:
        """The registry in Prometheus's text format."""
        return generate_latest(self.registry)

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        route = label(route)
        self._requests.labels(route, http_method(method), str(status)).inc()
        self._latency.labels(route).observe(seconds)

    def slack_command(self, kind: str, outcome: str) -> None:
        self._slack_commands.labels(label(kind), label(outcome)).inc()

    def watch_slack_backlog(self, depth: Callable[[], float], limit: int) -> None:
        self._backlog.set_function(depth)
        self._backlog_limit.set(limit)

    def twilio_callback(self, outcome: str) -> None:
        self._callbacks.labels(label(outcome)).inc()

    def reminder(self, outcome: str) -> None:
        self._reminders.labels(label(outcome)).inc()

    def call_dm(self, outcome: str, count: int = 1) -> None:
        self._notices.labels(label(outcome)).inc(count)

    def reconcile_leading(self, leading: bool) -> None:
        """Whether this process reconciles (the scheduler leader does): from when it began,
        the 26-hour alert counts until a success; a process that does not shows 0."""
        if not leading:
            self._reconciled_at = 0.0
        elif not self._reconciled_at:
            self._reconciled_at = self._clock()
        self._reconcile_success.set(self._reconciled_at)

    def reconcile_run(self, ok: bool) -> None:
        self._reconcile_runs.labels("ok" if ok else "failed").inc()
        if ok:
            self._reconciled_at = self._clock()
            self._reconcile_success.set(self._reconciled_at)

    def slack_api_error(self, method: str) -> None:
        self._slack_api_errors.labels(label(method)).inc()

    def twilio_api_error(self, operation: str) -> None:
        self._twilio_api_errors.labels(label(operation)).inc()

    def database_error(self, kind: str) -> None:
        self._database_errors.labels(label(kind)).inc()

    def watch_disk(self, folder: Path) -> None:
        """Export the free space of the file system holding `folder` (the SQLite database's):
        low disk is an alert, never a health failure (every process shares the disk)."""
        if self._disk is None:
            self._disk = DiskSpace(folder)
            self.registry.register(self._disk)
