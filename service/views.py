"""Read-only values the service hands to adapters, so no adapter ever holds a table row.

They carry clinic ids and initials, never names or phone numbers of patients: whatever an
adapter renders from them is safe to show in Slack.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from billing.activities import ATTEMPT
from billing.claims import same_units
from billing.codes import ROLES_THAT_COUNT, CodeUnits, format_codes
from billing.devices import DevicePeriod, PeriodVerdict
from billing.programme import Enrolment
from billing.risk import RiskAssessment
from billing.tally import EntryCount, NotCounted
from service.phones import redact_phones


@dataclass(frozen=True)
class StaffView:
    slack_user_id: str
    name: str
    role: str
    is_admin: bool
    active: bool
    npi: str | None = None
    phone_count: int = 0
    has_voice_pin: bool = False  # whether a voice PIN is set (never the PIN or its hash)
    voice_locked_until: datetime | None = None  # a wrong-PIN lock in force when viewed
    inactive_from: datetime | None = None  # inactive: since when (None: not recorded)

    @property
    def time_counts(self) -> bool:
        return self.role in ROLES_THAT_COUNT


def staff_label(who: str, name: str | None) -> str:
    """A staff member as every screen outside Slack names them: "Nina Nurse (U01NURSE)";
    the id (or an operator's text) alone when no name is on file."""
    return f"{name} ({who})" if name and name != who else who


@dataclass(frozen=True)
class PatientView:
    patient_id: str
    initials: str | None
    consent_on: date | None
    conditions: tuple[str, ...]
    provider: str | None  # Slack user id of the billing provider
    assigned_to: str | None  # Slack user id
    enrolled_on: date | None
    ended_on: date | None
    phone_count: int = 0
    caregiver_phone_count: int = 0
    ordered_by: str | None = None  # Slack user id of the ordering provider
    order_on: date | None = None
    last_visit_on: date | None = None  # the last established-patient visit
    # every enrolment episode (started_on, ended_on), oldest first; the latest is
    # `enrolled_on`/`ended_on` (empty: the view did not read them)
    episodes: tuple[tuple[date | None, date | None], ...] = ()
    # the names of the staff above, as screens outside Slack show them: "Name (id)"
    provider_name: str | None = None
    assigned_name: str | None = None
    ordered_by_name: str | None = None

    @property
    def label(self) -> str:
        """How a patient is named anywhere people read: clinic id and initials only."""
        return f"{self.patient_id} ({self.initials})" if self.initials else self.patient_id


@dataclass(frozen=True)
class EntryView:
    id: int
    patient_id: str
    staff: str  # Slack user id
    started_at: datetime
    ended_at: datetime
    duration_seconds: int
    activity: str
    live: bool
    source: str
    note: str | None
    staff_role: str
    overlaps_entry_id: int | None
    created_at: datetime
    created_by: str
    voided_at: datetime | None = None
    voided_by: str | None = None
    void_reason: str | None = None
    amendment_reason: str | None = None
    patient_initials: str | None = None
    staff_name: str | None = None
    void_amendment_reason: str | None = None  # voided in a closed month: the amendment's why
    clock_timed: bool = False  # start and end actually given (timer, call, a time typed)
    month_seconds: int | None = None  # in a month's listing: the entry's share of that month
    # in a month's listing and a log reply: what the month's tally (billing.tally) counts of
    # it, so no screen says "counts" or "live" of time the month's totals left out
    count: EntryCount | None = None
    voided_by_name: str | None = None  # the voider's name when "by" is a staff member's id

    def masked(self, region: str) -> "EntryView":
        """The entry with any phone number in what a person typed (its note, its void's
        reason, either amendment's reason) masked, as every screen and file shows it."""
        return replace(
            self, note=redact_phones(self.note, region=region),
            void_reason=redact_phones(self.void_reason, region=region),
            amendment_reason=redact_phones(self.amendment_reason, region=region),
            void_amendment_reason=redact_phones(self.void_amendment_reason, region=region))

    @property
    def counts(self) -> bool:
        if self.count is not None:
            return self.count.counted_seconds > 0
        return self.voided_at is None and self.staff_role in ROLES_THAT_COUNT

    @property
    def counts_live(self) -> bool:
        """A live interaction of the month (the floor, one per conversation), not merely
        marked live."""
        return self.count.live if self.count is not None else self.live

    @property
    def live_label(self) -> str:
        """' (live)', or why an entry marked live is not a live interaction, or that a call
        attempt is not one, or ''."""
        if self.activity == ATTEMPT:
            return " (no one reached: not a live interaction)"
        if not self.live:
            return ""
        if self.counts_live:
            return " (live)"
        note = self.count.live_note if self.count is not None else ""
        return f" ({note})" if note else ""


@dataclass(frozen=True)
class StaffMinutes:
    """One staff member's share of a patient's month (auditors ask who furnished each minute):
    `seconds` are counted (the shares add up to the month's counted time), `logged_seconds`
    what they logged in it, counted or not."""

    slack_user_id: str
    name: str
    role: str
    seconds: int
    counts: bool
    logged_seconds: int = 0


@dataclass(frozen=True)
class BilledAtClose:
    """What a patient's month supported at the month's latest close (the codes billed),
    against what it supports now: the cause of a difference and what follows from it."""

    codes: tuple[CodeUnits, ...]
    closed_at: datetime
    closed_by: str
    record: str  # at_close | reconstructed (rebuilt after an upgrade) | pending (not yet)
    amount: Decimal
    follow_up: str = ""  # a corrected claim and/or a refund owed; '' when unchanged
    cause: str = ""  # why the month now differs; '' when unchanged
    amount_delta: Decimal = Decimal("0.00")  # now minus billed
    closed_by_name: str | None = None  # the closer's name when a staff member (signed())
    follow_up_in_words: str = ""  # the follow-up with codes as chat shows them; not in JSON
    # the device codes billed at close (month_close_lines.device_codes; None: the close
    # predates device codes, so they are not compared) and those the month supports now;
    # the follow-up, cause and amount above cover both
    device_codes: tuple[CodeUnits, ...] | None = None
    device_now: tuple[CodeUnits, ...] = ()

    @property
    def differs(self) -> bool:
        return bool(self.follow_up)

    @property
    def codes_text(self) -> str:
        return format_codes(self.codes) or "none"

    @property
    def device_differs(self) -> bool:
        return self.device_codes is not None and not same_units(self.device_codes,
                                                                self.device_now)

    def device_change(self, codes: Callable[[tuple[CodeUnits, ...]], str] = format_codes
                      ) -> str:
        """'device codes changed since close: billed 99453;99445 at close, supports
        99453;99454 now' (chat: `codes=codes_in_words`), or '' when they did not change:
        every screen that says what changed since close says it beside the time codes."""
        if not self.device_differs:
            return ""
        return device_change_text(self.device_codes or (), self.device_now, codes)

    @property
    def device_billed_text(self) -> str | None:
        """The device codes billed at close ('none' for none; None: not recorded)."""
        return None if self.device_codes is None else format_codes(self.device_codes) or "none"

    @property
    def device_now_text(self) -> str:
        return format_codes(self.device_now) or "none"

    def device_json(self) -> dict[str, Any]:
        """The device half of the comparison, for a month's JSON (status, report); kept out
        of `as_json`, which audit packets print (their format is versioned: v7 adds it)."""
        return {"device_codes": None if self.device_codes is None
                else [{"code": c.code, "units": c.units} for c in self.device_codes],
                "device_codes_text": None if self.device_codes is None
                else format_codes(self.device_codes),
                "device_differs": self.device_differs,
                "device_change": self.device_change() or None}

    def as_json(self) -> dict[str, Any]:
        return {"codes": [{"code": c.code, "units": c.units} for c in self.codes],
                "codes_text": format_codes(self.codes), "closed_at": self.closed_at.isoformat(),
                "closed_by": self.closed_by, "closed_by_name": self.closed_by_name,
                "record": self.record,
                "amount": float(self.amount), "differs": self.differs,
                "cause": self.cause or None, "follow_up": self.follow_up or None,
                "amount_delta": float(self.amount_delta)}


def device_change_text(billed: tuple[CodeUnits, ...], now: tuple[CodeUnits, ...],
                       codes: Callable[[tuple[CodeUnits, ...]], str] = format_codes) -> str:
    """The one phrasing of a closed month's device codes that changed since its close."""
    return (f"device codes changed since close: billed {codes(billed) or 'none'} at close, "
            f"supports {codes(now) or 'none'} now")


def period_json(period: DevicePeriod) -> dict[str, Any]:
    """A device period as JSON: its days, its counted reading days and its codes."""
    return {"start": period.start.isoformat(), "end": period.end.isoformat(),
            "days": period.day_count, "code": period.supply_code,
            "codes": [{"code": c.code, "units": c.units} for c in period.codes]}


def verdict_json(verdict: PeriodVerdict | None) -> dict[str, Any] | None:
    """A device period's verdict as JSON: the code aimed at, the reading days it needs and
    the last day to measure them (none once nothing more is reachable), or that it ended."""
    if verdict is None:
        return None
    return {"advice": verdict.advice(), "ended": verdict.ended, "days_left": verdict.days_left,
            "aim": verdict.aim, "reading_days_needed": verdict.needed,
            "by": verdict.by.isoformat() if verdict.by else None}


@dataclass(frozen=True)
class MonthSummary:
    """One patient's month: the numbers a report row, a Slack reply and a reminder share."""

    patient_id: str
    initials: str | None
    month: str
    total_seconds: int
    uncounted_seconds: int
    live_interactions: int
    first_live_at: datetime | None
    codes: tuple[CodeUnits, ...]
    next_code: str | None
    seconds_to_next_code: int | None
    needs_live_interaction: bool
    entries: int
    assigned_to: str | None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    enrolled_on: date | None = None
    ended_on: date | None = None
    live_interaction_dates: tuple[date, ...] = ()  # clinic-local dates
    staff: tuple[StaffMinutes, ...] = ()
    consent_on: date | None = None
    conditions: tuple[str, ...] = ()
    provider: str | None = None  # billing provider's name
    provider_npi: str | None = None
    expected_amount: Decimal = Decimal("0.00")
    month_closed_by: str | None = None
    billed_at_close: BilledAtClose | None = None  # None: the month was never closed
    # why a month with codes must not be billed yet (billing.audit_checks.hold_reasons): the
    # report, its totals and the close all leave it out of what is billed
    held: tuple[str, ...] = ()
    not_counted: tuple[NotCounted, ...] = ()  # outside the window, before consent, overlap
    in_programme: bool = True  # billing.programme: in the month's programme
    month_ended: bool = False  # the month is over: advice to log more no longer applies
    # what the month counts of each entry (not in JSON: the export and `entries` show it)
    entry_counts: tuple[EntryCount, ...] = field(default=(), repr=False, compare=False)
    # the patient's enrolment episodes (billing.programme); None: the light risk summary,
    # whose month is whole (store.month_risk `exact`)
    enrolment: Enrolment | None = field(default=None, repr=False, compare=False)
    # the device half (issue 28; billing.devices): the codes of the device periods whose
    # date of service (last day) is in the month, kept apart from `codes` so a month closed
    # before devices were counted never reads as changed; the month's device period (once
    # the month has ended, the last one it bills, else the one holding its last day; today's
    # in the running month; else its last: billing.devices.month_period) and its counted
    # reading days up to that day (a past month's never change afterwards); every period
    # with a day in the month.
    device_codes: tuple[CodeUnits, ...] = field(default=(), compare=False)
    device_days: int = field(default=0, compare=False)
    device_periods: tuple[DevicePeriod, ...] = field(default=(), repr=False, compare=False)
    device_amount: Decimal = field(default=Decimal("0.00"), compare=False)  # fee schedule
    device_period: DevicePeriod | None = field(default=None, repr=False, compare=False)
    # whether that period holds the month's last day (today): False when it ended before
    # (its episode ended), so no advice is given for it
    device_period_runs: bool = field(default=False, compare=False)
    # `device_period` judged on the clinic's today (billing.devices
    # .period_verdict): what it can still earn and by when, or that it ended
    device_verdict: PeriodVerdict | None = field(default=None, repr=False, compare=False)

    @property
    def current_device_period(self) -> DevicePeriod | None:
        """The period whose days `device_days` counts."""
        return self.device_period

    def entry_count(self, entry_id: int) -> EntryCount | None:
        return next((c for c in self.entry_counts if c.entry_id == entry_id), None)

    @property
    def label(self) -> str:
        return f"{self.patient_id} ({self.initials})" if self.initials else self.patient_id

    @property
    def changed_since_close(self) -> bool:
        return self.billed_at_close is not None and self.billed_at_close.differs

    @property
    def billable(self) -> bool:
        """Codes to bill now: the month supports some, time or device codes, and nothing
        holds it (`held`)."""
        return bool(self.codes or self.device_codes) and not self.held

    @property
    def billable_amount(self) -> Decimal:
        """What the month earns as billed: nothing while it is held, as the close records
        it (the report's CSV, its totals and the dashboard add these up)."""
        return Decimal("0.00") if self.held else self.expected_amount

    @property
    def held_amount(self) -> Decimal:
        """What a held month would bill once its hold is lifted (consent or order on file):
        shown apart, named so, and in no total (issue 26 item 2)."""
        return self.expected_amount if self.held else Decimal("0.00")

    @property
    def not_counted_seconds(self) -> int:
        return sum(n.seconds for n in self.not_counted)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["entry_counts"]
        del data["enrolment"]
        data["codes"] = [{"code": c.code, "units": c.units} for c in self.codes]
        data["codes_text"] = format_codes(self.codes)
        data["total_minutes"] = self.total_seconds // 60
        data["first_live_at"] = self.first_live_at.isoformat() if self.first_live_at else None
        for key in ("enrolled_on", "ended_on", "consent_on"):
            value = getattr(self, key)
            data[key] = value.isoformat() if value else None
        data["live_interaction_dates"] = [d.isoformat() for d in self.live_interaction_dates]
        data["conditions"] = list(self.conditions)
        data["expected_amount"] = float(self.billable_amount)  # as every screen shows it
        data["held_amount"] = float(self.held_amount)
        data["warnings"] = list(self.warnings)
        data["billed_at_close"] = (self.billed_at_close.as_json()
                                   | self.billed_at_close.device_json()
                                   if self.billed_at_close else None)
        data["device_codes"] = [{"code": c.code, "units": c.units} for c in self.device_codes]
        data["device_periods"] = [period_json(p) for p in self.device_periods]
        del data["device_period"]  # `device_days` is its days; `device_periods` lists it
        data["device_codes_text"] = format_codes(self.device_codes)
        data["device_amount"] = float(self.device_amount)
        data["device_verdict"] = verdict_json(self.device_verdict)
        data["not_counted"] = [asdict(n) for n in self.not_counted]
        data["not_counted_seconds"] = self.not_counted_seconds
        # one figure for every second left out (non-clinical time is in `not_counted` too);
        # the non-clinical part alone has its own name
        data["non_clinical_seconds"] = self.uncounted_seconds
        data["uncounted_seconds"] = self.not_counted_seconds
        return data


@dataclass(frozen=True)
class CloseDifference:
    """A patient whose codes now differ from the latest close, as month totals list them."""

    patient: str  # clinic id and initials
    billed: str  # codes at close ('none' for none), as billing offices write them
    supported: str  # codes now
    cause: str
    follow_up: str
    amount_delta: Decimal
    # the same codes as codes, and the follow-up, for chat's words ('99457 + 99458 ×2');
    # not in the JSON
    billed_codes: tuple[CodeUnits, ...] = ()
    supported_codes: tuple[CodeUnits, ...] = ()
    follow_up_in_words: str = ""
    # the device codes at close and now, when they differ ('' when they do not)
    device_billed: str = ""
    device_supported: str = ""
    device_billed_codes: tuple[CodeUnits, ...] = ()
    device_supported_codes: tuple[CodeUnits, ...] = ()

    def device_change(self, codes: Callable[[tuple[CodeUnits, ...]], str] = format_codes
                      ) -> str:
        """As `BilledAtClose.device_change`: '' when the device codes did not change."""
        if not (self.device_billed or self.device_supported):
            return ""
        return device_change_text(self.device_billed_codes, self.device_supported_codes,
                                  codes)

    def changed_codes(self, codes: Callable[[tuple[CodeUnits, ...]], str] | None = None,
                      between: str = "; ") -> str:
        """'billed 99457 at close, supports 99470 now' and, when they changed, the device
        codes' words; the device codes' alone when the time codes are as billed. `codes`:
        how chat writes codes (default: `billed` and `supported` as billing offices do)."""
        billed, supported = ((codes(self.billed_codes) or "none",
                              codes(self.supported_codes) or "none") if codes
                             else (self.billed, self.supported))
        time = f"billed {billed} at close, supports {supported} now"
        devices = self.device_change(codes or format_codes)
        if devices and same_units(self.billed_codes, self.supported_codes):
            return devices
        return between.join(part for part in (time, devices) if part)

    def as_json(self) -> dict[str, Any]:
        return {"patient": self.patient, "billed": self.billed, "supported": self.supported,
                "cause": self.cause, "follow_up": self.follow_up,
                "amount_delta": float(self.amount_delta),
                "device_billed": self.device_billed or None,
                "device_supported": self.device_supported or None}


@dataclass(frozen=True)
class LoggedEntry:
    """A committed entry with the month it landed in, as the reply to a log shows it."""

    entry: EntryView
    summary: MonthSummary
    overlaps: EntryView | None
    time_counts: bool
    repeats: int | None = None  # with `repeat_window`: an identical entry just before it


@dataclass(frozen=True)
class PatientRisk:
    """A patient's month with the at-risk verdict reminders and `/rpm risk` both show."""

    summary: MonthSummary
    risk: RiskAssessment


@dataclass(frozen=True)
class MonthTotals:
    """The month across all patients: counts, units and money (fee schedule estimates)."""

    month: str
    patients: int
    billable: int  # with codes and nothing holding them (billing.audit_checks.hold_reasons)
    units: dict[str, int]
    expected_amount: Decimal
    at_risk: int
    at_risk_amount: Decimal
    closed_by: str | None
    unmatched_calls: int = 0  # calls no patient could be matched to: attach before billing
    changed_since_close: tuple[CloseDifference, ...] = ()  # vs the latest close
    reopened: str | None = None  # "on DATE by WHO: REASON" while reopened since a close
    held: int = 0  # with codes, but no consent or no order on file: not to be billed yet
    # the device half (issue 28): units per device code dated in the month (held months
    # left out, as for time), their dollars, and patients whose current device period
    # still lacks reading days for a code it can reach: how many, and how many per code
    # aimed at (99454, 99445)
    device_units: dict[str, int] = field(default_factory=dict)
    device_amount: Decimal = Decimal("0.00")
    short_of_readings: int = 0
    short_of_readings_for: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["device_amount"] = float(self.device_amount)
        data["expected_amount"] = float(self.expected_amount)
        data["at_risk_amount"] = float(self.at_risk_amount)
        data["changed_since_close"] = [d.as_json() for d in self.changed_since_close]
        return data
