"""Text, CSV and JSON renderings of service views for the CLI, and the phrases the Slack
messages share with it (reminders). Units are spelled out and minutes are floored, so nothing
reads as 20 minutes before 1,200 seconds."""

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from billing.audit_checks import Finding
from billing.claims import same_units
from billing.codes import format_codes
from billing.devices import DEVICE_CODES
from billing.digits import DIGIT
from billing.durations import format_seconds
from billing.months import clinic_time
from billing.risk import CRITICAL, HIGH, WATCH
from service.access import AccessView
from service.audit_checks import AuditChecks
from service.audit_trail import TrailReport
from service.closes import CloseView
from service.month_words import device_words, still_needed
from service.offboarding import DROPPED, LOGGED, Offboarded, OffboardPlan
from service.patients import EndPreview
from service.reminders import CHANNEL, PlannedMessage
from service.views import (
    BilledAtClose,
    CloseDifference,
    EntryView,
    LoggedEntry,
    MonthSummary,
    MonthTotals,
    PatientRisk,
    PatientView,
    StaffMinutes,
    StaffView,
    staff_label,
)

REPORT_COLUMNS = (
    "patient_id", "initials", "month", "total_seconds", "total_minutes", "live_interactions",
    "live_interaction_dates", "codes", "expected_amount", "held", "held_amount", "next_code",
    "seconds_to_next_code", "needs_live_interaction", "staff", "billing_provider",
    "provider_npi", "consent_on", "conditions", "assigned_to", "month_closed_by", "warnings",
    "billed_at_close", "billed_at_close_record", "since_close",
    "device_codes", "device_amount", "device_days", "device_days_text",
)
# The copy `/rpm report` uploads to Slack: Slack sees patients as clinic id and initials
# only (docs/security.md), so clinical detail (ICD-10 conditions) and consent dates stay in
# the dashboard's and the CLI's copy.
SLACK_REPORT_COLUMNS = tuple(c for c in REPORT_COLUMNS if c not in ("conditions", "consent_on"))
EXPORT_COLUMNS = (
    "entry_id", "patient_id", "initials", "staff", "staff_name", "staff_role",
    "started_clinic", "started_utc", "ended_utc", "duration_seconds", "activity", "source",
    "live", "counts", "note", "created_at_utc", "created_by", "voided_at_utc", "voided_by",
    "void_reason", "amendment_reason", "overlaps_entry_id", "month_seconds", "clock_timed",
    "counted_seconds", "not_counted_seconds", "not_counted_reason", "live_note",
)


# OWASP CSV injection: a spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"  # what a neutralised cell starts with (docs/security.md)
# 0-9 only (billing.digits): '-١٢' is no number a spreadsheet reads, so it is guarded
_PLAIN_NUMBER = re.compile(rf"[+-]?{DIGIT}+(?:\.{DIGIT}+)?")


def spreadsheet_safe(value: Any) -> Any:
    """`value` as a CSV cell no spreadsheet evaluates: text starting like a formula gets a
    leading apostrophe. Numbers, and text that is just a number ('-12'), read as before."""
    if (isinstance(value, str) and value.startswith(FORMULA_STARTS)
            and not _PLAIN_NUMBER.fullmatch(value)):
        return FORMULA_GUARD + value
    return value


class _SafeCsv:
    """The one CSV writer of the product: every row passes through `spreadsheet_safe`."""

    def __init__(self, out: TextIO, columns: Iterable[str]) -> None:
        self._writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n",
                                      extrasaction="ignore")  # a subset: Slack's copy

    def header(self) -> None:
        self._writer.writeheader()

    def row(self, cells: dict[str, Any]) -> None:
        self._writer.writerow({key: spreadsheet_safe(value) for key, value in cells.items()})


def csv_template(example: dict[str, str]) -> str:
    """An import file's header and one example row (`rpm-logger import template`)."""
    out = io.StringIO()
    writer = _SafeCsv(out, example)
    writer.header()
    writer.row(example)
    return out.getvalue()


FINDING_COLUMNS = ("check", "patient_id", "staff_id", "entry_ids", "message", "source")


def _finding_cells(finding: Finding) -> dict[str, str]:
    return {"check": finding.check, "patient_id": finding.patient_id or "",
            "staff_id": finding.staff_id or "",
            "entry_ids": " ".join(f"#{i}" for i in finding.entry_ids),
            "message": finding.message, "source": finding.source}


def findings_csv(findings: Iterable[Finding]) -> str:
    """The self-audit findings as CSV (entry ids space-separated), spreadsheet-safe."""
    out = io.StringIO()
    writer = _SafeCsv(out, FINDING_COLUMNS)
    writer.header()
    for finding in findings:
        writer.row(_finding_cells(finding))
    return out.getvalue()


