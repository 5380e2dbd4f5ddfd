"""What `audit verify` concludes about the rows besides time entries that change what a
month bills, pure: patients' billing fields (consent, enrolment and its episodes, the order,
the providers, the conditions), staff roles, and every month close and reopen with the record
of what each close billed.

Each is held against the trail as entries are (service/trail_checks.py): the state the
service's last audit record of the row says, against the row now. A consent date moved
earlier in the table, an episode widened, a role raised, a close deleted with its lines (the
month silently reopened) or a close's lines rewritten: each is named. Fed audit rows in id
order by service/audit_trail.py; nothing here reads the database.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from service.trail_checks import Finding

# The audit records whose `after` is a row's whole state, and the fields of that state that
# change what a month bills. A field missing from a record (written before the field
# existed) is not compared.
BILLING_STATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "patient": (("patient.add", "patient.update", "patient.enrol"),
                ("consent_on", "enrolled_on", "ended_on", "episodes", "order_on", "ordered_by",
                 "provider", "conditions")),
    # the role decides whose time counts; the NPI is on the claim; the name, admin and
    # active flags decide who is named and who may close or amend
    # active flags decide who is named and who may close or amend; `inactive_from` from when
    # no call is credited to them, the email who signs in to the dashboard as them (issue 24)
    "staff": (("staff.add", "staff.update", "staff.offboard"),
              ("role", "npi", "name", "is_admin", "active", "inactive_from",
               "email")),
}
CLOSE_ACTIONS = ("month.close", "month.reopen")


def patient_state(row: Any, episodes: Iterable[tuple[date | None, date | None]]) -> dict[str, Any]:
    """A patient row's billing fields as the service's audit record writes them (dates as
    ISO text, episodes oldest first)."""
    def day(value: date | None) -> str | None:
        return value.isoformat() if value is not None else None
    spans = sorted(episodes, key=lambda s: (s[0] is not None, s[0] or date.min))
    return {"created_at": row.created_at,
            "consent_on": day(row.consent_on), "enrolled_on": day(row.enrolled_on),
            "ended_on": day(row.ended_on), "order_on": day(row.order_on),
            "episodes": [[day(start), day(end)] for start, end in spans],
            "ordered_by": row.ordered_by_slack_id, "provider": row.provider_slack_id,
            "conditions": list(row.conditions or [])}


def staff_state(row: Any) -> dict[str, Any]:
    return {"created_at": row.created_at, "role": row.role, "npi": row.npi, "name": row.name,
            "is_admin": row.is_admin, "active": row.active,
            "inactive_from": (row.inactive_from.isoformat()
                              if row.inactive_from is not None else None),
            "email": row.email}


def close_lines_digest(lines: Iterable[Any]) -> str:
    """One hash of a close's per-patient record (patient, codes, seconds, live contact,
    cents), as the close's audit record keeps it: a line rewritten later no longer hashes to
    it, even when the month's totals are kept."""
    rows = sorted([int(line.patient_id), [[str(c), int(n)] for c, n in line.codes],
                   int(line.total_seconds), int(line.live_interactions),
                   int(line.expected_cents)] for line in lines)
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def close_device_lines_digest(lines: Iterable[Any]) -> str:
    """One hash of the device codes a close recorded per patient (issue 28), kept in the
    close's audit record beside `lines` (whose hash, older, leaves them out). A line with no
    device code and one with none recorded (NULL: an archive from before migration 0019,
    restored and upgraded) hash alike."""
    rows = sorted([int(line.patient_id),
                   [[str(c), int(n)] for c, n in line.device_codes or ()]] for line in lines)
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def close_device_units(lines: Iterable[Any]) -> dict[str, int]:
    """Units per device code of a close's record (lines from before device codes: none)."""
    units: dict[str, int] = defaultdict(int)
    for line in lines:
        for code, n in getattr(line, "device_codes", None) or ():
            units[str(code)] += int(n)
    return dict(units)


def close_figures(lines: Iterable[Any]) -> dict[str, Any]:
    """Patients, units per code and dollars of a close's record, as its audit record says
    them (service/month_closing.py writes them from the same lines)."""
    units: dict[str, int] = defaultdict(int)
    patients, cents = 0, 0
    for line in lines:
        patients += 1
        cents += int(line.expected_cents)
        for code, n in line.codes:
            units[str(code)] += int(n)
    return {"patients": patients, "units": dict(units), "amount": str(Decimal(cents) / 100)}


@dataclass(frozen=True)
class _Recorded:
    record_id: int
    state: dict[str, Any]


