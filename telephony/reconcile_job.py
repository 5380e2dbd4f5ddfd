"""The daily reconciliation inside `serve`: calls the webhooks missed are stored once.

Twilio retries a failed status callback only briefly, so a longer outage is healed here:
once a day (RECONCILE_TIME, clinic zone) and once shortly after start-up, the last
RECONCILE_WINDOW_HOURS of calls are listed through the REST API and fed through the same
idempotent path as the webhooks. Running it twice, or on two replicas, changes nothing.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from billing.months import clinic_zone
from configuration.settings import Settings
from observability.metrics import Metrics
from service import Service
from telephony.rest import TwilioUnavailable, reconcile

log = logging.getLogger("rpm_logger.telephony")

JOB_ID = "rpm-twilio-reconcile-daily"
START_UP_JOB_ID = "rpm-twilio-reconcile-start-up"
START_UP_DELAY = timedelta(minutes=1)


def run_reconcile(service: Service, settings: Settings, metrics: Metrics | None = None) -> int:
    """One reconciliation; returns how many calls changed. Never raises: a job must not die.
    Counted into `metrics`: the run, ok or failed, and a Twilio API refusal."""
    metrics = metrics or Metrics()
    window = timedelta(hours=settings.reconcile_window_hours)
    try:
        outcomes = reconcile(service, settings, window)
    except TwilioUnavailable as exc:
        log.warning("twilio reconcile skipped: %s", exc)
        metrics.twilio_api_error("list_calls")
        metrics.reconcile_run(ok=False)
        return 0
    except Exception:  # noqa: BLE001 - the database may be down; the next run heals it
        log.exception("twilio reconcile failed")
        metrics.reconcile_run(ok=False)
        return 0
    changed = sum(1 for o in outcomes if o.changed)
    log.info("twilio reconcile: %d calls listed, %d stored or changed", len(outcomes), changed)
    metrics.reconcile_run(ok=True)
    return changed


class ReconcileScheduler:
    """A daily cron job (coalesced, one at a time) plus one run soon after start-up."""

    def __init__(self, settings: Settings, service: Service,
                 leading: Callable[[], bool] = lambda: True,
                 metrics: Metrics | None = None) -> None:
        zone = clinic_zone(settings.clinic_timezone)
        at = settings.reconcile_time
        self._leading = leading  # store.leadership: only the leader reconciles
        self.metrics = metrics or Metrics()
        self.scheduler = AsyncIOScheduler(timezone=zone)
        self.scheduler.add_job(
            self.run_once, CronTrigger(hour=at.hour, minute=at.minute, timezone=zone),
            args=(service, settings), id=JOB_ID, name="twilio reconcile",
            replace_existing=True, misfire_grace_time=6 * 3600, coalesce=True, max_instances=1)
        self.scheduler.add_job(
            self.run_once, "date", run_date=datetime.now(UTC) + START_UP_DELAY,
            args=(service, settings), id=START_UP_JOB_ID, name="twilio reconcile at start-up",
            replace_existing=True, misfire_grace_time=3600)

    def run_once(self, service: Service, settings: Settings) -> int:
        """A reconcile run, in the scheduler leader only (0: not the leader). The metrics
        say whether this process reconciles (the 26-hour alert watches the leader only)."""
        leading = self._leading()
        self.metrics.reconcile_leading(leading)
        return run_reconcile(service, settings, self.metrics) if leading else 0

    def start(self) -> None:
        self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
