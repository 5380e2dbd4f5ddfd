"""`audit verify`: is the audit trail still the one the service wrote?

One read transaction walks every audit record in id order (streamed) and names the first
record changed, deleted or inserted out of order (service/trail_checks.py); checks that every
head a month close recorded, and the one asked about (a packet's), is still on the chain (a
chain recomputed or cut short loses them); then reads every time entry and names the ones
whose row differs from what their audit records say (edited behind the service's back),
that have no audit record, or that the trail knows and the table lost; and does the same for
every other row that changes what a month bills (service/record_checks.py): patients'
billing fields and episodes, staff roles, month closes and reopens with each close's record.
"""

import re
from dataclasses import dataclass
from typing import Any

from service.context import ServiceContext
from service.errors import BadInput
from service.record_checks import (
    ChainBreaks,
    CloseLedger,
    StateLedger,
    patient_state,
    staff_state,
)
from service.trail_checks import ChainWalk, EntryLedger, Finding, changed_fields
from store import audit as audit_rows
from store.audit import AuditHead
from store.db import Conn
from store.episodes import spans

_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class TrailReport:
    """What verify found: counts, the chain's head, and every finding (first one first)."""

    records: int
    entries: int
    head: AuditHead | None
    findings: tuple[Finding, ...]
    checked_head: str | None = None  # the hash asked about (--head)
    checked_head_at: int | None = None  # the record that has it (None: not on the chain)

    @property
    def clean(self) -> bool:
        return not self.findings


def parse_head(text: str) -> str:
    """A head hash as printed (64 hex digits, any case)."""
    value = text.strip().lower()
    if not _HASH.fullmatch(value):
        raise BadInput(f"{text.strip()[:80]!r} is not a chain head: 64 hex digits (SHA-256).")
    return value


class AuditTrailService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def verify(self, head: str | None = None) -> TrailReport:
        """Walk the chain and cross-check the entries; `head`: a hash that must be on it."""
        wanted = parse_head(head) if head is not None else None
        with self.ctx.db.read() as conn:
            audit_rows.one_snapshot(conn)  # live writes go on; verify sees one moment
            return walk_trail(conn, wanted)


def walk_trail(conn: Conn, wanted: str | None = None) -> TrailReport:
    """The whole check inside the caller's read transaction (the packet's --verify runs it
    too: a packet whose own head still matches vouches for nothing if records before it
    were deleted). Call `store.audit.one_snapshot` first, before any other read."""
    closes = audit_rows.close_heads(conn)
    walk = ChainWalk([c.audit_head for c in closes] + ([wanted] if wanted else []))
    ledger, states, months = EntryLedger(), StateLedger(), CloseLedger()
    findings: list[Finding] = []
    for row in audit_rows.records(conn):
        finding = walk.feed(row)
        if finding is not None:
            findings.append(finding)
        ledger.feed(row)
        states.feed(row)
        months.feed(row)
    findings += _lost_heads(walk, closes, wanted)
    findings += ledger.forged
    entries = _check_entries(conn, walk, ledger, findings)
    findings += _check_billing_rows(conn, walk, states, months)
    last = walk.last
    return TrailReport(walk.records, entries,
                       AuditHead(last.id, last.hash) if last is not None else None,
                       tuple(findings), wanted, walk.found.get(wanted or "") or None)


def _check_billing_rows(conn: Conn, walk: ChainWalk, states: StateLedger,
                        months: CloseLedger) -> list[Finding]:
    """Every row besides entries that changes what a month bills, against the trail:
    patients' billing fields, staff roles, closes and reopens with each close's record."""
    breaks = ChainBreaks(walk.suspect, lambda at: walk.gap_holding(at) is not None)
    found: list[Finding | None] = []
    for patient in audit_rows.patient_states(conn):
        now = patient_state(patient, spans(patient.episodes))
        found.append(states.check("patient", patient.clinic_id, now, breaks))
    for member in audit_rows.staff_roles(conn):
        found.append(states.check("staff", member.slack_user_id, staff_state(member), breaks))
    found += states.missing("patient", breaks) + states.missing("staff", breaks)
    found += months.check(audit_rows.close_events(conn), audit_rows.close_lines(conn),
                          breaks)
    return [f for f in found if f is not None]


