"""What `audit verify` concludes from rows, pure: the chain's links record by record, and
each time entry's current row against what its audit records say it holds.

Fed rows in id order by service/audit_trail.py; nothing here reads the database.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from billing.digits import is_digits
from service.audit import masked
from store.audit_chain import json_safe, record_hash

ENTRY_ACTIONS = ("entry.log", "entry.void")


@dataclass(frozen=True)
class Finding:
    """One thing verify found wrong: what (`kind`), where (record or entry id), in words."""

    kind: str  # changed | deleted | inserted | head_missing | entry_changed | entry_unaudited
    # | entry_deleted | entry_record_missing | entry_record_changed | entry_record_inserted
    # | entry_relogged
    message: str
    record_id: int | None = None
    entry_id: int | None = None


@dataclass(frozen=True)
class Gap:
    """Records deleted from the chain: after record `after_id` (None: from the start) and
    before `before_id`, so between the times `after_at` and `before_at`."""

    after_id: int | None
    after_at: Any
    before_id: int
    before_at: Any

    def holds(self, instant: Any) -> bool:
        """Whether a record written at `instant` would have been in the gap."""
        return instant is not None and (self.after_at is None or self.after_at <= instant) \
            and instant <= self.before_at

    @property
    def where(self) -> str:
        if self.after_id is None:
            return f"deleted before #{self.before_id}"
        if self.before_id - self.after_id == 2:
            return f"deleted from between #{self.after_id} and #{self.before_id} (#" \
                   f"{self.after_id + 1})"
        return f"deleted from between #{self.after_id} and #{self.before_id}"


class ChainWalk:
    """The chain's links, one record at a time in id order: each record must hash to its
    `hash` and link (`prev_hash`) to the record before it. A record changed in place is named
    once (its successor still links to the hash it was written with). What each break was
    is kept (`gaps`, `suspect`), so the entry cross-check after the walk names an entry by
    what happened to its records, not as edited behind the service's back."""

    def __init__(self, wanted: Iterable[str] = ()) -> None:
        self.last: Any = None
        self._before_last_hash: str | None = None
        self.records = 0
        self.found: dict[str, int] = {h: 0 for h in wanted}  # hash -> record id (0: not yet)
        self.gaps: list[Gap] = []  # where records were deleted
        self.suspect: dict[int, str] = {}  # record id -> changed | inserted

    def feed(self, row: Any) -> Finding | None:
        finding = self._check(row)
        if finding is not None:
            self._remember(finding, row)
        if row.hash in self.found:
            self.found[row.hash] = row.id
        self._before_last_hash = self.last.hash if self.last is not None else None
        self.last = row
        self.records += 1
        return finding

    def _remember(self, finding: Finding, row: Any) -> None:
        if finding.kind == "deleted":
            last = self.last
            self.gaps.append(Gap(last.id if last is not None else None,
                                 last.at if last is not None else None, row.id, row.at))
        elif finding.record_id is not None:
            self.suspect[finding.record_id] = finding.kind

    def gap_holding(self, instant: Any) -> Gap | None:
        """The deleted stretch of the chain a record written at `instant` fell in."""
        return next((gap for gap in self.gaps if gap.holds(instant)), None)

    def _check(self, row: Any) -> Finding | None:
        if record_hash(row._mapping) != row.hash:
            return Finding("changed", f"audit record #{row.id} was changed after it was "
                           "written: its content no longer matches its hash", row.id)
        last = self.last
        if row.prev_hash == (last.hash if last is not None else None):
            return None
        if last is None:
            return Finding("deleted", f"the records before #{row.id} were deleted: the "
                           "first record links to a record that is not there", row.id)
        if row.prev_hash is not None and row.prev_hash == self._before_last_hash:
            return Finding("inserted", f"audit record #{last.id} was inserted out of order: "
                           f"#{row.id} links to the record before it", last.id)
        if row.prev_hash is None and last.prev_hash is None:
            return Finding("inserted", f"audit records #{last.id} and #{row.id} both claim to "
                           f"start the chain: #{last.id} was inserted before it", last.id)
        if row.prev_hash is None:
            return Finding("inserted", f"audit record #{row.id} was inserted out of order: "
                           "it claims to start the chain", row.id)
        if row.id > last.id + 1:
            return Finding("deleted", f"{_missing(last.id, row.id)} (deleted from between "
                           f"#{last.id} and #{row.id}): #{row.id} links to a record that is "
                           "not there", row.id)
        return Finding("changed", f"audit record #{last.id} was changed and its hash "
                       f"recomputed (or replaced): #{row.id} links to another record",
                       last.id)


