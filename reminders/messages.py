"""Block Kit and plain-text renderings of a planned reminder, made to be read on a phone.

One short section per patient, worst first: clinic id + initials (never more), minutes so far
of 20, live contact ✓/✗, days left and what to do. `text` is the notification and fallback
text, and says the same in one paragraph.
"""

from datetime import date
from typing import Any

from billing.risk import CRITICAL, HIGH, WATCH
from service.reminders import CHANNEL, PlannedMessage, ReminderRun
from service.views import PatientRisk

SEVERITY_ICON = {CRITICAL: ":red_circle:", HIGH: ":large_orange_circle:",
                 WATCH: ":large_yellow_circle:"}
MAX_LISTED = 40  # Slack allows 50 blocks per message; the rest are counted, not listed
FOOTER = "Sent once a day from the reminder start day while anything is missing this month."


def _when(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def _days_left(days: int) -> str:
    return "last day" if days == 1 else f"{days} days left"


def patient_line(row: PatientRisk) -> str:
    """'12 / 20 min · live ✗ · 16 days left': minutes are floored, never rounded up."""
    live = "✓" if row.summary.live_interactions else "✗"
    return (f"{row.summary.total_seconds // 60} / 20 min · live {live} · "
            f"{_days_left(row.risk.days_left)}")


def _patient_block(row: PatientRisk) -> dict[str, Any]:
    icon = SEVERITY_ICON.get(row.risk.severity, "")
    return {"type": "section", "text": {"type": "mrkdwn", "text": (
        f"*{row.summary.label}*  {icon} {row.risk.severity}\n"
        f"{patient_line(row)}\n_{row.risk.advice()}_")}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _patient_blocks(patients: tuple[PatientRisk, ...]) -> list[dict[str, Any]]:
    blocks = [_patient_block(row) for row in patients[:MAX_LISTED]]
    if len(patients) > MAX_LISTED:
        blocks.append(_context(f"…and {len(patients) - MAX_LISTED} more: "
                               "`rpm-logger report` lists every patient"))
    return blocks


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def counts_text(message: PlannedMessage, *, icons: bool = True) -> str:
    parts = []
    for severity in (CRITICAL, HIGH, WATCH):
        icon = f"{SEVERITY_ICON[severity]} " if icons else ""
        parts.append(f"{icon}{severity} {message.counts.get(severity, 0)}")
    return " · ".join(parts) if icons else ", ".join(parts)


def money_text(message: PlannedMessage) -> str:
    """The channel's dollars, as a clinic manager reads them first (fee schedule estimates)."""
    return (f"Earned so far ${message.earned:,.2f} · still to win from at-risk patients "
            f"${message.at_risk_amount:,.2f} (fee schedule estimates)")


def title(message: PlannedMessage) -> str:
    if message.kind == CHANNEL:
        total = sum(message.counts.values())
        return (f"RPM daily summary: {_plural(total, 'patient')} at risk" if total
                else "RPM daily summary: every patient is on track")
    count = len(message.patients)
    return f"RPM: {_plural(count, 'patient')} need{'s' if count == 1 else ''} time this month"


def blocks(message: PlannedMessage) -> list[dict[str, Any]]:
    """The Block Kit message for a staff member's DM or for the reminder channel."""
    out = [_header(title(message)),
           _context(f"{_when(message.day)} · month {message.month} · worst first")]
    if message.kind == CHANNEL:
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": counts_text(message)}})
        out.append(_context(money_text(message)))
        if message.patients:
            out.append({"type": "divider"})
            out.append({"type": "section", "text": {"type": "mrkdwn", "text": (
                f"*No active staff member assigned ({len(message.patients)})*")}})
    else:
        out.append({"type": "divider"})
    out.extend(_patient_blocks(message.patients))
    out.append(_context(FOOTER))
    return out


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
    return "\n".join(lines)


STATUS_WORDS = {"planned": "would send", "already_sent": "already sent today",
                "sent": "sent", "confirmed": "already delivered (found in Slack history)",
                "in_flight": "being sent by another process", "failed": "FAILED",
                "gave_up": "given up after repeated failures"}


def run_text(run: ReminderRun) -> str:
    """What `rpm-logger remind` prints: per message, who, what and what happened."""
    head = f"Reminders for {run.plan.day.isoformat()} (month {run.plan.month})"
    lines = [head + (", dry run: nothing sent" if run.dry_run else "")]
    if run.plan.skipped:
        lines.append(f"  {run.plan.skipped}")
    elif not run.plan.messages:
        lines.append("  nobody has anything at risk: no messages")
    for message, outcome in zip(run.plan.messages, run.outcomes, strict=True):
        what = (f"summary ({counts_text(message, icons=False)}), "
                f"{len(message.patients)} unassigned" if message.kind == CHANNEL
                else _plural(len(message.patients), "patient"))
        status = STATUS_WORDS.get(outcome.status, outcome.status)
        error = f" ({outcome.error})" if outcome.error else ""
        lines.append(f"  {message.kind} {message.recipient}: {what}: {status}{error}")
        for row in message.patients:
            lines.append(f"    {row.summary.label} [{row.risk.severity}]: {patient_line(row)}: "
                         f"{row.risk.advice()}")
    lines.extend(f"  note: {note}" for note in run.plan.notes)
    return "\n".join(lines)


def run_json(run: ReminderRun) -> dict[str, Any]:
    """The run as data, each message with the exact fallback text it is (or would be) sent
    with."""
    data = run.as_json()
    for item, message in zip(data["messages"], run.plan.messages, strict=True):
        item["text"] = text(message)
    return data
