"""Text, CSV and JSON renderings of service views for the CLI. Units are spelled out and
minutes are floored, so nothing reads as 20 minutes before 1,200 seconds."""

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from billing.codes import format_codes
from billing.durations import format_seconds
from service.views import EntryView, LoggedEntry, MonthSummary, PatientView, StaffView

REPORT_COLUMNS = (
    "patient_id", "initials", "month", "total_seconds", "total_minutes", "live_interactions",
    "codes", "next_code", "seconds_to_next_code", "needs_live_interaction", "assigned_to",
    "warnings",
)


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)


def _next_step(summary: MonthSummary) -> str:
    parts = []
    if summary.next_code and summary.seconds_to_next_code:
        parts.append(f"{format_seconds(summary.seconds_to_next_code)} more for "
                     f"{summary.next_code}")
    if summary.needs_live_interaction:
        parts.append("a live interaction (call or video)")
    if not parts:
        return "nothing: the month is at its cap" if not summary.next_code else "nothing"
    return " and ".join(parts)


def summary_text(summary: MonthSummary) -> str:
    live = "yes" if summary.live_interactions else "no"
    rows = [
        ("Patient", summary.label),
        ("Month", summary.month),
        ("Counted time", f"{format_seconds(summary.total_seconds)} "
                         f"({summary.total_seconds} seconds)"),
        ("Live contact", f"{live} ({_count(summary.live_interactions, 'interaction')})"),
        ("Codes", format_codes(summary.codes) or "none yet"),
        ("Still needed", _next_step(summary)),
    ]
    text = _aligned(rows)
    if summary.warnings:
        text += "\nWarnings:\n" + "\n".join(f"  - {w}" for w in summary.warnings)
    return text


def logged_text(logged: LoggedEntry) -> str:
    entry = logged.entry
    lines = [f"Saved entry #{entry.id}: {format_seconds(entry.duration_seconds)} of "
             f"{entry.activity}{' (live)' if entry.live else ''} for {logged.summary.label}."]
    if not logged.time_counts:
        lines.append("Note: time by non-clinical staff does not count toward 99457.")
    if logged.overlaps:
        lines.append(f"Flagged: it overlaps your entry #{logged.overlaps.id} "
                     f"({logged.overlaps.patient_id}) in time.")
    return "\n".join(lines) + "\n\n" + summary_text(logged.summary)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _aligned(rows: Iterable[tuple[str, str]]) -> str:
    rows = list(rows)
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)


def report_row(summary: MonthSummary) -> dict[str, Any]:
    return {
        "patient_id": summary.patient_id, "initials": summary.initials or "",
        "month": summary.month, "total_seconds": summary.total_seconds,
        "total_minutes": summary.total_seconds // 60,
        "live_interactions": summary.live_interactions, "codes": format_codes(summary.codes),
        "next_code": summary.next_code or "",
        "seconds_to_next_code": "" if summary.seconds_to_next_code is None
        else summary.seconds_to_next_code,
        "needs_live_interaction": "yes" if summary.needs_live_interaction else "no",
        "assigned_to": summary.assigned_to or "", "warnings": "; ".join(summary.warnings),
    }


def report_csv(summaries: Iterable[MonthSummary]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for summary in summaries:
        writer.writerow(report_row(summary))
    return buffer.getvalue()


def report_table(summaries: list[MonthSummary], month: str) -> str:
    header = ("Patient", "Minutes", "Live", "Codes", "Still needed", "Warnings")
    rows = [header] + [
        (s.label, f"{s.total_seconds // 60} min", "yes" if s.live_interactions else "no",
         format_codes(s.codes) or "-", _next_step(s), str(len(s.warnings)))
        for s in summaries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    billed = sum(1 for s in summaries if s.codes)
    footer = (f"{month}: {_count(len(summaries), 'patient')} enrolled, "
              f"{billed} with billable codes.")
    return "\n".join(lines + ["", footer])


def staff_text(staff: StaffView) -> str:
    flags = [staff.role] + (["admin"] if staff.is_admin else []) + \
        ([] if staff.active else ["inactive"])
    return f"{staff.slack_user_id}  {staff.name}  ({', '.join(flags)})"


def patient_text(patient: PatientView) -> str:
    rows = [
        ("Patient", patient.label),
        ("Assigned to", patient.assigned_to or "nobody"),
        ("Billing provider", patient.provider or "not set"),
        ("Consent", str(patient.consent_on) if patient.consent_on else "not on file"),
        ("Conditions", ", ".join(patient.conditions) or "none recorded"),
        ("Enrolled", f"{patient.enrolled_on or 'not set'} to {patient.ended_on or 'ongoing'}"),
        ("Phones", f"{patient.phone_count} patient, {patient.caregiver_phone_count} caregiver"),
    ]
    return _aligned(rows)


def entry_text(entry: EntryView) -> str:
    state = f"VOIDED by {entry.voided_by}: {entry.void_reason}" if entry.voided_at else ""
    return (f"#{entry.id}  {entry.started_at:%Y-%m-%d %H:%M}Z  "
            f"{format_seconds(entry.duration_seconds):>12}  {entry.activity}"
            f"{' (live)' if entry.live else ''}  by {entry.staff}  {state}").rstrip()