def findings_table(checks: AuditChecks) -> str:
    """The self-audit findings, one block per finding, then how many of each check."""
    lines = []
    for finding in checks.findings:
        cells = _finding_cells(finding)
        who = " ".join(v for v in (cells["patient_id"], cells["staff_id"],
                                   cells["entry_ids"]) if v)
        lines += [f"{finding.check}  {who}".rstrip(), f"    {finding.message}",
                  f"    source: {finding.source}"]
    return "\n".join([*lines, f"{checks.month}: {findings_count(checks.counts())}"])


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)


def _month_state(summary: MonthSummary, zone: ZoneInfo | None) -> str:
    """'2026-10 (closed on 2026-11-02 by cli:billing)', the close in clinic days."""
    billed = summary.billed_at_close
    if summary.month_closed_by is None or billed is None:
        return summary.month
    day = billed.closed_at.astimezone(zone).date() if zone else billed.closed_at.date()
    return f"{summary.month} (closed on {day} by {summary.month_closed_by})"


def _close_rows(summary: MonthSummary) -> list[tuple[str, str]]:
    """Billed at the latest close vs supported now, when they differ (text status)."""
    billed = summary.billed_at_close
    if billed is None or not billed.differs:
        return []
    devices = billed.device_change()
    time = f"{billed.codes_text}; supports {format_codes(summary.codes) or 'none'} now"
    if devices and same_units(billed.codes, summary.codes):
        time = ""  # only the device codes changed: say those
    return [("Billed at close", "; ".join(part for part in (time, devices) if part)),
            ("Since close", f"{billed.cause}; follow-up: {billed.follow_up}")]


def none_yet(summary: MonthSummary) -> str:
    """What a month without a live contact or a code says: 'none yet' while it runs, 'none'
    once it is over (nothing more can be logged into it)."""
    return "none" if summary.month_ended else "none yet"


def summary_text(summary: MonthSummary, zone: ZoneInfo | None = None) -> str:
    live = "yes" if summary.live_interactions else "no"
    rows = [
        ("Patient", summary.label),
        ("Month", _month_state(summary, zone)),
        ("Counted time", f"{format_seconds(summary.total_seconds)} "
                         f"({summary.total_seconds} seconds)"),
        ("Live contact", f"{live} ({count_of(summary.live_interactions, 'interaction')})"),
        ("Codes", format_codes(summary.codes) or none_yet(summary)),
        ("Still needed", still_needed(summary)),
        *_close_rows(summary),
        ("Device codes", _device_codes_text(summary)),
        ("Device days", device_words(summary)),
    ]
    text = _aligned(rows)
    if summary.warnings:
        text += "\nWarnings:\n" + "\n".join(f"  - {w}" for w in summary.warnings)
    return text


def _device_codes_text(summary: MonthSummary) -> str:
    """'99453;99454 ($66.00)': the codes of the device periods whose date of service is in
    the month, priced apart from the time codes."""
    if not summary.device_codes:
        return "none"
    return f"{format_codes(summary.device_codes)} (${summary.device_amount:.2f})"


def logged_text(logged: LoggedEntry, zone: ZoneInfo | None = None) -> str:
    entry = logged.entry
    lines = [f"Saved entry #{entry.id}: {format_seconds(entry.duration_seconds)} of "
             f"{entry.activity}{entry.live_label} for {logged.summary.label}."]
    if live_warning(entry):
        lines.append(live_warning(entry))
    if not logged.time_counts:
        lines.append("Note: time by non-clinical staff does not count toward 99457.")
    if logged.overlaps:
        lines.append(f"Flagged: it overlaps your entry #{logged.overlaps.id} "
                     f"({logged.overlaps.patient_id}) in time.")
    return "\n".join(lines) + "\n\n" + summary_text(logged.summary, zone)


def live_warning(entry: EntryView) -> str:
    """The log reply's warning when an entry marked live is not a live interaction of its
    month (under the floor, a repeat of the same conversation, ...); '' otherwise."""
    if not entry.live or entry.counts_live or entry.count is None:
        return ""
    return (f"Warning: entry #{entry.id} is not a live interaction ({entry.count.live_note}); "
            "log the live contact that reached the patient.")


def count_of(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _aligned(rows: Iterable[tuple[str, str]]) -> str:
    rows = list(rows)
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)


