"""HTML rendering: Jinja2 templates shipped in this package, autoescaped, no external assets."""

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from billing.codes import TWENTY_MINUTES, format_codes
from billing.durations import format_seconds
from billing.fees import amount_still_to_win
from billing.months import Month, clinic_time
from billing.risk import RiskAssessment
from presentation import packet
from presentation.render import findings_count, none_yet, not_counted
from service.audit_checks import AuditChecks
from service.dashboard import CodeSeries, DashboardRow, PatientPage
from service.month_words import device_words
from service.views import MonthSummary, StaffView, staff_label
from web.chart import svg

_env = Environment(
    loader=PackageLoader("web", "templates"),
    autoescape=select_autoescape(["html", "css"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["person"] = staff_label  # 'Nina Nurse (U01NURSE)', as every screen names staff
_env.globals["not_counted"] = not_counted  # the CLI's words for time the tally left out
_env.globals["none_yet"] = none_yet


@dataclass(frozen=True)
class RowView:
    """A dashboard row with what the template shows, computed once here."""

    summary: MonthSummary
    risk: RiskAssessment
    minutes: int
    percent: float  # of the bar to 20 minutes, capped at 100
    codes: str
    advice: str
    verdict: str  # the status cell: a severity while days remain, then earned or missed
    verdict_class: str  # its colour: the severity's, "ok" for earned
    device_days: int = 0  # the current device period's reading days
    device_codes: str = ""  # the device codes dated in the month
    device_advice: str = ""  # service.month_words.device_words
    device_short: str = ""  # "needs 4 more reading days by 2026-12-18 for 99454"


def row_view(row: DashboardRow) -> RowView:
    seconds = row.summary.total_seconds
    percent = round(min(seconds, TWENTY_MINUTES) * 100 / TWENTY_MINUTES, 1)
    verdict, verdict_class = _verdict(row)
    return RowView(row.summary, row.risk, row.minutes, percent, format_codes(row.summary.codes),
                   row.risk.advice(), verdict, verdict_class, row.summary.device_days,
                   format_codes(row.summary.device_codes), device_words(row.summary),
                   _device_short(row.summary))


def _device_short(summary: MonthSummary) -> str:
    """The device period's verdict under its days (billing.devices.period_verdict): while
    the month runs, "needs 4 more reading days by 2026-12-18 for 99454" or what the period
    ended with; nothing in a month that is over or for a patient with no readings."""
    verdict = summary.device_verdict
    if verdict is None or summary.month_ended:
        return ""
    return verdict.advice()


def _verdict(row: DashboardRow) -> tuple[str, str]:
    """A finished window shows what it earned (any code, 99470 included: green) or that it
    missed every code (red); a running one its severity (clinic finding, issue 26 item 14)."""
    if row.summary.codes and row.summary.held:  # earned, but not to be billed yet
        return "held: do not bill", "high"
    if row.risk.days_left:
        return row.risk.severity, row.risk.severity
    if row.summary.codes:
        return "earned " + " + ".join(c.code for c in row.summary.codes), "ok"
    return "missed", "critical"


def month_page(*, month: Month, today_days_left: int, rows: list[DashboardRow],
               staff: list[StaffView], staff_filter: str | None, series: CodeSeries,
               fees: Mapping[str, Decimal], closed_by: str | None = None,
               admin: bool = True, signed_in: str | None = None) -> str:
    views = [row_view(r) for r in rows]
    earned = sum((r.summary.billable_amount for r in rows), Decimal("0.00"))
    to_win = sum((amount_still_to_win(r.summary.codes, fees) for r in rows
                  if r.risk.still_to_win), Decimal("0.00"))
    chart = svg(series, month.days, f"Patients reaching each code in {month}")
    return _env.get_template("month.html").render(
        month=str(month), month_name=f"{calendar.month_name[month.month]} {month.year}",
        rows=views, staff=staff, staff_filter=staff_filter or "",
        billable=sum(1 for r in rows if r.summary.billable),
        at_risk=sum(1 for r in rows if r.risk.still_to_win), days_left=today_days_left, chart=chart,
        earned=f"{earned:,.2f}", to_win=f"{to_win:,.2f}", closed_by=closed_by,
        admin=admin, signed_in=signed_in,
    )


def patient_page(*, month: Month, page: PatientPage, zone: ZoneInfo,
                 signed_in: str | None = None) -> str:
    def local(instant: datetime) -> str:
        return clinic_time(instant, zone)

    verdict = page.summary.device_verdict
    return _env.get_template("patient.html").render(
        month=str(month), page=page, codes=format_codes(page.summary.codes), zone=zone.key,
        device_codes=format_codes(page.summary.device_codes),
        device_words=device_words(page.summary),
        device_advice=verdict.advice() if verdict is not None else "",
        local=local, duration=format_seconds,
        packet_href=packet.dashboard_path(page.patient.patient_id, str(month)),
        signed_in=signed_in,
    )


def self_audit_page(*, month: Month, checks: AuditChecks) -> str:
    return _env.get_template("self_audit.html").render(
        month=str(month), month_name=f"{calendar.month_name[month.month]} {month.year}",
        checks=checks, count=findings_count(checks.counts()))


def message_page(*, status: int, heading: str, text: str, login: bool = False,
                 sign_in: bool = False) -> str:
    return _env.get_template("message.html").render(status=status, heading=heading, text=text,
                                                    login=login, sign_in=sign_in)


def auditor_sign_in_page(*, link: str) -> str:
    return _env.get_template("auditor_sign_in.html").render(link=link)

