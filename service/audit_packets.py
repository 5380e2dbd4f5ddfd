"""The audit packet: everything an auditor asks of one patient's month, from the store.

One read transaction per packet (or per month for `--all`): the patient with the order, the
month statement (codes, counted time, per-staff shares, billed at close, the day-by-day
totals the date of service comes from), every entry with what the month counts of it, the
call legs behind each live interaction, the close history and the audit trail's head. Each
part is read by the statement the rest of the service reads it with (months, entries,
calls, closes, audit); nothing is recounted here.

The content is plain JSON values. Its canonical JSON (sorted keys, no whitespace) and that
text's SHA-256 are what a printed packet embeds and prints (rpm_logger/packet.py renders);
`verify` rebuilds the content from the store and says what changed since it was printed.
Phone numbers appear masked only; patients by clinic id and initials (docs/security.md).
"""

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from billing.audit_checks import hold_reasons
from billing.codes import CodeUnits, format_codes
from billing.devices import codes_in_month
from billing.months import Month, clinic_day
from billing.service_date import RULE, date_of_service
from service import lookups
from service.admin import require_admin
from service.audit_checks import refuse_future
from service.audit_trail import walk_trail
from service.context import ServiceContext
from service.devices import periods_of
from service.entries import EntryService
from service.errors import BadInput
from service.month_words import why_no_code
from service.months import MonthService
from service.patients import episodes_of, require_detail
from service.phones import mask_number, redact_phones
from service.views import EntryView, MonthSummary
from store import audit as audit_rows
from store import calls as call_rows
from store import closes as close_rows
from store import devices as device_rows
from store import episodes as episode_rows
from store.db import Conn

__all__ = ["FORMAT", "FORMATS", "Packet", "PacketCheck", "PacketNotice", "AuditPacketService",
           "as_format", "canonical_json"]

# The content's format versions, oldest first; a packet prints the newest. A packet printed
# in an older one keeps verifying: its content is rebuilt today without what later versions
# added (`ADDED`), and is printed as it was (presentation/packet.py renders a part only when
# the content carries it; presentation/packet_pdf.py lays a PDF out as its format did).
FORMATS = (
    "rpm-logger audit packet v2",  # who by name and role, live "with" and "by"
    "rpm-logger audit packet v3",  # patient.episodes: every enrolment episode (issue 26 #10)
    "rpm-logger audit packet v4",  # the same content; the PDF prints tables (issue 26 #15)
    "rpm-logger audit packet v5",  # month.no_code_because; PDF columns fit their words
    "rpm-logger audit packet v6",  # month.devices: device periods, days, 99453/99454/99445
    "rpm-logger audit packet v7",  # month.devices up to the month's end; billed device codes
)
DEVICES_IN_MONTH_SINCE = "rpm-logger audit packet v7"
FORMAT = FORMATS[-1]
# What each version added, as (part, key) of the content: left out of an older one.
ADDED: dict[str, tuple[tuple[str, str], ...]] = {
    "rpm-logger audit packet v3": (("patient", "episodes"),),
    # who closed, by name beside the id (issue 26 #15): in each close_history item
    "rpm-logger audit packet v4": (("close_history", "by_name"),
                                   ("billed_at_close", "closed_by_name")),
    # why a month with time supports no code (an auditor's retry: "Warnings: none" for a
    # month of call attempts only)
    "rpm-logger audit packet v5": (("month", "no_code_because"),),
    # the device half of the claim (issue 28): each device period with a day in the month,
    # each counted reading day with its reading count and source, the month's device codes
    "rpm-logger audit packet v6": (("month", "devices"),),
    # the device codes billed at close beside the time codes (an outside billing office:
    # "Billed at close none" for a patient billed 99453;99445). v7 also lists a period
    # running past the month's end only up to the month's last day (`_devices`), so a
    # closed month's packet does not change with the next month's readings
    "rpm-logger audit packet v7": (("billed_at_close", "device_codes"),
                                   ("billed_at_close", "device_codes_text"),
                                   ("billed_at_close", "device_differs"),
                                   ("billed_at_close", "device_change")),
}
# What printing adds that the store cannot give back later: left out of "what changed".
_PRINTING = "printed"