def staff_share(summary: MonthSummary) -> str:
    """'Nina Nurse (U01NURSE, clinical_staff) 20 min; ...': counted time, adding up to the
    month's total; time logged that did not count is said as such."""
    return "; ".join(f"{s.name} ({s.slack_user_id}, {s.role}) {_staff_seconds(s)}"
                     for s in summary.staff)


def _staff_seconds(share: StaffMinutes) -> str:
    if not share.counts:
        return f"{format_seconds(share.logged_seconds)} logged, not counted"
    if share.logged_seconds > share.seconds:
        return (f"{format_seconds(share.seconds)} counted "
                f"({format_seconds(share.logged_seconds)} logged)")
    return format_seconds(share.seconds)


def report_row(summary: MonthSummary) -> dict[str, Any]:
    return {
        "patient_id": summary.patient_id, "initials": summary.initials or "",
        "month": summary.month, "total_seconds": summary.total_seconds,
        "total_minutes": summary.total_seconds // 60,
        "live_interactions": summary.live_interactions,
        "live_interaction_dates": ";".join(d.isoformat() for d in summary.live_interaction_dates),
        "codes": format_codes(summary.codes),
        "expected_amount": f"{summary.billable_amount:.2f}",  # adds up to the totals
        "held": "; ".join(summary.held),
        "held_amount": f"{summary.held_amount:.2f}" if summary.held else "",
        "next_code": summary.next_code or "",
        "seconds_to_next_code": "" if summary.seconds_to_next_code is None
        else summary.seconds_to_next_code,
        "needs_live_interaction": "yes" if summary.needs_live_interaction else "no",
        "staff": staff_share(summary), "billing_provider": summary.provider or "",
        "provider_npi": summary.provider_npi or "",
        "consent_on": summary.consent_on.isoformat() if summary.consent_on else "",
        "conditions": ";".join(summary.conditions), "assigned_to": summary.assigned_to or "",
        "month_closed_by": summary.month_closed_by or "", "warnings": "; ".join(summary.warnings),
        **_close_cells(summary),
        "device_codes": format_codes(summary.device_codes),
        "device_amount": f"{summary.device_amount:.2f}" if summary.device_codes else "",
        # the number JSON gives (`device_days`), and in words its period and what it needs
        "device_days": summary.device_days, "device_days_text": device_words(summary),
    }


def _close_cells(summary: MonthSummary) -> dict[str, str]:
    """Billed at the latest close (codes), how that record was made, and what differs now."""
    billed = summary.billed_at_close
    if billed is None:
        return {"billed_at_close": "", "billed_at_close_record": "", "since_close": ""}
    # closed with nothing billed reads "none"; blank means the month was never closed
    return {"billed_at_close": billed.codes_text, "billed_at_close_record": billed.record,
            "since_close": _since_close(billed) if billed.differs else "unchanged"}


def _since_close(billed: BilledAtClose) -> str:
    """What changed since close, why, and what follows: the CSV's cell (the device codes
    first when they changed: the billed_at_close column holds the time codes)."""
    devices = billed.device_change()
    return (f"{devices}; " if devices else "") + \
        f"{billed.cause}; follow-up: {billed.follow_up}"


def close_difference_lines(differences: Iterable[CloseDifference]) -> list[str]:
    """One line per patient whose codes differ from the latest close: billed vs now, the
    cause and what follows (the CLI's table and summary, the dashboard, Slack)."""
    return [f"{d.patient}: {d.changed_codes()}; cause: {d.cause}; follow-up: {d.follow_up}"
            for d in differences]


def report_csv_lines(summaries: Iterable[MonthSummary],
                     columns: tuple[str, ...] = REPORT_COLUMNS) -> Iterator[str]:
    """The report CSV a line at a time as the summaries arrive, so a streamed report (the
    CLI's) holds one row, never the clinic. `columns`: SLACK_REPORT_COLUMNS for Slack."""
    buffer = io.StringIO()
    writer = _SafeCsv(buffer, columns)
    writer.header()
    yield buffer.getvalue()
    for summary in summaries:
        buffer.seek(0)
        buffer.truncate()
        writer.row(report_row(summary))
        yield buffer.getvalue()


def write_report_csv(summaries: Iterable[MonthSummary], out: TextIO) -> None:
    """Writes the report CSV to `out` row by row as the summaries arrive."""
    for line in report_csv_lines(summaries):
        out.write(line)


def report_csv(summaries: Iterable[MonthSummary],
               columns: tuple[str, ...] = REPORT_COLUMNS) -> str:
    """The whole report CSV as one text (Slack uploads and the dashboard's download)."""
    return "".join(report_csv_lines(summaries, columns))


