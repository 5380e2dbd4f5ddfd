"""The reminder job, the same for the scheduler, its catch-up and `rpm-logger remind`."""

from datetime import date

from configuration.instance import instance_name
from configuration.settings import Settings
from observability.metrics import Metrics
from reminders.slack import SlackReminderSender
from service import Service
from service.reminders import FAILED, SENT, ReminderOptions, ReminderRun

# outcomes that are a message delivered by this run ("confirmed": found in Slack's history
# after a crash right after Slack took it)
DELIVERED = (SENT, "confirmed")


def reminder_options(settings: Settings) -> ReminderOptions:
    """The REMINDER_* settings as the service takes them."""
    return ReminderOptions(start_day=settings.reminder_start_day,
                           channel=settings.reminder_channel, send_time=settings.reminder_time)


def scheduled_run(service: Service, settings: Settings,
                  metrics: Metrics | None = None) -> ReminderRun | None:
    """The scheduled job: today's reminders if due and not yet all delivered. Each message
    sent or failed, and each Slack API refusal, is counted into `metrics`."""
    metrics = metrics or Metrics()
    run = service.reminders.run_due(
        SlackReminderSender.from_settings(settings, errors=metrics.slack_api_error),
        reminder_options(settings), actor=f"scheduler@{instance_name()}")
    for outcome in run.outcomes if run is not None else ():
        if outcome.status in DELIVERED:
            metrics.reminder("sent")
        elif outcome.status == FAILED:
            metrics.reminder("failed")
    return run


def run_by_hand(service: Service, settings: Settings, day: date | None, *, dry_run: bool,
                actor: str) -> ReminderRun:
    """`rpm-logger remind`: the same plan and claims; a dry run only previews."""
    options = reminder_options(settings)
    if dry_run:
        return service.reminders.preview(day, options)
    return service.reminders.run(SlackReminderSender.from_settings(settings), day, options,
                                 actor=f"{actor}@{instance_name()}")