def _missing(after: int, before: int) -> str:
    """'audit record #15 is missing', 'audit records #15 to #17 are missing'."""
    if before - after == 2:
        return f"audit record #{after + 1} is missing"
    return f"audit records #{after + 1} to #{before - 1} are missing"


def entry_state(row: Any, created_at: str | None) -> dict[str, Any]:
    """What an entry's columns hold after the audit record `row` (an entry.log or
    entry.void), as JSON values: the record's `after`, with the creation time of the entry's
    entry.log (its audit time). A void's `after` names the void's amendment reason as
    `amendment_reason`; the entry's own (a late log's) is the one in its `before`."""
    state = dict(row.after or {})
    if row.action == "entry.void" and row.before and "amendment_reason" in row.before:
        state["amendment_reason"] = row.before["amendment_reason"]
    state["created_at"] = row.at.isoformat() if row.action == "entry.log" else created_at
    return state


def current_state(entry: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The entry's row as the audit trail writes it (datetimes as ISO text), for `fields`."""
    values = entry._mapping
    return json_safe(masked({name: values[name] for name in fields if name in values})) or {}


def _digest(state: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(json.dumps(state, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).digest()


class EntryLedger:
    """Each entry's expected columns, folded from its audit records in id order. Kept as a
    digest per entry (and the field names, shared), not the values: a trail of a million
    entries stays tens of megabytes; a mismatch is explained from the entry's history."""

    def __init__(self) -> None:
        self._expected: dict[int, tuple[str | None, tuple[str, ...], bytes]] = {}
        self._field_sets: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.records: dict[int, tuple[int, int]] = {}  # entry id -> (first, last) record id
        # records the service never writes: a second entry.log of one entry, or one with no
        # content. A well-hashed record appended to cover an edit made with raw SQL looks
        # like this (the chain has no secret: its hashes show changes, not who wrote them)
        self.forged: list[Finding] = []

    def feed(self, row: Any) -> None:
        if row.entity != "entry" or row.action not in ENTRY_ACTIONS \
                or not is_digits(row.entity_id):
            return
        entry_id = int(row.entity_id)
        held = self._expected.get(entry_id)
        if row.action == "entry.log" and (held is not None or not row.after):
            self.forged.append(Finding(
                "entry_relogged", f"audit record #{row.id} logs entry #{entry_id} "
                + ("a second time" if held is not None else "with no content")
                + ": the service writes one log record per entry, with its columns; a record "
                "appended to cover an edit made outside the service reads like this",
                record_id=row.id, entry_id=entry_id))
        state = entry_state(row, held[0] if held is not None else None)
        fields = tuple(sorted(state))
        fields = self._field_sets.setdefault(fields, fields)
        self._expected[entry_id] = (state["created_at"], fields, _digest(state))
        first = self.records.get(entry_id, (row.id, row.id))[0]
        self.records[entry_id] = (first, row.id)

    def check(self, entry: Any) -> tuple[str, ...] | None:
        """None when `entry` matches its audit records; else the fields to explain ("" for
        an entry with no audit record)."""
        held = self._expected.pop(entry.id, None)
        if held is None:
            return ("",)
        _, fields, digest = held
        return None if _digest(current_state(entry, fields)) == digest else fields

    def missing(self) -> list[int]:
        """Entries the audit trail recorded that no longer exist (after every `check`)."""
        return sorted(self._expected)


def changed_fields(entry: Any, history: Iterable[Any]) -> list[str]:
    """The columns of `entry` that differ from what its audit `history` says it holds."""
    expected: dict[str, Any] = {}
    for row in history:
        if row.action in ENTRY_ACTIONS:
            expected = entry_state(row, expected.get("created_at"))
    now = current_state(entry, expected)
    return sorted(name for name in expected if now.get(name) != expected[name])