def _expected_cell(summary: MonthSummary) -> str:
    """'$52.00', or for a held month '$0.00 (held: $93.00)': what it bills now, and apart what
    it would once the hold is lifted, as the CSV and JSON say it."""
    amount = f"${summary.billable_amount:.2f}"
    return f"{amount} (held: ${summary.held_amount:.2f})" if summary.held else amount


def report_table(summaries: list[MonthSummary], totals: MonthTotals) -> str:
    header = ("Patient", "Minutes", "Live", "Codes", "Expected", "Still needed", "Device",
              "Warnings")
    rows = [header] + [
        (s.label, f"{s.total_seconds // 60} min", "yes" if s.live_interactions else "no",
         format_codes(s.codes) or "-", _expected_cell(s), still_needed(s),
         _device_codes_text(s) if s.device_codes else "-",
         "; ".join(s.warnings) or "-")
        for s in summaries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + ["", totals_text(totals)])


def _device_totals(totals: MonthTotals) -> list[tuple[str, str]]:
    """The device half of the month's totals, when there is one."""
    if not totals.device_units and not totals.short_of_readings:
        return []
    units = ", ".join(f"{code} x{n}" for code, n in sorted(totals.device_units.items()))
    return [("Device codes", f"{units or 'none'} (${totals.device_amount:.2f})"),
            ("Short of readings", _short_of_readings(totals))]


def _short_of_readings(totals: MonthTotals) -> str:
    """'3 patients whose device period still needs reading days: 2 for 99454, 1 for
    99445' (each counted under the code its period aims at)."""
    text = (f"{count_of(totals.short_of_readings, 'patient')} whose device period still "
            "needs reading days")
    split = [f"{totals.short_of_readings_for[code]} for {code}" for code in DEVICE_CODES
             if totals.short_of_readings_for.get(code)]
    return f"{text}: {', '.join(split)}" if split else text


def totals_text(totals: MonthTotals) -> str:
    """The month in numbers and dollars (fee schedule estimates), and whether it is closed."""
    units = ", ".join(f"{code} x{n}" for code, n in sorted(totals.units.items())) or "none"
    state = f"closed by {totals.closed_by}" if totals.closed_by else (totals.reopened or "open")
    rows = [
        ("Month", f"{totals.month} ({state})"),
        ("Patients", f"{count_of(totals.patients, 'patient')} enrolled, "
                     f"{totals.billable} with billable codes"
                     + (f", {totals.held} held (no consent or no order on file: do not bill)"
                        if totals.held else "")),
        ("Codes", units),
        ("Earned so far", f"${totals.expected_amount:.2f} (estimate from FEE_SCHEDULE)"),
        *_device_totals(totals),
        ("At risk", f"{count_of(totals.at_risk, 'patient')}, "
                    f"${totals.at_risk_amount:.2f} still to win"),
    ]
    if totals.unmatched_calls:
        rows.append(("Unmatched calls", f"{count_of(totals.unmatched_calls, 'call')} with no "
                     "patient: attach them (rpm-logger calls list --state unmatched)"))
    text = _aligned(rows)
    if totals.changed_since_close:
        text += "\n" + changed_since_close_text(totals.changed_since_close)
    return text


def changed_since_close_text(differences: Sequence[CloseDifference]) -> str:
    """'Changed since close: 1 patient' and a line per patient (the report's totals and
    `month show`)."""
    return (f"Changed since close: {count_of(len(differences), 'patient')}\n"
            + "\n".join(f"  - {line}" for line in close_difference_lines(differences)))


def close_figures(view: CloseView, *, slack: bool = False) -> str:
    """What a close locks: patients, codes and units, dollars (fee schedule estimates). The
    one phrasing of it: the CLI's in plain text, Slack's (`slack=True`) with · and ×."""
    times, between = ("×", " · ") if slack else ("x", ", ")
    units = ", ".join(f"{code} {times}{n}" for code, n in sorted(view.units.items())) \
        or "no codes"
    billable = f"{view.billable} billable" if slack else f"{view.billable} with billable codes"
    amount = f"${view.amount:,.2f}" if slack else f"${view.amount:.2f}"
    devices = ", ".join(f"{code} {times}{n}" for code, n in sorted(view.device_units.items()))
    device_amount = (f"${view.device_amount:,.2f}" if slack
                     else f"${view.device_amount:.2f}")
    device_part = f"{between}device codes {devices} ({device_amount})" if devices else ""
    return (f"{count_of(view.patients, 'patient')} ({billable}{_held(view)}){between}{units}"
            f"{between}{amount}{device_part}")


