"""`audit verify`: is the audit trail still the one the service wrote?

One read transaction walks every audit record in id order (streamed) and names the first
record changed, deleted or inserted out of order (service/trail_checks.py); checks that every
head a month close recorded, and the one asked about (a packet's), is still on the chain (a
chain recomputed or cut short loses them); then reads every time entry and names the ones
whose row differs from what their audit records say (edited behind the service's back),
that have no audit record, or that the trail knows and the table lost.
"""

import re
from dataclasses import dataclass
from typing import Any

from service.context import ServiceContext
from service.errors import BadInput
from service.trail_checks import ChainWalk, EntryLedger, Finding, changed_fields
from store import audit as audit_rows
from store.audit import AuditHead
from store.db import Conn

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
    ledger = EntryLedger()
    findings: list[Finding] = []
    for row in audit_rows.records(conn):
        finding = walk.feed(row)
        if finding is not None:
            findings.append(finding)
        ledger.feed(row)
    findings += _lost_heads(walk, closes, wanted)
    entries = _check_entries(conn, ledger, findings)
    last = walk.last
    return TrailReport(walk.records, entries,
                       AuditHead(last.id, last.hash) if last is not None else None,
                       tuple(findings), wanted, walk.found.get(wanted or "") or None)


def _lost_heads(walk: ChainWalk, closes: list[Any], wanted: str | None) -> list[Finding]:
    """Heads that were handed out (a close's, the one asked about) and are not on the chain."""
    lost = [Finding("head_missing", f"the head {c.audit_head[:16]}… recorded by the close of "
                    f"{c.month} is not on the chain: the chain was recomputed or cut short")
            for c in closes if not walk.found[c.audit_head]]
    if wanted is not None and not walk.found[wanted]:
        lost.append(Finding("head_missing", f"the head {wanted[:16]}… is not on the chain: "
                            "the chain was recomputed or cut short since it was printed"))
    return lost


def _check_entries(conn: Conn, ledger: EntryLedger, findings: list[Finding]) -> int:
    """Every entry's row against its audit records; the number of entries read."""
    count = 0
    for entry in audit_rows.entries(conn):
        count += 1
        fields = ledger.check(entry)
        if fields == ("",):
            findings.append(Finding("entry_unaudited", f"entry #{entry.id} has no audit "
                                    "record: it was inserted behind the service's back",
                                    entry_id=entry.id))
        elif fields is not None:
            names = changed_fields(entry, audit_rows.history(conn, "entry", str(entry.id)))
            findings.append(Finding("entry_changed", f"entry #{entry.id} was edited behind "
                                    f"the service's back: {', '.join(names) or 'its row'} "
                                    f"{'differ' if len(names) > 1 else 'differs'} from its "
                                    "last audit record", entry_id=entry.id))
    findings += [Finding("entry_deleted", f"entry #{n} is in the audit trail but no longer "
                         "in the table: it was deleted", entry_id=n) for n in ledger.missing()]
    return count
