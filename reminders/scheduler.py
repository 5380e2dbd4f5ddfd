"""APScheduler inside `serve`: started and stopped by the ASGI lifespan (docs/reminders.md).

Two jobs call the same one-line job (`reminders.job.scheduled_run`), which does something only
when today's reminders are due and not all delivered, so running it too often is harmless:

- the daily job, a CronTrigger at REMINDER_TIME in CLINIC_TIMEZONE;
- the catch-up job, every 15 minutes and once right at start-up: a process that was down at
  09:00 sends that day's reminders once when it is back, and a failed send is retried.

Every replica schedules the jobs; only the scheduler leader's runs do anything
(store/leadership.py: the database picks it, and another takes over when it dies). The
database claims still guarantee "never twice" whatever runs, so the jobs live in the
in-memory job store.
"""

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from billing.months import clinic_zone
from configuration.settings import Settings
from observability.metrics import Metrics
from reminders.job import scheduled_run
from service import Service

DAILY_JOB_ID = "rpm-reminders-daily"
CATCH_UP_JOB_ID = "rpm-reminders-catch-up"
CATCH_UP_EVERY = timedelta(minutes=15)
# The daily job may start up to an hour late (event loop busy, host suspended); later than
# that the catch-up job runs it, so a longer grace would add nothing.
DAILY_MISFIRE_GRACE_SECONDS = 60 * 60
STOP_WAIT_SECONDS = 30.0


class ReminderScheduler:
    def __init__(self, settings: Settings, service: Service,
                 job: Callable[[], object] | None = None,
                 leading: Callable[[], bool] = lambda: True,
                 metrics: Metrics | None = None) -> None:
        self.settings = settings
        self._leading = leading  # store.leadership: only the leader's runs do anything
        self.zone = clinic_zone(settings.clinic_timezone)
        self._job = job or partial(scheduled_run, service, settings, metrics)
        self._running = threading.Lock()  # one run at a time in this process
        self._finished = 0
        self._changed = threading.Condition()
        self.scheduler = AsyncIOScheduler(timezone=self.zone)
        self.scheduler.add_listener(self._count, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        self._add_jobs()

    def _add_jobs(self) -> None:
        at = self.settings.reminder_time
        self.scheduler.add_job(
            self.run_once, CronTrigger(hour=at.hour, minute=at.minute, timezone=self.zone),
            id=DAILY_JOB_ID, name="at-risk reminders", replace_existing=True,
            misfire_grace_time=DAILY_MISFIRE_GRACE_SECONDS, coalesce=True, max_instances=1)
        self.scheduler.add_job(
            self.run_once, IntervalTrigger(seconds=CATCH_UP_EVERY.total_seconds(),
                                           timezone=self.zone),
            id=CATCH_UP_JOB_ID, name="at-risk reminders catch-up", replace_existing=True,
            next_run_time=datetime.now(UTC),  # at start-up: a missed 09:00 runs now
            misfire_grace_time=int(CATCH_UP_EVERY.total_seconds()), coalesce=True,
            max_instances=1)

    def run_once(self) -> None:
        """The job body (runs in the event loop's thread pool): the service call, once at a
        time in this process; a run already in progress makes this one a no-op."""
        if not self._running.acquire(blocking=False):
            return
        try:
            if self._leading():
                self._job()
        finally:
            self._running.release()

    def start(self) -> None:
        """Start on the running event loop (call from the lifespan)."""
        self.scheduler.start()

    async def stop(self) -> None:
        """Stop scheduling, then give a run in progress time to finish and mark its claims."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if await asyncio.to_thread(self._running.acquire, True, STOP_WAIT_SECONDS):
            self._running.release()

    def _count(self, event: JobExecutionEvent) -> None:
        """Count finished runs (APScheduler itself logs a job's exception)."""
        with self._changed:
            self._finished += 1
            self._changed.notify_all()

    def wait_for_runs(self, count: int, timeout: float = 30.0) -> bool:
        """Block until `count` job runs have finished (tests and tools)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._finished >= count, timeout)