def _held(view: CloseView, shown: int = 10) -> str:
    """'; held, not billed: P-2000 (AB): no consent on file': months that support codes
    the close records as not billed (service/month_closing.py), with why."""
    if not view.held:
        return ""
    more = f" and {len(view.held) - shown} more" if len(view.held) > shown else ""
    return f"; held, not billed: {' | '.join(view.held[:shown])}{more}"


def findings_count(counts: dict[str, int]) -> str:
    """"N findings: 2 thin_documentation, 1 heaping" (per check, no patient named: Slack
    shows it too); "0 findings: ..." when the self-audit checks ran clean."""
    total = sum(counts.values())
    if not total:
        return "0 findings: the self-audit checks ran clean"
    return f"{count_of(total, 'finding')}: " + ", ".join(f"{n} {check}"
                                                       for check, n in counts.items())


def findings_line(counts: dict[str, int], month: str) -> str:
    """The close confirmation's line on the month's self-audit checks, and where to read
    them; the findings are information, the close still works."""
    if not sum(counts.values()):
        return f"{findings_count(counts)} on {month}."
    return (f"{findings_count(counts)} (information: the close still works; see "
            f"`rpm-logger audit checks --month {month}` or the dashboard's Self-audit page).")


def close_patient_lines(view: CloseView) -> list[str]:
    """'P-1042 (JD): time codes 99457; device codes 99453;99454': each patient a close (or
    its preview) bills, time and device codes side by side, as the report's `codes` and
    `device_codes` say them."""
    return [f"{p.patient}: time codes {format_codes(p.codes) or 'none'}; device codes "
            f"{format_codes(p.device_codes) or 'none'}" for p in view.by_patient]


def close_preview_text(view: CloseView) -> str:
    """What `month close` is about to lock, said before it asks: the figures, then each
    patient it bills with their time and device codes."""
    text = f"Closing {view.month} locks {close_figures(view)}.\n"
    if view.by_patient:
        text += "Billed by patient:\n" + "".join(f"  - {line}\n"
                                                for line in close_patient_lines(view))
    text += findings_line(view.findings, view.month)
    if not view.billable:
        text += (f"\nNothing in {view.month} to bill (no patient has billable time or "
                 "device codes): is this the month you mean?")
    return text + f"\n{LATE_CHANGES}"


# What a closed month needs for a change dated in it (CLI and Slack say the same).
LATE_CHANGES = ("Later logs, voids, call attachments, reading imports, device attaches and "
                "back-dated device ends dated in it need an amendment with a reason.")


# Why a reopen asks whether the close was billed (CLI and Slack say the same).
REOPEN_ADVICE = ("A billed month is normally amended, not reopened: an admin logs or voids "
                 "in it with an amendment and its reason (rpm-logger log ... --amend REASON, "
                 "rpm-logger void ID --amend). If you reopen it, say whether its claims were "
                 "sent: after a reopen marked billed, later closes are compared with what was "
                 "billed, so a corrected claim stays named.")


def reopen_billed_text(billed: bool | None) -> str:
    """What a reopen's answer means for the month's later closes."""
    if billed is None:
        return "not said whether it was billed (before reopens asked)"
    if billed:
        return "its claims had been sent: later closes are compared with what was billed"
    return "not billed yet: the next close is what the report compares with"


def close_event_text(view: CloseView, zone: ZoneInfo) -> str:
    """One line of a month's close history, in clinic time."""
    at = clinic_time(view.closed_at, zone)
    if view.action == "reopen":
        return (f"  {at} reopened by {view.closed_by}: {view.reason} "
                f"({reopen_billed_text(view.billed)})")
    record = " (record reconstructed)" if view.record == "reconstructed" else ""
    return f"  {at} closed by {view.closed_by}: {close_figures(view)}{record}"


def _amendment_reasons(entry: EntryView) -> str:
    """Why a closed month was amended by this entry: its late log's reason and, when it was
    voided as an amendment, "void: " and that reason (before, only the audit had it)."""
    reasons = [entry.amendment_reason or ""]
    if entry.void_amendment_reason:
        reasons.append(f"void: {entry.void_amendment_reason}")
    return "; ".join(r for r in reasons if r)


