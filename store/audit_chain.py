"""The audit trail's hash chain, pure: one record's canonical JSON and its SHA-256.

Each audit record's `hash` is the SHA-256 (hex) of its canonical JSON: the fields in HASHED
(its `id` and its `prev_hash`, the hash of the record before it, included), keys sorted, no
whitespace, UTF-8 (not \\u-escaped), datetimes in UTC as `YYYY-MM-DDTHH:MM:SS.ffffffZ`. A
record changed, dropped or slipped in between breaks the link to the next one; a chain
recomputed from a point on no longer holds a head that was printed before (docs/audit.md).

Here, not in billing/ (hashing is no billing rule) nor in service/ (migration 0011 chains
existing records with these functions, and migrations import no service code).
"""

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

HASHED = ("id", "at", "actor", "action", "entity", "entity_id", "before", "after",
          "prev_hash")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_text(value: datetime) -> str:
    """A datetime as the chain writes it: UTC, microseconds always, a Z."""
    if value.tzinfo is None:
        raise ValueError("naive datetime in an audit record")
    return value.astimezone(UTC).strftime(_TIME_FORMAT)


def json_safe(value: Any) -> Any:
    """`value` as it comes back from a JSON column (tuples as lists, keys as text), so the
    hash written equals the hash recomputed from the stored row."""
    return None if value is None else json.loads(json.dumps(value))


def canonical(record: Mapping[str, Any]) -> bytes:
    """The record's canonical JSON: the HASHED fields, sorted keys, no whitespace, UTF-8."""
    fields = {name: record[name] for name in HASHED}
    fields["at"] = utc_text(fields["at"])
    return json.dumps(fields, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the record's canonical JSON."""
    return hashlib.sha256(canonical(record)).hexdigest()