def as_format(content: dict[str, Any], fmt: str) -> dict[str, Any]:
    """`content` (the newest format) as format `fmt` printed it: without what the versions
    after `fmt` added."""
    older = copy.deepcopy(content)
    for later in FORMATS[FORMATS.index(fmt) + 1:]:
        for part, key in ADDED.get(later, ()):
            held = older.get(part)  # a part is one object or a list of them (or None)
            for item in held if isinstance(held, list) else [held]:
                if isinstance(item, dict):
                    item.pop(key, None)
    older["format"] = fmt
    return older


def canonical_json(content: dict[str, Any]) -> str:
    """Sorted keys, no whitespace, UTF-8 text as is: the same content is the same text."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Packet:
    """One patient's month as printed: the content and its canonical JSON's digest."""

    content: dict[str, Any]

    @property
    def patient_id(self) -> str:
        return str(self.content["patient"]["patient_id"])

    @property
    def month(self) -> str:
        return str(self.content["month"]["month"])

    @property
    def canonical(self) -> str:
        return canonical_json(self.content)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical.encode()).hexdigest()


@dataclass(frozen=True)
class PacketNotice:
    """What Slack may say of a packet (an admin's DM, docs/security.md): the patient by
    clinic id and initials, the month and its codes; the packet stays on the dashboard."""

    patient_id: str
    label: str
    month: str
    codes: tuple[CodeUnits, ...]


@dataclass(frozen=True)
class PacketCheck:
    """A printed packet against the store today: what differs (empty: nothing)."""

    patient_id: str
    month: str
    changes: tuple[str, ...]


def _utc(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant is not None else None


def _iso(day: Any) -> str | None:
    return day.isoformat() if day is not None else None


class _Writer:
    """How values are written into a packet: instants as the clinic reads them (with
    seconds: an auditor adds them up), and typed text (notes, reasons) with any phone number
    in it masked (service.phones.redact_phones, as the dashboard shows them)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.zone = ctx.policy.zone
        self.region = ctx.policy.phone_region

    def time(self, instant: datetime | None) -> str | None:
        if instant is None:
            return None
        return f"{instant.astimezone(self.zone):%Y-%m-%d %H:%M:%S %Z}"

    def free(self, text: str | None) -> str | None:
        return redact_phones(text, region=self.region)


class _People:
    """Who a Slack id on a record is (voided by, marked by, amended by): the auditor asks for
    the name and role; the id stays beside them. Free text that is no staff member's id (a
    CLI operator such as "cli:ops") is kept as written."""

    def __init__(self, conn: Conn) -> None:
        self.staff = lookups.StaffOnRecords(conn)

    def __call__(self, slack_id: str | None) -> dict[str, Any] | None:
        if slack_id is None:
            return None
        row = self.staff.row(slack_id)
        return {"slack_id": slack_id, "name": row.name if row else None,
                "role": row.role if row else None}


def _staff(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"slack_id": row.slack_user_id, "name": row.name, "role": row.role, "npi": row.npi}


def _leg(leg: Any, w: _Writer) -> dict[str, Any]:
    """A call leg as evidence: Twilio's ids and verdicts, numbers masked."""
    return {"call_sid": leg.call_sid, "parent_call_sid": leg.parent_call_sid,
            "direction": leg.direction, "answered_by": leg.answered_by, "status": leg.status,
            "state": leg.state, "duration_seconds": leg.duration_seconds,
            "from": mask_number(leg.from_number), "to": mask_number(leg.to_number),
            "started": w.time(leg.started_at), "ended": w.time(leg.ended_at),
            "source": leg.source, "entry_id": leg.entry_id, "note": w.free(leg.note)}


def _bridge(leg: Any, legs: list[Any]) -> list[Any]:
    """The leg with its parent and its children: both legs of a bridged call."""
    related = {leg.call_sid, leg.parent_call_sid}
    return [other for other in legs
            if other.call_sid in related or other.parent_call_sid == leg.call_sid]


class AuditPacketService:
    def __init__(self, ctx: ServiceContext, months: MonthService,
                 entries: EntryService) -> None:
        self.ctx = ctx
        self.months = months
        self.entries = entries

    def packet(self, patient_ref: str, month: Month, *, fmt: str = FORMAT) -> Packet:
        """One patient's month as an auditor reads it (`fmt`: as an older format printed
        it, for the tests of packets printed before)."""
        refuse_future(month, self.months.current())
        with self.ctx.db.read() as conn:
            detail = require_detail(conn, patient_ref, region=self.ctx.policy.phone_region)
            return Packet(as_format(self._content(conn, detail, month, printed=True,
                                                  fmt=fmt), fmt))

    def billable(self, month: Month) -> list[Packet]:
        """A packet for each patient whose month supports a code or was billed at its
        close, time codes or device codes, in one read transaction (the month's report
        picks them)."""
        refuse_future(month, self.months.current())
        with self.ctx.db.read() as conn:
            chosen = [s.patient_id for s in self.months.report_in(conn, month)
                      if s.codes or s.device_codes or _billed(s.billed_at_close)]
            return [Packet(self._content(conn, require_detail(conn, clinic_id, region="",
                                                             by_phone=False),
                                         month, printed=True)) for clinic_id in chosen]

    def notice(self, by: str, patient_ref: str, month: Month | None) -> PacketNotice:
        """An admin asking in chat for a patient's packet (`/rpm packet`): checked as an
        admin, the patient by clinic id only (chat never names a phone)."""
        with self.ctx.db.read() as conn:
            require_admin(conn, by)
            detail = require_detail(conn, patient_ref, region="", by_phone=False)
            chosen = month or self.months.current()
            refuse_future(chosen, self.months.current())
            summary = self.months.summary_in(conn, chosen, detail.id)
            return PacketNotice(detail.clinic_id, summary.label, str(chosen), summary.codes)

    def verify(self, printed: dict[str, Any], *, patient_ref: str | None = None,
               month: Month | None = None) -> PacketCheck:
        """A printed packet's content against the store today: the patient and month come
        from the packet (when given, they must match), every part is rebuilt and compared,
        and the audit trail's head printed on it must still be in the chain."""
        patient_id, packet_month = _identity(printed)
        if month is not None and str(month) != str(packet_month):
            raise BadInput(f"The packet is for {packet_month}, not {month}.")
        with self.ctx.db.read() as conn:
            audit_rows.one_snapshot(conn)  # the records and the trail seen at one moment
            detail = require_detail(conn, patient_id, region="", by_phone=False)
            if patient_ref is not None and lookups.patient_key(patient_ref) != detail.clinic_key:
                raise BadInput(f"The packet is for {patient_id}, not {patient_ref}.")
            today = as_format(self._content(conn, detail, packet_month, printed=False,
                                            fmt=printed["format"]), printed["format"])
            changes = _differences(_stored_part(printed), today)
            ids = {int(e["id"]) for part in ("entries", "voided") for e in today[part]}
            changes += _head_changes(conn, printed) or _trail_changes(conn, ids)
        return PacketCheck(patient_id, str(packet_month), tuple(changes))

    # -- the content ---------------------------------------------------------------------

    def _content(self, conn: Conn, detail: Any, month: Month, *, printed: bool,
                 fmt: str = FORMAT) -> dict[str, Any]:
        """The newest format's content, its device section as `fmt` lists it (v6 listed
        every day of a period running past the month's end: see `_devices`)."""
        w, who = _Writer(self.ctx), _People(conn)
        summary, so_far = self.months.summary_with_progress_in(conn, month, detail.id)
        entries = self.entries.month_entries_in(conn, month, detail.id)
        start, end = month.bounds_utc(self.ctx.policy.zone)
        legs = call_rows.patient_month_legs(conn, detail.id, start=start, end=end)
        content: dict[str, Any] = {
            "format": FORMAT,
            "patient": self._patient(conn, detail),
            "billing_provider": _staff(lookups.find_staff(conn, detail.provider_slack_id)
                                       if detail.provider_slack_id else None),
            "month": self._month(month, summary, so_far) | {"hold_reasons": hold_reasons(
                detail.consent_on, detail.ordered_by_slack_id, detail.order_on),
                "devices": self._devices(conn, detail, month, summary, in_month=(
                    FORMATS.index(fmt) >= FORMATS.index(DEVICES_IN_MONTH_SINCE)))},
            "billed_at_close": (summary.billed_at_close.as_json()
                                | summary.billed_at_close.device_json()
                                if summary.billed_at_close else None),
            "close_history": [
                {"action": e.action, "at": w.time(e.at), "by": e.by, "by_name": e.by_name,
                 "reason": w.free(e.reason),
                 "record": e.record, "audit_head": e.audit_head}
                for e in close_rows.history(conn, str(month))],
            "entries": [_entry(e, legs, w, who) for e in entries if e.voided_at is None],
            "live_interactions": [_live(e, legs, w, who, detail) for e in entries
                                  if e.live and e.voided_at is None],
            "calls": [_leg(leg, w) for leg in legs],
            "voided": [_voided(e, w, who) for e in entries if e.voided_at is not None],
            "amendments": _amendments(conn, entries, detail.id, start, w, who, month),
        }
        if printed:
            head = audit_rows.head(conn)
            content[_PRINTING] = {
                "at": w.time(self.ctx.now()), "at_utc": _utc(self.ctx.now()),
                "audit_trail_head": {"id": head.id, "hash": head.hash} if head else None}
        return content

    def _patient(self, conn: Conn, detail: Any) -> dict[str, Any]:
        orderer = (lookups.find_staff(conn, detail.ordered_by_slack_id)
                   if detail.ordered_by_slack_id else None)
        return {"patient_id": detail.clinic_id, "initials": detail.initials,
                "enrolled_on": _iso(detail.enrolled_on), "ended_on": _iso(detail.ended_on),
                "episodes": [{"started_on": _iso(start), "ended_on": _iso(end)}
                             for start, end in episodes_of(conn, detail)],
                "consent_on": _iso(detail.consent_on), "conditions": list(detail.conditions),
                "order": {"ordered_by": _staff(orderer), "order_on": _iso(detail.order_on)},
                "last_visit_on": _iso(detail.last_visit_on)}

    def _month(self, month: Month, summary: MonthSummary,
               so_far: tuple[tuple[int, int], ...]) -> dict[str, Any]:
        served = date_of_service(month, so_far, summary.codes,
                                 max_add_on_units=self.ctx.policy.max_99458_units)
        return {
            "month": str(month), "clinic_timezone": self.ctx.policy.zone.key,
            "in_programme": summary.in_programme,
            "codes": [{"code": c.code, "units": c.units} for c in summary.codes],
            "codes_text": format_codes(summary.codes),
            "date_of_service": _iso(served), "date_of_service_rule": RULE,
            "counted_seconds": summary.total_seconds,
            "not_counted_seconds": summary.not_counted_seconds,
            "live_interactions": summary.live_interactions,
            "live_interaction_dates": [d.isoformat() for d in summary.live_interaction_dates],
            "staff": [{"slack_id": s.slack_user_id, "name": s.name, "role": s.role,
                       "counted_seconds": s.seconds, "logged_seconds": s.logged_seconds,
                       "counts": s.counts} for s in summary.staff],
            "warnings": list(summary.warnings),
            "no_code_because": why_no_code(summary),
        }


    def _devices(self, conn: Conn, detail: Any, month: Month, summary: MonthSummary, *,
                 in_month: bool) -> dict[str, Any]:
        """The device half (issue 28), as the readings make it (never "so far": the
        content must not change with the day it is verified), each counted day with its
        readings and their sources; no values.

        `in_month` (v7 on): only what belongs to the month's claim, so a closed month's
        packet does not change with a later month's readings. The periods whose codes are
        dated in the month, with all their days (each is on or before their last day, in
        the month), and a period running past the month's end with its days up to the
        month's last day, its codes left to the month they are dated in (`codes_text`
        None); a period is listed only with a counted day by the month's end. v6 listed
        every period overlapping the month with all its days, later months' too."""
        zone = self.ctx.policy.zone
        rows = device_rows.instants(conn, detail.id)
        enrolment = summary.enrolment or episode_rows.enrolment(conn, detail)
        periods = [p for p in periods_of([r.measured_at for r in rows], enrolment,
                                         detail.consent_on, zone, through=None)
                   if p.start <= month.last_day and p.end >= month.first_day]
        codes = codes_in_month(periods, month)
        last = month.last_day if in_month else None

        def days_of(period: Any) -> list[Any]:
            return [d for d in period.days if last is None or d <= last]

        if in_month:
            periods = [p for p in periods if days_of(p)]
        counted = {d for p in periods for d in days_of(p)}
        per_day: dict[Any, list[str]] = {}
        for row in rows:
            day = clinic_day(row.measured_at, zone)
            if day in counted:
                per_day.setdefault(day, []).append(row.source)
        listed = []
        for p in periods:
            item = {"start": p.start.isoformat(), "end": p.end.isoformat(),
                    "date_of_service": p.end.isoformat(), "days": p.day_count,
                    "codes_text": format_codes(p.codes)}
            if last is not None:
                runs_past = p.end > last
                item |= {"days": len(days_of(p)),
                         "counted_through": min(p.end, last).isoformat(),
                         "codes_text": None if runs_past else format_codes(p.codes)}
            listed.append(item)
        return {
            "codes": [{"code": c.code, "units": c.units} for c in codes],
            "codes_text": format_codes(codes),
            "rule": DEVICE_RULE,
            "periods": listed,
            "days": [{"day": day.isoformat(), "readings": len(sources),
                      "sources": sorted(set(sources))}
                     for day, sources in sorted(per_day.items())],
        }


DEVICE_RULE = ("30-day periods from the episode's first counted reading day (clipped to the "
               "episode's end); a day counts with one reading or more, inside the enrolment "
               "window and from consent; 99454 with 16 days or more, else 99445 with 2 or "
               "more (periods starting in 2026 or later); 99453 once per episode with its "
               "first coded period; a period's codes are dated its last day")


def _billed(billed: Any) -> bool:
    """Whether a close billed the month anything: time codes or device codes."""
    return billed is not None and bool(billed.codes or billed.device_codes)


def _call_of(entry: EntryView, legs: list[Any]) -> Any:
    return next((leg for leg in legs if leg.entry_id == entry.id), None)


def _entry(entry: EntryView, legs: list[Any], w: _Writer, who: _People) -> dict[str, Any]:
    """A standing entry: who, when, how long, what, and what the month counts of it."""
    count = entry.count
    call = _call_of(entry, legs)
    return {
        "id": entry.id, "staff": {"slack_id": entry.staff, "name": entry.staff_name,
                                  "role": entry.staff_role},
        "start": w.time(entry.started_at), "end": w.time(entry.ended_at),
        "start_utc": _utc(entry.started_at), "end_utc": _utc(entry.ended_at),
        "seconds": entry.duration_seconds, "month_seconds": entry.month_seconds,
        "counted_seconds": count.counted_seconds if count else 0,
        "not_counted_reasons": list(count.reasons) if count else [],
        "activity": entry.activity, "source": entry.source, "clock_timed": entry.clock_timed,
        "live": entry.live, "live_interaction": entry.counts_live,
        "note": w.free(entry.note), "call_sid": call.call_sid if call else None,
        "call_note": w.free(call.note) if call else None,
        "logged": w.time(entry.created_at), "logged_by": who(entry.created_by),
        "amendment_reason": w.free(entry.amendment_reason),
    }


def _party(call: Any, legs: list[Any], detail: Any) -> dict[str, Any]:
    """Who the live contact was with, as stored: a captured call records whether the number
    that matched was the patient's or a caregiver's (any leg of the bridge); a manual mark
    records only the patient (`party` None: not recorded)."""
    kinds = [leg.matched_kind for leg in (_bridge(call, legs) if call is not None else ())
             if leg.matched_kind]
    return {"party": kinds[0] if kinds else None, "patient_id": detail.clinic_id,
            "initials": detail.initials}


def _live(entry: EntryView, legs: list[Any], w: _Writer, who: _People,
          detail: Any) -> dict[str, Any]:
    """A live interaction and its evidence: with whom (patient or caregiver), by whom (the
    staff member), the captured call's legs or the manual mark."""
    call = _call_of(entry, legs)
    item: dict[str, Any] = {
        "entry_id": entry.id, "at": w.time(entry.started_at), "seconds": entry.duration_seconds,
        "with": _party(call, legs, detail),
        "by": {"slack_id": entry.staff, "name": entry.staff_name, "role": entry.staff_role},
        "counts": entry.counts_live,
        "why_not": entry.count.live_note if entry.count and not entry.counts_live else None,
    }
    if call is not None:
        item["how"] = "captured call"
        item["evidence"] = {"call_sid": call.call_sid,
                            "legs": [_leg(leg, w) for leg in _bridge(call, legs)]}
    else:
        item["how"] = "manual mark"
        item["evidence"] = {"marked_by": who(entry.created_by),
                            "marked_at": w.time(entry.created_at),
                            "activity": entry.activity, "source": entry.source}
    return item


def _voided(entry: EntryView, w: _Writer, who: _People) -> dict[str, Any]:
    return {"id": entry.id, "staff": {"slack_id": entry.staff, "name": entry.staff_name,
                                      "role": entry.staff_role},
            "start": w.time(entry.started_at), "seconds": entry.duration_seconds,
            "activity": entry.activity, "note": w.free(entry.note),
            "voided_by": who(entry.voided_by), "voided_at": w.time(entry.voided_at),
            "reason": w.free(entry.void_reason),
            "amendment_reason": w.free(entry.void_amendment_reason)}


def _amendments(conn: Conn, entries: list[EntryView], patient_pk: int, since: datetime,
                w: _Writer, who: _People, month: Month) -> list[dict[str, Any]]:
    """Changes made to a closed month, with their reasons: entries logged or voided into it,
    patient changes (enrolment, consent) made as amendments since the month began, and
    writes of readings that changed its device codes once closed (a vendor's webhook has no
    reason: none)."""
    found: list[dict[str, Any]] = []
    for e in entries:
        if e.amendment_reason:
            found.append({"kind": "entry logged", "entry_id": e.id, "by": who(e.created_by),
                          "at": w.time(e.created_at), "reason": w.free(e.amendment_reason)})
        if e.void_amendment_reason:
            found.append({"kind": "entry voided", "entry_id": e.id, "by": who(e.voided_by),
                          "at": w.time(e.voided_at), "reason": w.free(e.void_amendment_reason)})
    for change in close_rows.patient_amendments_since(conn, since=since,
                                                      patient_pks=[patient_pk]):
        if change.action == close_rows.DEVICES_CHANGED:
            found += _device_amendments(change, str(month), w, who)
            continue
        changed = sorted(k for k in change.after
                         if k not in ("amendment_reason", "import")
                         and change.before.get(k) != change.after[k])
        found.append({"kind": "patient changed", "entry_id": None, "by": None, "at": None,
                      "reason": w.free(change.after.get("amendment_reason")),
                      "fields": changed})
    return found


def _device_amendments(change: close_rows.PatientChangeSinceClose, month: str, w: _Writer,
                       who: _People) -> list[dict[str, Any]]:
    """A write of readings that changed this closed month's device codes (none when the
    record names other months only)."""
    return [{"kind": "device codes changed", "entry_id": None,
             "by": who(change.actor) if change.actor else None,
             "at": w.time(change.at) if change.at else None,
             "reason": w.free(change.after.get("amendment_reason")),
             "fields": [f"device codes {m.get('before') or 'none'} -> "
                        f"{m.get('after') or 'none'}",
                        f"source {change.after.get('source')}"]}
            for m in change.after.get("months") or () if m.get("month") == month]


# -- verifying -------------------------------------------------------------------------------

def _identity(printed: dict[str, Any]) -> tuple[str, Month]:
    try:
        if printed.get("format") not in FORMATS:
            raise KeyError("format")
        return str(printed["patient"]["patient_id"]), Month.parse(printed["month"]["month"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadInput(f"Not an rpm-logger audit packet ({FORMAT}).") from exc


def _stored_part(content: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in content.items() if k != _PRINTING}


def _differences(printed: Any, today: Any, path: str = "") -> list[str]:
    """What differs between two contents, part by part: lists of records by their id, so
    an added or removed entry is named, not every record after it."""
    if isinstance(printed, dict) and isinstance(today, dict):
        return _part_differences(printed, today, sorted(set(printed) | set(today)),
                                 lambda key: f"{path}.{key}" if path else str(key))
    if isinstance(printed, list) and isinstance(today, list) and _keyed(printed + today):
        before = {_record_key(i): i for i in printed}
        after = {_record_key(i): i for i in today}
        return _part_differences(before, after,
                                 list(before) + [k for k in after if k not in before],
                                 lambda key: f"{path}[{key}]")
    if printed != today:
        return [f"{path}: printed {_short(printed)}, now {_short(today)}"]
    return []


def _part_differences(printed: dict[Any, Any], today: dict[Any, Any], keys: list[Any],
                      where: Callable[[Any], str]) -> list[str]:
    """Each part (a field, or a record by its id) gone, added or changed."""
    found: list[str] = []
    for key in keys:
        if key not in today:
            found.append(f"{where(key)}: no longer there")
        elif key not in printed:
            found.append(f"{where(key)}: added since printing ({_short(today[key])})")
        else:
            found += _differences(printed[key], today[key], where(key))
    return found


# a device day by its day, a device period by its first day (format v6 on)
_RECORD_KEYS = ("id", "entry_id", "call_sid", "slack_id", "day", "start")


def _record_key(item: dict[str, Any]) -> Any:
    """What names a record in a list (an entry, a live interaction, a call leg, a staff
    share, a device day or period), so a difference is reported against it."""
    return next((item[k] for k in _RECORD_KEYS if item.get(k) is not None), None)


def _keyed(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and _record_key(i) is not None
                               for i in items)


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _trail_changes(conn: Conn, entry_ids: set[int]) -> list[str]:
    """The trail behind the printed head must still hold: its first finding, and every
    finding about this packet's entries (an entry edited behind the service's back is
    named as such, not only as a changed figure)."""
    report = walk_trail(conn)
    if report.clean:
        return []
    first, *rest = report.findings
    ours = [f for f in rest if f.entry_id is not None and f.entry_id in entry_ids]
    return [f"audit trail: {f.message}" for f in [first, *ours]] + [
        "audit trail: run `rpm-logger audit verify` for every finding"]


def _head_changes(conn: Conn, printed: dict[str, Any]) -> list[str]:
    """The audit record printed as the chain's head must still carry the printed hash."""
    head = (printed.get(_PRINTING) or {}).get("audit_trail_head")
    if not isinstance(head, dict):
        return []
    now = audit_rows.hash_at(conn, int(head.get("id", 0)))
    if now == head.get("hash"):
        return []
    what = "is gone" if now is None else f"now carries {now[:12]}..."
    return [f"audit trail: record #{head.get('id')} printed as the head with hash "
            f"{str(head.get('hash'))[:12]}... {what} (the trail was changed; run "
            "`rpm-logger audit verify`)"]