def export_csv(entries: Iterable[EntryView], zone: ZoneInfo, *, region: str) -> str:
    """Every entry for auditors: who, when (clinic time and UTC), how long, voids and why.
    A phone number typed into a note or a void reason is masked, as on the dashboard and
    in the audit packet (`region`: how numbers without a country code are read)."""
    buffer = io.StringIO()
    writer = _SafeCsv(buffer, EXPORT_COLUMNS)
    writer.header()
    for e in (entry.masked(region) for entry in entries):
        writer.row({
            "entry_id": e.id, "patient_id": e.patient_id, "initials": e.patient_initials or "",
            "staff": e.staff, "staff_name": e.staff_name or "", "staff_role": e.staff_role,
            "started_clinic": e.started_at.astimezone(zone).isoformat(),
            "started_utc": e.started_at.isoformat(), "ended_utc": e.ended_at.isoformat(),
            "duration_seconds": e.duration_seconds, "activity": e.activity,
            "source": e.source, "live": "yes" if e.counts_live else "no",
            "counts": _counts_cell(e), "note": e.note or "",
            "created_at_utc": e.created_at.isoformat(), "created_by": e.created_by,
            "voided_at_utc": e.voided_at.isoformat() if e.voided_at else "",
            "voided_by": e.voided_by or "",
            "void_reason": e.void_reason or "",
            "amendment_reason": _amendment_reasons(e),
            "overlaps_entry_id": e.overlaps_entry_id or "",
            "month_seconds": e.duration_seconds if e.month_seconds is None else e.month_seconds,
            "clock_timed": "yes" if e.clock_timed else "no",
            **_tally_cells(e),
        })
    return buffer.getvalue()


def _counts_cell(entry: EntryView) -> str:
    """yes (all its share of the month counts), partly, or no: the month's tally's answer."""
    count = entry.count
    if count is None:
        return "yes" if entry.counts else "no"
    if count.counted_seconds and count.counted_seconds == count.month_seconds:
        return "yes"
    return "partly" if count.counted_seconds else "no"


def _tally_cells(entry: EntryView) -> dict[str, Any]:
    """What the month's tally counted of the entry, what it left out and why."""
    count = entry.count
    if count is None:
        return {"counted_seconds": "", "not_counted_seconds": "", "not_counted_reason": "",
                "live_note": ""}
    return {"counted_seconds": count.counted_seconds,
            "not_counted_seconds": count.not_counted_seconds,
            "not_counted_reason": "; ".join(count.reasons) if count.not_counted_seconds else "",
            "live_note": count.live_note}


def end_preview_text(preview: EndPreview) -> str:
    """What a backdated end takes away, before it is confirmed."""
    many = len(preview.closed_months) > 1
    closed = (f"; closed month{'s' if many else ''} {', '.join(preview.closed_months)} "
              f"change{'' if many else 's'} (amended)" if preview.closed_months else "")
    return (f"Ending {preview.patient} on {preview.ended_on}: "
            f"{preview.entries} entr{'y' if preview.entries == 1 else 'ies'} "
            f"({format_seconds(preview.seconds)}) logged after {preview.ended_on} will stop "
            f"counting{closed}.")


def staff_text(staff: StaffView, zone: ZoneInfo) -> str:
    """One line per member: role and flags, whether a voice PIN is set (yes/no, nothing
    more) and a voice lock in force, in clinic time."""
    inactive = "inactive" if staff.inactive_from is None else \
        f"inactive since {clinic_time(staff.inactive_from, zone)}"
    flags = [staff.role] + (["admin"] if staff.is_admin else []) + \
        ([] if staff.active else [inactive])
    voice = f"voice PIN: {'yes' if staff.has_voice_pin else 'no'}"
    if staff.voice_locked_until is not None:
        voice += f", voice locked until {clinic_time(staff.voice_locked_until, zone)}"
    return f"{staff.slack_user_id}  {staff.name}  ({', '.join(flags)})  {voice}"


def episodes_text(episodes: tuple[tuple[date | None, date | None], ...]) -> str:
    """'2026-09-01 to 2026-11-10; 2026-11-20 to ongoing': every enrolment episode."""
    return "; ".join(f"{start or 'not set'} to {end or 'ongoing'}" for start, end in episodes)


def patient_text(patient: PatientView) -> str:
    rows = [
        ("Patient", patient.label),
        ("Assigned to", _person(patient.assigned_to, patient.assigned_name) or "nobody"),
        ("Billing provider", _person(patient.provider, patient.provider_name) or "not set"),
        ("Consent", str(patient.consent_on) if patient.consent_on else "not on file"),
        ("Conditions", ", ".join(patient.conditions) or "none recorded"),
        ("Enrolled", f"{patient.enrolled_on or 'not set'} to {patient.ended_on or 'ongoing'}"),
        *((("Episodes", episodes_text(patient.episodes)),) if len(patient.episodes) > 1
          else ()),
        ("Ordered by", _person(patient.ordered_by, patient.ordered_by_name)
         or "not on file"),
        ("Order date", str(patient.order_on) if patient.order_on else "not on file"),
        ("Last visit", str(patient.last_visit_on) if patient.last_visit_on else "not on file"),
        ("Phones", f"{patient.phone_count} patient, {patient.caregiver_phone_count} caregiver"),
    ]
    return _aligned(rows)


