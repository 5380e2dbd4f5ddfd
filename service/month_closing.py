"""Closing and reopening months, each close with what every patient's month supported.

The billing office closes a month once its claims are sent. The close records, per patient,
the codes the month supported at that moment (what was billed), so any later difference is
shown with its cause instead of changing the month silently. A close is undone by a reopen
with a reason, which says whether the close had been billed; both stay on record (one row
each, audited). "Billed at close" means the close undone by the newest reopen marked billed,
else the month's latest close (store.month_totals._billed_close).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from billing.codes import CodeUnits
from billing.fees import expected_amount
from billing.months import Month, clinic_day
from service import audit
from service.audit_checks import AuditCheckService
from service.close_records import RECORD_AT_CLOSE, RECORD_PENDING
from service.closes import CloseView, PatientCodes, find_close, signed
from service.context import ServiceContext
from service.errors import BadInput
from service.lookups import require_admin, signature
from service.months import MonthService
from service.record_checks import (
    close_device_lines_digest,
    close_device_units,
    close_figures,
    close_lines_digest,
)
from service.views import MonthSummary
from store import audit as audit_rows
from store import closes
from store.closes import EventRow
from store.db import Conn

MAX_REASON_CHARS = 500


def _figures(summaries: Iterable[MonthSummary]) -> dict[str, object]:
    """Patients, billable patients (time or device codes), units per code, dollars and units
    per device code of a month's rows, and each billable patient's codes, as the close
    records them (`_line_values`)."""
    units: dict[str, int] = defaultdict(int)
    devices: dict[str, int] = defaultdict(int)
    patients = billable = seconds = 0
    amount = Decimal("0.00")
    by_patient: list[PatientCodes] = []
    for summary in summaries:
        patients += 1
        seconds += summary.total_seconds
        amount += summary.expected_amount
        for code in summary.codes:
            units[code.code] += code.units
        for code in summary.device_codes:
            devices[code.code] += code.units
        if summary.codes or summary.device_codes:
            billable += 1
            by_patient.append(PatientCodes(summary.label, summary.codes, summary.device_codes))
    return {"patients": patients, "billable": billable, "units": dict(units), "amount": amount,
            "total_seconds": seconds, "device_units": dict(devices),
            "by_patient": tuple(by_patient)}


def _held(summaries: list[MonthSummary]) -> tuple[list[MonthSummary], dict[str, list[str]]]:
    """The rows as the close records them: a month that supports codes but may not be billed
    (`MonthSummary.held`, billing.audit_checks.hold_reasons: no consent, no order, the
    report's "do not bill") is recorded with no codes and no dollars, and listed as held with
    its reasons (by clinic id)."""
    held = {s.patient_id: list(s.held) for s in summaries if s.held}
    rows = [replace(s, codes=(), expected_amount=Decimal("0.00"), device_codes=())
            if s.held else s for s in summaries]
    return rows, dict(sorted(held.items()))


def _held_lines(summaries: list[MonthSummary], held: dict[str, list[str]]) -> tuple[str, ...]:
    """'P-2000 (AB): no consent on file', as the close confirmation lists them."""
    return tuple(f"{s.label}: {'; '.join(held[s.patient_id])}" for s in summaries
                 if s.patient_id in held)


def _view(event: EventRow, lines: list[Any] | None = None) -> CloseView:
    figures = close_figures(lines or ())  # as the close's audit record says them
    return CloseView(
        event.month, event.at, signed(event), action=event.action, reason=event.reason,
        billed=event.billed, record=event.record, patients=figures["patients"],
        billable=sum(1 for line in lines or () if line.codes or line.device_codes),
        units=figures["units"],
        amount=Decimal(figures["amount"]),
        total_seconds=sum(line.total_seconds for line in lines or ()),
        device_units=close_device_units(lines or ()),
    )


def _line_values(conn: Conn, event_id: int,
                 summaries: list[MonthSummary]) -> list[dict[str, Any]]:
    """One record line per patient row: codes and units, minutes, live contact, dollars."""
    pks = closes.patient_pks_by_clinic_id(conn, [s.patient_id for s in summaries])
    return [{"event_id": event_id, "patient_id": pks[s.patient_id],
             "codes": [[c.code, c.units] for c in s.codes], "total_seconds": s.total_seconds,
             "live_interactions": s.live_interactions,
             "expected_cents": int(s.expected_amount * 100),
             "device_codes": [[c.code, c.units] for c in s.device_codes]} for s in summaries]


def _add_lines(conn: Conn, event_id: int, summaries: list[MonthSummary]) -> list[Any]:
    """Stores the close's record (one executemany) and returns its lines as stored."""
    lines = _line_values(conn, event_id, summaries)
    closes.add_lines(conn, lines)
    return [SimpleNamespace(**line) for line in lines]  # as _view reads a stored line


class MonthCloseService:
    def __init__(self, ctx: ServiceContext, months: MonthService | None = None,
                 checks: AuditCheckService | None = None) -> None:
        self.ctx = ctx
        self.months = months or MonthService(ctx)
        self.checks = checks or AuditCheckService(ctx, self.months)

    def _check_closable(self, conn: Conn, month: Month) -> None:
        if month >= Month.containing(self.ctx.now(), self.ctx.policy.zone):
            raise BadInput(f"{month} has not ended yet: a month is closed once it is billed.")
        existing = find_close(conn, month)
        if existing is not None:
            day = clinic_day(existing.at, self.ctx.policy.zone)
            raise BadInput(f"{month} was already closed on {day} "
                           f"by {signed(existing)}.")

    def preview(self, month: Month, *, admin: str | None = None) -> CloseView:
        """What closing `month` now would lock (patients, codes, dollars) and what the
        self-audit checks find in it (information: the close still works); changes nothing
        (chat: `admin` must be an active admin, checked in the same read)."""
        with self.ctx.db.read() as conn:
            if admin is not None:
                require_admin(conn, admin)
            self._check_closable(conn, month)
            summaries = list(self.months.report_in(conn, month))
            recorded, held = _held(summaries)
            figures = _figures(recorded)
            findings = self.checks.run_in(conn, month, summaries).counts()
            return self._priced(CloseView(
            str(month), self.ctx.now(), "", findings=findings,
            held=_held_lines(recorded, held), **figures))  # type: ignore[arg-type]

    def _priced(self, view: CloseView) -> CloseView:
        """The view with its device codes' dollars (the fee schedule's; not in the record)."""
        units = [CodeUnits(code, n) for code, n in view.device_units.items()]
        return replace(view, device_amount=expected_amount(units, self.ctx.policy.fees))

    def close(self, month: Month, *, by: str, as_admin: bool = False) -> CloseView:
        """Lock a month that has ended and record what each patient's month supports.

        `by` is free text (the CLI's operator); with `as_admin` (chat) it is a Slack id that
        must be an active admin, checked inside the close's transaction. The month's lock
        (exclusive) makes writers dated in the month wait until the close commits, and the
        close wait for writers in flight: the record holds exactly the entries that exist
        when the close returns."""
        with self.ctx.db.write() as conn:
            if as_admin:
                by = require_admin(conn, by)
            by, by_name = signature(conn, by)
            closes.lock_month(conn, month.year, month.month, exclusive=True)
            self._check_closable(conn, month)
            now = self.ctx.now()
            # read before the event exists, so the rows compare with the previous close
            summaries, held = _held(list(self.months.report_in(conn, month)))
            event = closes.add_event(conn, month=str(month), action="close", at=now, by=by,
                                     by_name=by_name, record=RECORD_AT_CLOSE, recorded_at=now)
            lines = _add_lines(conn, event.id, summaries)
            view = replace(self._priced(_view(event, lines)),
                           held=_held_lines(summaries, held))
            audit.record(conn, at=event.at, actor=by, action="month.close", entity="month",
                         entity_id=str(month), after={
                             "month": str(month), "closed_by": by, "by_name": by_name,
                             "patients": view.patients,
                             "units": view.units, "amount": str(view.amount),
                             "held": held, "lines": close_lines_digest(lines),
                             "device_units": view.device_units,
                             "device_lines": close_device_lines_digest(lines)})
            audit_rows.record_head_on_close(conn, event.id)  # a later edit breaks this head
            return view

    def reopen(self, month: Month, *, reason: str, by: str, billed: bool,
               as_admin: bool = False) -> CloseView:
        """Undo a close: the month takes writes again; the close stays on record (`by` and
        `as_admin` as for `close`). `billed`: whether that close's claims were sent. The
        product cannot know, and it decides what later closes are compared with: a billed
        close stays "billed at close", so the corrected claim an amendment calls for stays
        named after the month is closed again."""
        why = (reason or "").strip()
        if not why:
            raise BadInput("A reopen needs a reason (auditors read it).")
        if len(why) > MAX_REASON_CHARS:
            raise BadInput(f"The reason is over {MAX_REASON_CHARS} characters.")
        with self.ctx.db.write() as conn:
            if as_admin:
                by = require_admin(conn, by)
            by, by_name = signature(conn, by)
            closes.lock_month(conn, month.year, month.month, exclusive=True)
            closed = find_close(conn, month)
            if closed is None:
                raise BadInput(f"{month} is not closed, so there is nothing to reopen.")
            event = closes.add_event(conn, month=str(month), action="reopen",
                                     at=self.ctx.now(), by=by, by_name=by_name, reason=why,
                                     billed=billed)
            audit.record(conn, at=event.at, actor=by, action="month.reopen",
                         entity="month", entity_id=str(month),
                         before={"closed_at": closed.at, "closed_by": closed.by},
                         after={"month": str(month), "reopened_by": by, "by_name": by_name,
                                "reason": why,
                                "billed": billed})
            return _view(event)

    def get(self, month: Month) -> CloseView | None:
        """The month's close while it is closed, with its record's figures."""
        with self.ctx.db.read() as conn:
            event = find_close(conn, month)
            if event is None:
                return None
            return self._priced(_view(event, closes.lines_of(conn, event.id)))

    def to_reopen(self, month: Month, *, admin: str | None = None) -> CloseView:
        """The close a reopen would undo, shown before the question "were its claims sent?"
        (chat: `admin` must be an active admin, checked in the same read)."""
        with self.ctx.db.read() as conn:
            if admin is not None:
                require_admin(conn, admin)
            event = find_close(conn, month)
            if event is None:
                raise BadInput(f"{month} is not closed, so there is nothing to reopen.")
            return self._priced(_view(event, closes.lines_of(conn, event.id)))

    def history(self, month: Month) -> list[CloseView]:
        """Every close and reopen of the month, oldest first."""
        with self.ctx.db.read() as conn:
            events = closes.history(conn, str(month))
            lines = closes.lines_of_events(conn, [e.id for e in events if e.action == "close"])
        return [self._priced(_view(e, lines.get(e.id, []) if e.action == "close" else None))
                for e in events]

    def reconstruct_pending(self) -> int:
        """Rebuild the record of closes made before records existed (migration 0008 marks
        them pending), from today's entries with today's rules, marked "reconstructed":
        it is what the month supports when rebuilt, not a figure read at the close."""
        rebuilt = 0
        with self.ctx.db.read() as conn:
            pending = [(e.id, e.month) for e in closes.pending_records(conn)]
        for event_id, month_text in pending:  # one transaction per month, each on its own
            month = Month.parse(month_text)
            with self.ctx.db.write() as conn:
                closes.lock_month(conn, month.year, month.month, exclusive=True)
                event = closes.event_by_id(conn, event_id)
                if event is None or event.record != RECORD_PENDING:
                    continue  # another process rebuilt it first
                summaries = list(self.months.report_in(conn, month))
                if not closes.mark_reconstructed(conn, event_id, self.ctx.now()):
                    continue
                lines = _add_lines(conn, event_id, summaries)
                audit.record(conn, at=self.ctx.now(), actor="rpm-logger",
                             action="month.close_reconstructed", entity="month",
                             entity_id=month_text,
                             after={"close_event": event_id, "patients": len(lines),
                                    "lines": close_lines_digest(lines),
                                    "device_lines": close_device_lines_digest(lines)})
                rebuilt += 1
        return rebuilt