class StateLedger:
    """The last recorded billing state of each patient and staff member (by clinic id or
    Slack id), folded from the trail in id order."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, str], _Recorded] = {}

    def feed(self, row: Any) -> None:
        spec = BILLING_STATES.get(row.entity)
        if spec is None or row.action not in spec[0] or not row.after:
            return
        state = {name: row.after[name] for name in spec[1] if name in row.after}
        if state:  # a record that says none of them (an old shape) says nothing to check
            self.last[(row.entity, row.entity_id)] = _Recorded(row.id, state)

    def check(self, entity: str, key: str, now: Mapping[str, Any],
              breaks: ChainBreaks) -> Finding | None:
        """The row `key` of `entity` as it is `now` (`created_at`: when it was added)
        against its last audit record. A difference the chain's own breaks explain (its
        record changed, inserted, or deleted in a stretch that held its creation) is left to
        the chain's finding, which names the record: the row is not blamed."""
        recorded = self.last.pop((entity, key), None)
        if recorded is None:
            if breaks.explain_unaudited(now.get("created_at")):
                return None
            return Finding(f"{entity}_unaudited", f"{entity} {key} has no audit record: it was "
                           "inserted behind the service's back")
        changed = sorted(name for name, value in recorded.state.items()
                         if now.get(name) != value)
        if not changed or recorded.record_id in breaks.suspect:
            return None
        listed = f"{', '.join(changed)} {'differ' if len(changed) > 1 else 'differs'}"
        seen = _recorded_values(recorded.state, now, changed)
        return Finding(f"{entity}_changed", f"{entity} {key} was edited behind the service's "
                       f"back: {listed} from its audit record #{recorded.record_id} ({seen})",
                       recorded.record_id)

    def missing(self, entity: str, breaks: ChainBreaks) -> list[Finding]:
        """Rows of `entity` the trail knows and the table lost (after every `check`)."""
        return [Finding(f"{entity}_deleted", f"{entity} {key} is in the audit trail (record "
                        f"#{held.record_id}) but no longer in the table: it was deleted",
                        held.record_id)
                for (kind, key), held in sorted(self.last.items())
                if kind == entity and held.record_id not in breaks.suspect]


@dataclass(frozen=True)
class ChainBreaks:
    """What the chain walk found broken, as the row checks ask it: records changed or
    inserted (`suspect`, by record id) and whether a row added at some time would have had
    its record in a deleted stretch (`in_gap`)."""

    suspect: Mapping[int, str]
    in_gap: Callable[[Any], bool]

    def explain_unaudited(self, created_at: Any) -> bool:
        """A row with no audit record, when the chain is broken: its record may be the one
        changed (its entity rewritten), inserted over, or deleted with the stretch that
        held its creation."""
        return bool(self.suspect) or self.in_gap(created_at)


def _recorded_values(recorded: Mapping[str, Any], now: Mapping[str, Any],
                     changed: list[str]) -> str:
    """'consent_on 2026-10-01 recorded, 2026-01-01 now' for each changed field."""
    return "; ".join(f"{name} {_shown(recorded.get(name))} recorded, {_shown(now.get(name))} now"
                     for name in changed)


def _shown(value: Any) -> str:
    return "none" if value is None else json.dumps(value) if isinstance(value, list) \
        else str(value)


@dataclass(frozen=True)
class _CloseRecord:
    """A `month.close` or `month.reopen` audit record, as the close check reads it."""

    record_id: int
    action: str  # close | reopen
    at: Any
    by: str
    said: dict[str, Any]  # the record's `after`


def _said_otherwise(event: Any, record: _CloseRecord) -> bool:
    """What the audit record said besides who and when: the name beside the author's id,
    and a reopen's answer to "were the claims sent?" (it decides what later closes are
    compared with: a billed reopen set to not billed drops a refund owed). Records from
    before either was kept have none to compare."""
    said = record.said
    return ("by_name" in said and said["by_name"] != event.by_name) or (
        event.action == "reopen" and "billed" in said and said["billed"] != event.billed)