def _lost_heads(walk: ChainWalk, closes: list[Any], wanted: str | None) -> list[Finding]:
    """Heads that were handed out (a close's, the one asked about) and are not on the chain."""
    lost = [Finding("head_missing", f"the head {c.audit_head[:16]}… recorded by the close of "
                    f"{c.month} is not on the chain: the chain was recomputed or cut short")
            for c in closes if not walk.found[c.audit_head]]
    if wanted is not None and not walk.found[wanted]:
        lost.append(Finding("head_missing", f"the head {wanted[:16]}… is not on the chain: "
                            "the chain was recomputed or cut short since it was printed"))
    return lost


def _check_entries(conn: Conn, walk: ChainWalk, ledger: EntryLedger,
                   findings: list[Finding]) -> int:
    """Every entry's row against its audit records; the number of entries read. A mismatch
    the chain's own breaks explain (a deleted, changed or inserted record) is named by that,
    not as an entry edited behind the service's back."""
    count = 0
    for entry in audit_rows.entries(conn):
        count += 1
        fields = ledger.check(entry)
        if fields == ("",):
            findings.append(_unaudited(walk, entry))
        elif fields is not None:
            findings.append(_mismatch(conn, walk, ledger, entry))
    for n in ledger.missing():
        first = ledger.records[n][0]
        if first in walk.suspect:
            findings.append(Finding(f"entry_record_{walk.suspect[first]}", f"entry #{n} is "
                                    "known only from "
                                    f"audit record #{first}, which was {walk.suspect[first]} "
                                    "(above); the table never had it as far as the trail "
                                    "shows", record_id=first, entry_id=n))
        else:
            findings.append(Finding("entry_deleted", f"entry #{n} is in the audit trail but "
                                    "no longer in the table: it was deleted", entry_id=n))
    return count


def _unaudited(walk: ChainWalk, entry: Any) -> Finding:
    """An entry with no audit record: its record was deleted (the entry was logged inside a
    deleted stretch of the chain), or the entry was inserted behind the service's back."""
    gap = walk.gap_holding(entry.created_at)
    if gap is not None:
        return Finding("entry_record_missing", f"entry #{entry.id}'s audit record is "
                       f"missing: it was among the records {gap.where} (the entry was "
                       "logged in that stretch); the entry itself was not changed as far as "
                       "the trail can tell", gap.before_id, entry.id)
    return Finding("entry_unaudited", f"entry #{entry.id} has no audit record: it was "
                   "inserted behind the service's back", entry_id=entry.id)


def _mismatch(conn: Conn, walk: ChainWalk, ledger: EntryLedger, entry: Any) -> Finding:
    """An entry that differs from its last audit record: that record was changed, the
    record of its void was deleted, or the entry's row was edited."""
    history = audit_rows.history(conn, "entry", str(entry.id))
    names = changed_fields(entry, history)
    listed = f"{', '.join(names) or 'its row'} {'differ' if len(names) > 1 else 'differs'}"
    last = ledger.records.get(entry.id, (0, 0))[1]
    if last in walk.suspect:
        return Finding(f"entry_record_{walk.suspect[last]}", f"entry #{entry.id} does not "
                       "match its audit "
                       f"record #{last} ({listed}), and that record was "
                       f"{walk.suspect[last]} (above): the record was tampered with, not "
                       "necessarily the entry", last, entry.id)
    gap = walk.gap_holding(entry.voided_at)
    if gap is not None and "voided_at" in names:
        return Finding("entry_record_missing", f"entry #{entry.id} was voided, but the audit "
                       f"record of its void is missing: it was among the records "
                       f"{gap.where} ({listed} from the entry's last record left)",
                       gap.before_id, entry.id)
    return Finding("entry_changed", f"entry #{entry.id} was edited behind the service's "
                   f"back: {listed} from its last audit record", entry_id=entry.id)
