"""Month close: once a month is billed, writes dated in it need an admin amendment.

A closed month must keep matching the claim that was sent; an amendment (a late log or a
void) is still possible, but only by an admin and with a reason the auditors can read.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from billing.codes import CodeUnits
from billing.months import Month, clinic_day
from service.errors import BadInput, NotAllowed
from service.lookups import require_staff
from service.views import staff_label
from store.closes import (
    EventRow,
    closes_in_force,
    closes_now,
    latest_event,
    lock_month,
    lock_months_shared,
)
from store.db import Conn

OPERATOR_PREFIX = "cli:"  # the CLI runs as the clinic's operator, trusted like an admin


@dataclass(frozen=True)
class Amendment:
    """A change to a closed month: who asks (admin Slack id, or the CLI operator) and why."""

    reason: str
    by: str
    operator: bool = False  # True only for the CLI, which runs as the clinic's operator


@dataclass(frozen=True)
class PatientCodes:
    """One patient's codes as a close records them: time codes and device codes apart."""

    patient: str  # clinic id and initials
    codes: tuple[CodeUnits, ...]
    device_codes: tuple[CodeUnits, ...]


@dataclass(frozen=True)
class CloseView:
    """One close or reopen of a month, as people read it."""

    month: str
    closed_at: datetime  # when this close (or reopen) happened
    closed_by: str
    action: str = "close"  # close | reopen
    reason: str | None = None  # a reopen's reason
    billed: bool | None = None  # a reopen: the close it undid had been billed (None: unsaid)
    record: str | None = None  # a close's record: at_close | reconstructed | pending
    patients: int = 0  # patients in the close's record
    billable: int = 0
    units: dict[str, int] = field(default_factory=dict)
    amount: Decimal = Decimal("0.00")
    total_seconds: int = 0  # counted time of the record's patients
    # a preview's self-audit findings (billing.audit_checks), per check: information only
    findings: dict[str, int] = field(default_factory=dict)
    # a close's (or preview's) patients whose month supports codes but is not billed:
    # "P-2000 (AB): no consent on file" (billing.audit_checks.hold_reasons)
    held: tuple[str, ...] = ()
    # units per device code in the close's record (issue 28; none before it), and their
    # dollars at the fee schedule's 99453/99454/99445 (as `report --summary` prices them)
    device_units: dict[str, int] = field(default_factory=dict)
    device_amount: Decimal = Decimal("0.00")
    # a preview's patients with codes to bill (time or device), in clinic-id order
    by_patient: tuple[PatientCodes, ...] = ()


def signed(event: Any) -> str:
    """Who made a close or reopen, as every screen names them: "Bea Billing (UBIL0001)" for
    a staff member (the name recorded with the event), an operator's text as written."""
    return staff_label(str(event.by), getattr(event, "by_name", None))


def find_close(conn: Conn, month: Month, *, for_write: bool = False) -> Any:
    """The month's close while it is closed (None when open or reopened since): a
    month_close_events row (store.closes.EventRow; `Any` while callers still type it as the
    ORM class).

    `for_write`: the caller is about to write something dated in the month, so it first
    takes the month's lock in shared mode (see store/closes.py): a close running at the same
    time either sees this write committed or is seen by it, never neither."""
    if for_write:
        lock_month(conn, month.year, month.month, exclusive=False)
    event = latest_event(conn, str(month))
    return event if event is not None and event.action == "close" else None


# How each write dated in a closed month is amended, as the refusal says it. Amendments are
# made in the CLI only (the clinic's operator): the Slack grammar has no amendment word, so a
# refusal in Slack says where to go instead of suggesting a word Slack would not accept.
_SLACK_NOTE = " Slack cannot amend a closed month: an admin does it in the CLI."
AMEND_LOG = ("To amend it, log from the CLI with `--amend REASON` "
             "(rpm-logger log ... --amend REASON)." + _SLACK_NOTE)
AMEND_VOID = ("To amend it, void from the CLI with `--amend` (rpm-logger void ID --reason "
              "REASON --amend: the reason is the amendment's)." + _SLACK_NOTE)
AMEND_PATIENT = ("To amend it, add `--amend REASON` to `rpm-logger patient update`, "
                 "`rpm-logger patient end` or `rpm-logger patient enrol`.")
AMEND_IMPORT_PATIENTS = ("To amend it, re-run the import with `--amend REASON` (rpm-logger "
                         "import patients FILE --amend REASON).")
AMEND_READINGS = ("To amend it, import from the CLI with `--amend REASON` (rpm-logger import "
                  "readings FILE --amend REASON).")
AMEND_ATTACH = ("To amend it, attach from the CLI with `--amend REASON` (rpm-logger device "
                "attach SERIAL --amend REASON).")
AMEND_DEVICE_END = ("To amend it, end the device from the CLI with `--amend REASON` "
                    "(rpm-logger device end SERIAL --on DATE --amend REASON).")
AMEND_NONE = ("This change has no amendment: reopen the month first "
              "(rpm-logger month reopen {month} --reason TEXT --billed or --not-billed, or "
              "/rpm month reopen).")


def closed_for_write(conn: Conn) -> dict[Month, EventRow]:
    """Every month closed now with its close, each month locked (shared) like `check_open`
    does: a writer that may touch any closed month (a patient's enrolment window) reads
    them once here and then asks `refuse_unless_amended` with the close it already has."""
    return {Month.parse(row.month): row for row in closes_in_force(conn)}


def closed_from(conn: Conn, first: Month, current: Month, *,
                for_write: bool) -> dict[Month, EventRow]:
    """Every month from `first` on that is closed now, with its close: the months whose
    device codes a reading dated in `first` may change (a device period runs into the next
    month, and a new first reading day moves every later period). A month that has not
    ended (`current` on) cannot be closed: none from there (no statement). `for_write`:
    each month from `first` to the one before `current` is locked (shared) first, in one
    statement, as `check_open` locks one: a close running meanwhile either sees this write
    committed or is seen by it."""
    if first >= current:
        return {}
    if for_write:
        months, month = [], first
        while month < current:
            months.append((month.year, month.month))
            month = month.next()
        lock_months_shared(conn, months)
    found = ((Month.parse(row.month), row) for row in closes_now(conn))
    return {month: row for month, row in found if month >= first}


def check_open(conn: Conn, month: Month, amendment: Amendment | None, *,
               zone: ZoneInfo, way_out: str = AMEND_NONE) -> str | None:
    """None when `month` is open; the amendment reason when an allowed amendment; else refuse,
    saying how this change is made in a closed month (`way_out`: one of the AMEND_ texts).
    Only writers call it: it takes the month's lock (shared) for the rest of the transaction."""
    return refuse_unless_amended(conn, month, find_close(conn, month, for_write=True),
                                 amendment, zone=zone, way_out=way_out)


def refuse_unless_amended(conn: Conn, month: Month, closed: EventRow | None,
                          amendment: Amendment | None, *, zone: ZoneInfo,
                          way_out: str = AMEND_NONE) -> str | None:
    """check_open for a month whose close (or None) the caller read under its lock."""
    if closed is None:
        return None
    if amendment is None:
        raise BadInput(f"{month} is closed (billed) since {clinic_day(closed.at, zone)} by "
                       f"{signed(closed)}: changes need an admin amendment with a reason. "
                       + way_out.format(month=month))
    reason = amendment.reason.strip()
    if not reason:
        raise BadInput("An amendment to a closed month needs a reason.")
    if not amendment.operator and not require_staff(conn, amendment.by).is_admin:
        raise NotAllowed(f"Only an admin may amend closed month {month}.")
    return reason[:500]
