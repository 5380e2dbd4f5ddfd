"""Billed at close vs supported now, for the rows of one month scan.

A month close records what each patient's month supported (store: month_close_lines). Every
screen that shows the month compares that record of the month's latest close with today's
codes; a patient whose codes differ gets the cause (an amendment, a rule or setting change)
and what follows (a corrected claim, a refund owed). Read a page at a time, like the scan.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from billing.claims import compare_claim
from billing.codes import CodeUnits
from service.phones import redact_phones
from service.views import BilledAtClose
from store.closes import (
    ChangeSinceClose,
    PatientChangeSinceClose,
    changes_since,
    lines_of,
    patient_amendments_since,
)
from store.db import Conn

RECORD_AT_CLOSE = "at_close"
RECORD_RECONSTRUCTED = "reconstructed"
RECORD_PENDING = "pending"


def line_codes(line: Any) -> tuple[CodeUnits, ...]:
    return tuple(CodeUnits(str(code), int(units)) for code, units in line.codes)


def _change_text(change: ChangeSinceClose) -> str:
    why = f" ({change.reason})" if change.reason else ""
    return f"#{change.entry_id} {change.kind} after close{why}"


# What a patient amendment changed, as the close difference names it.
_PATIENT_FIELDS = (("enrolled_on", "enrolment date changed"),
                   ("ended_on", "enrolment ended"),
                   ("consent_on", "consent date changed"))


def _patient_change_text(change: PatientChangeSinceClose) -> str:
    """'enrolment ended (enrolled in error)': what the amendment changed, and why."""
    what = [text for key, text in _PATIENT_FIELDS
            if change.before.get(key) != change.after.get(key)]
    if "enrolment ended" in what and change.after.get("ended_on") is None:
        what[what.index("enrolment ended")] = "enrolment end removed"
    if len(change.after.get("episodes") or ()) > len(change.before.get("episodes") or ()):
        what = ["enrolled again"]  # a new episode (issue 26 #10)
    return f"{', '.join(what) or 'patient updated'} ({change.after['amendment_reason']})"


class BilledRecords:
    """The latest close of one month and, per page of patients, its record and the entries
    logged or voided since; `compare` turns them into a `BilledAtClose` per patient."""

    def __init__(self, close: Any, *, start: datetime, end: datetime,
                 fees: Mapping[str, Decimal], region: str) -> None:
        self.close = close  # the month's latest close (store row), or None
        self.start, self.end, self.fees = start, end, fees
        self.region = region  # typed reasons are shown with phone numbers masked
        self.lines: dict[int, Any] = {}  # MonthCloseLine rows
        self.changes: dict[int, list[ChangeSinceClose]] = defaultdict(list)
        self.patient_changes: dict[int, list[PatientChangeSinceClose]] = defaultdict(list)

    @property
    def since(self) -> datetime | None:
        """When the record's figures were read (the close, or the rebuild)."""
        if self.close is None:
            return None
        return self.close.recorded_at or self.close.at

    def read_page(self, conn: Conn, patient_pks: list[int]) -> None:
        self.lines, self.changes = {}, defaultdict(list)
        self.patient_changes = defaultdict(list)
        if self.close is None or self.close.id is None:
            return
        self.lines = {line.patient_id: line
                      for line in lines_of(conn, self.close.id, patient_pks)}
        since = self.since
        assert since is not None
        for change in changes_since(conn, start=self.start, end=self.end, since=since,
                                    patient_pks=patient_pks):
            self.changes[change.patient_pk].append(change)
        for amended in patient_amendments_since(conn, since=since, patient_pks=patient_pks):
            self.patient_changes[amended.patient_pk].append(amended)

    def unseen(self, conn: Conn, seen: set[int]) -> list[int]:
        """Patients the close billed who are no longer among the scan's rows (e.g. every
        entry voided since): they must still be shown, with the refund owed."""
        if self.close is None or self.close.id is None:
            return []
        return sorted(line.patient_id for line in lines_of(conn, self.close.id)
                      if line.patient_id not in seen and line.codes)

    def compare(self, patient_pk: int, codes: Iterable[CodeUnits], *, seconds: int,
                live: int, held: bool = False) -> BilledAtClose | None:
        """What the close billed against what the month supports now. `held`: the month
        may still not be billed (MonthSummary.held, the close's hold rule): its codes today
        are no claim owed, so a month billed nothing at close does not differ."""
        close = self.close
        if close is None:
            return None
        line = self.lines.get(patient_pk)
        record = close.record or RECORD_AT_CLOSE
        billed = line_codes(line) if line else ()
        if record == RECORD_PENDING:  # nothing is known of the close yet: claim nothing
            return BilledAtClose(billed, close.at, close.by, record, Decimal("0.00"),
                                 closed_by_name=close.by_name)
        if not billed and held:
            codes = ()  # held at close, still held: nothing to bill, nothing changed
        change = compare_claim(billed, codes, self.fees)
        amount = Decimal(line.expected_cents if line else 0) / 100
        if not change.changed:
            return BilledAtClose(billed, close.at, close.by, record, amount,
                                 closed_by_name=close.by_name)
        return BilledAtClose(billed, close.at, close.by, record, amount,
                             closed_by_name=close.by_name, follow_up=change.follow_up,
                             follow_up_in_words=change.follow_up_in_words,
                             cause=self._cause(patient_pk, line, seconds, live),
                             amount_delta=change.amount_delta)

    def _cause(self, patient_pk: int, line: Any, seconds: int,
               live: int) -> str:
        changes = ([_patient_change_text(c) for c in self.patient_changes.get(patient_pk, ())]
                   + [_change_text(c) for c in self.changes.get(patient_pk, ())])
        if changes:  # the reasons were typed: a phone number in one is masked
            return "amendment: " + (redact_phones("; ".join(changes), region=self.region) or "")
        same_figures = line is not None and (line.total_seconds, line.live_interactions > 0) \
            == (seconds, live > 0)
        if same_figures and not line.codes:
            return ("not billed at close: held (no consent or no order on file then, "
                    "billing.audit_checks.hold_reasons); it may be billed now")
        if same_figures:
            return ("a rule or setting change since close (same minutes and live contact, "
                    "other codes: e.g. CPT_99458_MAX_UNITS or the billing rules)")
        return ("changed since close without an amendment (an enrolment, staff or call "
                "record changed)")