def entry_text(entry: EntryView, zone: ZoneInfo) -> str:
    """One entry on a line, its start in clinic time (the day the clinic lived it)."""
    voider = _person(entry.voided_by, entry.voided_by_name)
    state = f"VOIDED by {voider}: {entry.void_reason}" if entry.voided_at else ""
    share = entry.month_seconds
    split = (f" ({format_seconds(share)} in this month)"
             if share is not None and share != entry.duration_seconds else "")
    return (f"#{entry.id}  {clinic_time(entry.started_at, zone)}  "
            f"{format_seconds(entry.duration_seconds):>12}{split}  {entry.activity}"
            f"{entry.live_label}  by {_author(entry)}  {_spaced(not_counted(entry))}"
            f"{state}").rstrip()


def _spaced(text: str) -> str:
    return f"{text}  " if text else ""


def _author(entry: EntryView) -> str:
    """'Nina Nurse (U01NURSE)' as the close and every screen name staff."""
    return _person(entry.staff, entry.staff_name) or entry.staff


def _person(slack_id: str | None, name: str | None) -> str | None:
    """A staff member as screens outside Slack name them: 'Nina Nurse (U01NURSE)'; the id
    alone when no name is on file; None for nobody."""
    return None if slack_id is None else staff_label(slack_id, name)


def not_counted(entry: EntryView) -> str:
    """'not counted: 20 min (overlaps ...)' when the month's tally left time of a standing
    entry out; '' otherwise. The CLI's `entries` and the dashboard's entry table say it."""
    count = entry.count
    if count is None or not count.not_counted_seconds or entry.voided_at:
        return ""
    return (f"not counted: {format_seconds(count.not_counted_seconds)} "
            f"({'; '.join(count.reasons)})")


# -- reminders: phrased once for the Slack message, its fallback text and the CLI ---------

SEVERITY_ICON = {CRITICAL: ":red_circle:", HIGH: ":large_orange_circle:",
                 WATCH: ":large_yellow_circle:"}
MAX_LISTED = 40  # Slack allows 50 blocks per message; the rest are counted, not listed
REMINDER_FOOTER = ("Sent once a day from the reminder start day while anything is missing "
                   "this month.")


def reminder_day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def _days_left(days: int) -> str:
    return "last day" if days == 1 else f"{days} days left"


def patient_line(row: PatientRisk) -> str:
    """'12 / 20 min · live ✗ · 16 days left': minutes are floored, never rounded up."""
    live = "✓" if row.summary.live_interactions else "✗"
    return (f"{row.summary.total_seconds // 60} / 20 min · live {live} · "
            f"{_days_left(row.risk.days_left)}")


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


def short_of_readings_text(message: PlannedMessage) -> str:
    """The patients whose device period still needs reading days: call them about the
    device (days counted, never a reading's value)."""
    lines = [f"• {label}: needs {days} more reading day{'s' if days != 1 else ''} by {by}"
             f" for {code}" for label, days, by, code in message.short_of_readings[:MAX_LISTED]]
    more = len(message.short_of_readings) - MAX_LISTED
    if more > 0:
        lines.append(f"…and {more} more")
    return ("*Short of device readings: call about the device*\n" + "\n".join(lines))


def title(message: PlannedMessage) -> str:
    if message.kind == CHANNEL:
        total = sum(message.counts.values())
        return (f"RPM daily summary: {count_of(total, 'patient')} at risk" if total
                else "RPM daily summary: every patient is on track")
    count = len(message.patients)
    if not count and message.short_of_readings:
        short = len(message.short_of_readings)
        return f"RPM: {count_of(short, 'patient')} short of device readings"
    return f"RPM: {count_of(count, 'patient')} need{'s' if count == 1 else ''} time this month"


def trail_lines(report: TrailReport) -> list[str]:
    """`audit verify`: what was walked, the head, then every finding (first one first)."""
    head = (f"head #{report.head.id} {report.head.hash}" if report.head is not None
            else "no audit record yet")
    lines = [f"{count_of(report.records, 'audit record')} and "
             f"{count_of(report.entries, 'time entry').replace('entrys', 'entries')} "
             f"checked; {head}"]
    if report.checked_head is not None and report.checked_head_at is not None:
        lines.append(f"head {report.checked_head} is record #{report.checked_head_at}")
    if report.clean:
        lines.append("the audit trail is intact")
    lines += [f"{f.kind}: {f.message}" for f in report.findings]
    return lines


