"""Plain-text renderings of a planned reminder: the notification and fallback text sent with
the Block Kit message (presentation/blocks.py), and what `rpm-logger remind` prints.

`text` says in one paragraph what the blocks show: per patient, worst first, clinic id +
initials (never more), minutes so far of 20, live contact ✓/✗, days left and what to do.
"""

from typing import Any

from presentation.render import (
    MAX_LISTED,
    count_of,
    counts_text,
    money_text,
    patient_line,
    short_of_readings_text,
    title,
)
from service.reminders import CHANNEL, PlannedMessage, ReminderRun

__all__ = ["text", "run_text", "run_json", "title", "patient_line", "counts_text"]


def text(message: PlannedMessage) -> str:
    """The plain-text fallback (and phone notification): the same facts in one paragraph."""
    lines = [f"{title(message)} ({message.day.isoformat()})."]
    if message.kind == CHANNEL:
        lines.append(f"At risk by severity: {counts_text(message, icons=False)}.")
        lines.append(f"{money_text(message)}.")
        if message.patients:
            lines.append(f"No active staff member assigned ({len(message.patients)}):")
    for row in message.patients[:MAX_LISTED]:
        lines.append(f"{row.summary.label} [{row.risk.severity}]: {patient_line(row)}: "
                     f"{row.risk.advice()}.")
    if len(message.patients) > MAX_LISTED:
        lines.append(f"…and {len(message.patients) - MAX_LISTED} more.")
    if message.short_of_readings:
        lines.append(short_of_readings_text(message).replace("*", ""))
    return "\n".join(lines)


STATUS_WORDS = {"planned": "would send", "already_sent": "already sent today",
                "sent": "sent", "confirmed": "already delivered (found in Slack history)",
                "in_flight": "being sent by another process", "failed": "FAILED",
                "gave_up": "given up after repeated failures"}


def run_text(run: ReminderRun) -> str:
    """What `rpm-logger remind` prints (the dry run too): per message, who, what and what
    happened, with the patients and the device section it carries."""
    head = f"Reminders for {run.plan.day.isoformat()} (month {run.plan.month})"
    lines = [head + (", dry run: nothing sent" if run.dry_run else "")]
    if run.plan.skipped:
        lines.append(f"  {run.plan.skipped}")
    elif not run.plan.messages:
        lines.append("  nobody has anything at risk: no messages")
    for message, outcome in zip(run.plan.messages, run.outcomes, strict=True):
        what = (f"summary ({counts_text(message, icons=False)}), "
                f"{len(message.patients)} unassigned" if message.kind == CHANNEL
                else count_of(len(message.patients), "patient"))
        if message.short_of_readings:
            what += f", {len(message.short_of_readings)} short of device readings"
        status = STATUS_WORDS.get(outcome.status, outcome.status)
        error = f" ({outcome.error})" if outcome.error else ""
        lines.append(f"  {message.kind} {message.recipient}: {what}: {status}{error}")
        for row in message.patients:
            lines.append(f"    {row.summary.label} [{row.risk.severity}]: {patient_line(row)}: "
                         f"{row.risk.advice()}")
        if message.short_of_readings:  # the device section the message carries, as sent
            lines.extend(f"    {line}" for line in
                         short_of_readings_text(message).replace("*", "").splitlines())
    lines.extend(f"  note: {note}" for note in run.plan.notes)
    return "\n".join(lines)


def run_json(run: ReminderRun) -> dict[str, Any]:
    """The run as data, each message with the exact fallback text it is (or would be) sent
    with."""
    data = run.as_json()
    for item, message in zip(data["messages"], run.plan.messages, strict=True):
        item["text"] = text(message)
    return data
