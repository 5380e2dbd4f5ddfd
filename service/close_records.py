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

from billing.claims import compare_claim, same_units
from billing.codes import CodeUnits
from service.phones import redact_phones
from service.views import BilledAtClose
from store.closes import (
    DEVICES_CHANGED,
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


def line_device_codes(line: Any) -> tuple[CodeUnits, ...] | None:
    """The device codes a close recorded for a patient; None on a line written before
    device codes were counted (migration 0019): never compared, so such a month does not
    read as changed."""
    if line.device_codes is None:
        return None
    return tuple(CodeUnits(str(code), int(units)) for code, units in line.device_codes)


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


# How a write that changed a closed month's device codes is named (service/devices.py
# records it, DEVICES_CHANGED, with its source)
_DEVICE_WRITES = {"csv": "device readings imported after close",
                  "attach": "device readings attached after close",
                  "device.end": "device readings taken off by a back-dated device end "
                                "after close"}


def _device_change_texts(changes: Iterable[PatientChangeSinceClose]) -> tuple[list[str],
                                                                           list[str]]:
    """(amendments, changes no one could amend) among a patient's device code changes of
    the month: 'device readings imported after close (REASON)'; a vendor's push cannot give
    a reason: '6 device readings received after close (webhook: a vendor cannot amend)'."""
    amended: list[str] = []
    pushed: dict[str, int] = {}
    for change in changes:
        source = str(change.after.get("source"))
        reason = change.after.get("amendment_reason")
        if reason:
            amended.append(f"{_DEVICE_WRITES.get(source, 'device readings changed')} "
                           f"({reason})")
        else:
            pushed[source] = pushed.get(source, 0) + int(change.after.get("readings") or 0)
    unamended = [f"{n or 'some'} device reading{'' if n == 1 else 's'} received after close "
                 f"({source}: a vendor cannot amend; review before a corrected claim)"
                 for source, n in pushed.items()]
    return amended, unamended


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
                      if line.patient_id not in seen and (line.codes or line.device_codes))

    def compare(self, patient_pk: int, codes: Iterable[CodeUnits], *, seconds: int,
                live: int, held: bool = False,
                device_codes: Iterable[CodeUnits] = ()) -> BilledAtClose | None:
        """What the close billed against what the month supports now, time codes and device
        codes (unless the close predates device codes). `held`: the month may still not be
        billed (MonthSummary.held, the close's hold rule): its codes today are no claim
        owed, so a month billed nothing at close does not differ."""
        close = self.close
        if close is None:
            return None
        line = self.lines.get(patient_pk)
        record = close.record or RECORD_AT_CLOSE
        billed = line_codes(line) if line else ()
        # a patient the close did not record billed no device codes at it
        billed_devices = line_device_codes(line) if line else ()
        if record == RECORD_PENDING:  # nothing is known of the close yet: claim nothing
            return BilledAtClose(billed, close.at, close.by, record, Decimal("0.00"),
                                 closed_by_name=close.by_name)
        codes, devices = tuple(codes), tuple(device_codes)
        if not billed and held:
            codes = ()  # held at close, still held: nothing to bill, nothing changed
        if not billed_devices and held:
            devices = ()
        if billed_devices is None:
            devices = ()  # closed before device codes were counted: not compared
        change = compare_claim(billed + (billed_devices or ()), codes + devices, self.fees)
        amount = Decimal(line.expected_cents if line else 0) / 100
        if not change.changed:
            return BilledAtClose(billed, close.at, close.by, record, amount,
                                 closed_by_name=close.by_name, device_codes=billed_devices,
                                 device_now=devices)
        time_changed = not same_units(billed, codes)
        devices_changed = billed_devices is not None and not same_units(billed_devices,
                                                                         devices)
        return BilledAtClose(billed, close.at, close.by, record, amount,
                             closed_by_name=close.by_name, follow_up=change.follow_up,
                             follow_up_in_words=change.follow_up_in_words,
                             cause=self._cause(patient_pk, line, seconds, live,
                                               time_changed=time_changed,
                                               devices_changed=devices_changed),
                             amount_delta=change.amount_delta, device_codes=billed_devices,
                             device_now=devices)

    def _cause(self, patient_pk: int, line: Any, seconds: int,
               live: int, *, time_changed: bool = True, devices_changed: bool = False) -> str:
        mine = self.patient_changes.get(patient_pk, ())
        month = str(self.close.month) if self.close is not None else ""
        device_rows = [c for c in mine if c.action == DEVICES_CHANGED
                       and any(m.get("month") == month for m in c.after.get("months") or ())]
        amended, unamended = (_device_change_texts(device_rows) if devices_changed
                              else ([], []))
        changes = ([_patient_change_text(c) for c in mine if c.action != DEVICES_CHANGED]
                   + [_change_text(c) for c in self.changes.get(patient_pk, ())] + amended)
        said = (["amendment: " + "; ".join(changes)] if changes else []) + unamended
        if said:  # the reasons were typed: a phone number in one is masked
            return redact_phones("; ".join(said), region=self.region) or ""
        if devices_changed and not time_changed:
            return ("device readings changed since close without an amendment (readings "
                    "attached, taken off or counted otherwise: an enrolment or consent "
                    "change)")
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
