"""The self-audit checks use case: one read transaction reads the month (the report's tally,
the month's entries with notes and calls, providers, enrolment counts), the pure rules in
billing.audit_checks find what an auditor would ask about (docs/audit.md)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from billing.audit_checks import (
    Banded,
    Enrolments,
    EntryFacts,
    Finding,
    MonthFacts,
    PatientMonth,
    band_minutes,
    run_checks,
)
from billing.codes import ROLES_THAT_COUNT, format_codes
from billing.devices import has_device_data
from billing.months import Month
from billing.tally import EntryCount
from service.context import ServiceContext
from service.errors import BadInput
from service.months import MonthService
from service.phones import redact_phones
from service.views import MonthSummary
from store import audit_checks as rows
from store.db import Conn


@dataclass(frozen=True)
class AuditChecks:
    """The findings of one month's checks (an empty list: the screen ran clean)."""

    month: str
    findings: tuple[Finding, ...]

    def counts(self) -> dict[str, int]:
        """Findings per check, in the order the checks run."""
        counted: dict[str, int] = {}
        for finding in self.findings:
            counted[finding.check] = counted.get(finding.check, 0) + 1
        return counted


def _main_staff(summary: MonthSummary) -> str | None:
    """Who counted the most of the month's seconds (the heaping check's staff member)."""
    shares = [s for s in summary.staff if s.counts and s.seconds > 0]
    if not shares:
        return None
    return min(shares, key=lambda s: (-s.seconds, s.slack_user_id)).slack_user_id


def _patient_months(summaries: Sequence[MonthSummary],
                    billing: dict[str, rows.BillingFacts]) -> list[PatientMonth]:
    result = []
    none = rows.BillingFacts(None, None, None, None)  # not billable: not read
    for s in summaries:
        facts = billing.get(s.patient_id, none)
        result.append(PatientMonth(
            patient_id=s.patient_id, counted_seconds=s.total_seconds,
            billable_codes=format_codes(s.codes), main_staff=_main_staff(s),
            consent_on=s.consent_on, conditions=s.conditions, provider=facts.provider,
            provider_npi=s.provider_npi, provider_role=facts.provider_role,
            ordered_by=facts.ordered_by, order_on=facts.order_on,
            device_data=has_device_data(s.device_periods, Month.parse(s.month))))
    return result


def _entries(found: Iterable[Any], counts: dict[int, EntryCount]) -> list[EntryFacts]:
    """The month's entry rows (store.audit_checks) with what the tally counts of each."""
    facts = []
    for r in found:
        count = counts.get(r.id)
        facts.append(EntryFacts(
            entry_id=r.id, patient_id=r.clinic_id, staff_id=r.slack_user_id,
            role=r.staff_role, started_at=r.started_at, ended_at=r.ended_at,
            created_at=r.created_at, voided=bool(r.voided), clock_timed=bool(r.clock_timed),
            note=r.note, call_note=r.call_note, captured=bool(r.captured),
            counted_seconds=count.counted_seconds if count else 0,
            counted_live=bool(count and count.live), amendment_reason=r.amendment_reason,
            void_amendment_reason=r.void_amendment_reason))
    return facts


def refuse_future(month: Month, current: Month) -> None:
    """A month after the current clinic month has no records to audit: saying so beats an
    empty, clean-looking screen or packet (CLI exit 2, dashboard 400)."""
    if month > current:
        raise BadInput(f"{month} is after the current clinic month ({current}): there is "
                       "nothing to audit yet.")


class AuditCheckService:
    def __init__(self, ctx: ServiceContext, months: MonthService) -> None:
        self.ctx = ctx
        self.months = months

    def run(self, month: Month | None = None) -> AuditChecks:
        """The month's findings (`rpm-logger audit checks`, the dashboard's Self-audit page)."""
        month = month or self.months.current()
        refuse_future(month, self.months.current())
        with self.ctx.db.read() as conn:
            return self.run_in(conn, month, list(self.months.report_in(conn, month)))

    def run_in(self, conn: Conn, month: Month,
               summaries: Sequence[MonthSummary]) -> AuditChecks:
        """The checks inside a caller's transaction, over the report rows it already read
        (a month close's preview): the totals are the report's, never counted twice."""
        zone = self.ctx.policy.zone
        start, end = month.bounds_utc(zone)
        counts = {c.entry_id: c for s in summaries for c in s.entry_counts}
        facts = MonthFacts(
            month=month, zone=zone,
            patients=_patient_months(summaries, rows.billing_facts(
                conn, [s.patient_id for s in summaries if s.codes])),
            entries=_entries(rows.month_entries(conn, start=start, end=end), counts),
            enrolments=self._enrolments(conn, month),
            thresholds=self.ctx.policy.audit,
            before=self._window(conn, month),
        )
        region = self.ctx.policy.phone_region
        return AuditChecks(str(month), tuple(
            replace(f, message=redact_phones(f.message, region=region) or "")
            for f in run_checks(facts)))

    def _window(self, conn: Conn, month: Month) -> list[Banded]:
        """Heaping's months before the checked one (AUDIT_HEAPING_MONTHS - 1 of them), as
        their latest close recorded each patient's counted time (store.audit_checks)."""
        window, current = [], month
        for _ in range(self.ctx.policy.audit.heaping_months - 1):
            current = current.previous()
            start, end = current.bounds_utc(self.ctx.policy.zone)
            window.append(rows.WindowMonth(str(current), start, end))
        return rows.heaping_bands(conn, window, band_minutes(), sorted(ROLES_THAT_COUNT))

    def _enrolments(self, conn: Conn, month: Month) -> Enrolments:
        spans, current = [], month
        for _ in range(rows.SPANS):
            start, end = current.bounds_utc(self.ctx.policy.zone)
            spans.append(rows.MonthSpan(current.first_day, current.last_day, start, end))
            current = current.previous()
        checked, *before = rows.new_enrolments(conn, spans)
        return Enrolments(checked, tuple(reversed(before)))