def trail_json(report: TrailReport) -> str:
    """`audit verify --json`: the same, as one object."""
    return as_json({
        "clean": report.clean, "records": report.records, "entries": report.entries,
        "head": ({"id": report.head.id, "hash": report.head.hash}
                 if report.head is not None else None),
        "checked_head": report.checked_head, "checked_head_at": report.checked_head_at,
        "findings": [{"kind": f.kind, "record_id": f.record_id, "entry_id": f.entry_id,
                      "message": f.message} for f in report.findings]})


def access_table(views: Sequence[AccessView], zone: ZoneInfo, *,
                 refused_only: bool = False) -> str:
    """The access log as aligned lines (`rpm-logger audit access`): when (clinic time), who,
    what, patient, month, via, outcome (viewed, or refused: outside the viewer's scope);
    then how many."""
    if not views:
        return "no refused asks recorded" if refused_only else "no views recorded"
    rows = [("when", "who", "what", "patient", "month", "via", "outcome")]
    rows += [(clinic_time(v.at, zone), v.by, v.what,
              "(unknown id)" if v.unknown_patient else v.patient or "(all)", v.month or "",
              v.via, v.outcome) for v in views]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    refused = sum(1 for v in views if v.refused)
    counts = [count_of(len(views) - refused, "view")] if len(views) > refused else []
    counts += [f"{refused} refused"] if refused else []
    return "\n".join(lines + [", ".join(counts)])


def _timer_fate(plan: OffboardPlan, zone: ZoneInfo, *, done: bool) -> str:
    """What becomes (or became) of the member's running timer, in words."""
    timer = plan.timer
    if timer is None:
        return "no running timer"
    since = clinic_time(timer.started_at, zone)
    ran = format_seconds(timer.elapsed_seconds)
    if plan.timer_fate == LOGGED:
        return (f"running timer for {timer.label} ({timer.activity}, since {since}, {ran}) "
                f"{'logged' if done else 'is logged'} up to now as an entry, with a note "
                "saying so")
    why = "as asked (--drop-timer)" if plan.timer_fate == DROPPED else \
        "it ran past MAX_ENTRY_MINUTES"
    return (f"running timer for {timer.label} ({timer.activity}, since {since}, {ran}) "
            f"{'dropped' if done else 'is dropped'} unlogged with a note, {why}; the admins "
            "are told")


def offboard_lines(plan: OffboardPlan, zone: ZoneInfo, *, done: bool,
                   patients_shown: int | None = None) -> list[str]:
    """What offboarding does (or did), one line per step: patients by clinic id and initials
    only, so Slack shows the same lines (the patients line second; `patients_shown`: at most
    that many listed, then "…and N more", as Slack's blocks have a size limit)."""
    member, successor = plan.member, plan.successor
    count = len(plan.patients)
    moved = "moved" if done else "move"
    shown = plan.patients if patients_shown is None else plan.patients[:patients_shown]
    more = count - len(shown)
    listed = (f": {', '.join(shown)}" + (f" …and {more} more" if more else "")
              if plan.patients else "")
    since = clinic_time(plan.inactive_from, zone)
    lines = [
        f"{member.name} ({member.slack_user_id}) "
        + (f"inactive from {since}" if done else f"becomes inactive from {since}")
        + (" (already inactive: that instant is kept)" if plan.already_inactive and not done
           else "") + ": no call is routed to or credited to them from then on",
        f"{count} patient{'s' if count != 1 else ''} {moved} to {successor.name} "
        f"({successor.slack_user_id}){listed}",
        _timer_fate(plan, zone, done=done),
        ("voice PIN removed" if done else "voice PIN is removed") if plan.voice_pin
        else "no voice PIN",
    ]
    if plan.twilio_numbers:
        lines.append(f"{plan.twilio_numbers} clinic Twilio number(s) stay on their record: "
                     "calls to them go to the caller's assignee, else CLINIC_FALLBACK_NUMBER; "
                     "give them to someone with `staff update SLACK_ID --twilio-number`")
    return lines


def offboard_plan_text(plan: OffboardPlan, zone: ZoneInfo) -> str:
    """`staff offboard`'s preview: what it will do, before the question."""
    return "Offboarding:\n" + "\n".join(f"- {line}" for line in
                                         offboard_lines(plan, zone, done=False))


def offboarded_text(done: Offboarded, zone: ZoneInfo) -> str:
    """What `staff offboard` did."""
    lines = offboard_lines(done.plan, zone, done=True)
    if done.entry_id is not None:
        lines[2] += f" (entry #{done.entry_id})"
    return f"offboarded {done.plan.member.slack_user_id}:\n" + "\n".join(
        f"- {line}" for line in lines)
