"""The reminder job, the same for the scheduler, its catch-up and `rpm-logger remind`."""

import os
import socket
from datetime import date

from configuration.settings import Settings
from reminders.slack import SlackReminderSender
from service import Service
from service.reminders import ReminderOptions, ReminderRun


def instance_name() -> str:
    """Who holds a claim: this host and process (shows up in the claim row and audit)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}"


def reminder_options(settings: Settings) -> ReminderOptions:
    """The REMINDER_* settings as the service takes them."""
    return ReminderOptions(start_day=settings.reminder_start_day,
                           channel=settings.reminder_channel, send_time=settings.reminder_time)


def scheduled_run(service: Service, settings: Settings) -> ReminderRun | None:
    """The scheduled job: today's reminders if due and not yet all delivered."""
    return service.reminders.run_due(SlackReminderSender.from_settings(settings),
                                     reminder_options(settings),
                                     actor=f"scheduler@{instance_name()}")


def run_by_hand(service: Service, settings: Settings, day: date | None, *, dry_run: bool,
                actor: str) -> ReminderRun:
    """`rpm-logger remind`: the same plan and claims; a dry run only previews."""
    options = reminder_options(settings)
    if dry_run:
        return service.reminders.preview(day, options)
    return service.reminders.run(SlackReminderSender.from_settings(settings), day, options,
                                 actor=f"{actor}@{instance_name()}")