class CloseLedger:
    """Every month's closes and reopens as the trail recorded them (record id, action, when,
    by whom, what the close recorded), and the records rebuilt later for old closes."""

    def __init__(self) -> None:
        self.months: dict[str, list[_CloseRecord]] = \
            defaultdict(list)
        self.rebuilt: dict[int, tuple[int, dict[str, Any]]] = {}  # close event id -> record

    def feed(self, row: Any) -> None:
        if row.entity != "month":
            return
        if row.action in CLOSE_ACTIONS:
            self.months[row.entity_id].append(_CloseRecord(
                row.id, row.action.removeprefix("month."), row.at, row.actor,
                dict(row.after or {})))
        elif row.action == "month.close_reconstructed" and row.after:
            self.rebuilt[int(row.after.get("close_event", 0))] = (row.id, dict(row.after))

    def check(self, events: list[Any], lines: Mapping[int, list[Any]],
              breaks: ChainBreaks) -> list[Finding]:
        """The table's close events (id order) and each close's lines against the trail
        (what the chain's breaks explain is left to the chain's findings)."""
        findings: list[Finding] = []
        table: dict[str, list[Any]] = defaultdict(list)
        for event in events:
            table[event.month].append(event)
        for month in sorted(set(table) | set(self.months)):
            findings += self._month(month, table.get(month, []), self.months.get(month, []),
                                    lines, breaks)
        return findings

    def _month(self, month: str, events: list[Any],
               recorded: list[_CloseRecord],
               lines: Mapping[int, list[Any]], breaks: ChainBreaks) -> list[Finding]:
        if any(r.record_id in breaks.suspect for r in recorded) or any(
                breaks.explain_unaudited(e.at) for e in events):
            return []  # the month's trail is broken: the chain's findings name it
        findings: list[Finding] = []
        for n in range(max(len(events), len(recorded))):
            event = events[n] if n < len(events) else None
            record = recorded[n] if n < len(recorded) else None
            if event is None and record is not None:
                findings.append(_lost(month, record, closed_now=bool(events) and
                                      events[-1].action == "close"))
            elif record is None and event is not None:
                findings.append(Finding("close_unaudited", f"the {event.action} of {month} "
                                        f"on {event.at:%Y-%m-%d %H:%M} UTC by {event.by} has "
                                        "no audit record: it was inserted behind the "
                                        "service's back"))
            elif event is not None and record is not None:
                moved = (event.action, event.at, event.by) != (record.action, record.at,
                                                                record.by)
                if moved or _said_otherwise(event, record):
                    findings.append(Finding("close_changed", f"the {record.action} of {month} "
                                            f"in audit record #{record.record_id} ({record.by}, "
                                            f"{record.at:%Y-%m-%d %H:%M} UTC) reads "
                                            f"{event.action} by {event.by} at "
                                            f"{event.at:%Y-%m-%d %H:%M} UTC in the table: "
                                            "edited behind the service's back",
                                            record.record_id))
                elif event.action == "close":
                    findings += self._lines(month, event, record, lines.get(event.id, []))
        return findings

    def _lines(self, month: str, event: Any, record: _CloseRecord,
               lines: list[Any]) -> list[Finding]:
        """A close's record of what it billed against what its audit record says."""
        said = record.said
        if event.record == "pending":
            return []  # a close from before records: nothing was recorded to compare
        if event.record == "reconstructed":
            rebuilt = self.rebuilt.get(event.id)
            said = rebuilt[1] if rebuilt else {}
        if "lines" in said:
            changed = close_lines_digest(lines) != said["lines"]
        else:  # written before closes kept a digest of their lines: the totals
            figures = close_figures(lines)
            changed = any(figures[k] != said[k] for k in figures if k in said)
        if "device_lines" in said:  # closes since device codes were recorded with a hash
            changed = changed or close_device_lines_digest(lines) != said["device_lines"]
        if not changed:
            return []
        figures = close_figures(lines)
        devices = (f", device units {close_device_units(lines)}" if "device_lines" in said
                   else "")
        said_devices = (f", device units {said.get('device_units')}" if "device_lines" in said
                        else "")
        return [Finding("close_lines_changed", f"the record of what the close of {month} "
                        f"billed (audit record #{record.record_id}: {said.get('patients')} "
                        "patients, "
                        f"units {said.get('units')}, ${said.get('amount')}{said_devices}) was "
                        f"edited behind the service's back: the table now says "
                        f"{figures['patients']} patients, units {figures['units']}, "
                        f"${figures['amount']}{devices}", record.record_id)]


def _lost(month: str, record: _CloseRecord,
          closed_now: bool) -> Finding:
    what = "a billed month" if record.action == "close" else "a reopen"
    reads = "closed by an older close" if closed_now else "open"
    return Finding("close_deleted", f"the {record.action} of {month} of "
                   f"{record.at:%Y-%m-%d %H:%M} UTC by {record.by} (audit record "
                   f"#{record.record_id}) "
                   f"is no longer in month_close_events: {what} was deleted behind the "
                   f"service's back, and the month now reads {reads}", record.record_id)
