"""The chain walk's verdicts, pure: which record each break names, and why."""

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from service.trail_checks import ChainWalk, EntryLedger
from store.audit_chain import canonical, record_hash, utc_text

AT = datetime(2026, 11, 1, 12, tzinfo=UTC)


class Row(SimpleNamespace):
    @property
    def _mapping(self) -> dict[str, Any]:
        return vars(self)


def _chain(count: int) -> list[Row]:
    rows: list[Row] = []
    for n in range(1, count + 1):
        values = {"id": n, "at": AT, "actor": "a", "action": "x", "entity": "e",
                  "entity_id": str(n), "before": None, "after": {"n": n},
                  "prev_hash": rows[-1].hash if rows else None}
        rows.append(Row(**values, hash=record_hash(values)))
    return rows


def _first(rows: list[Row]) -> Any:
    walk = ChainWalk()
    return next((f for f in map(walk.feed, rows) if f is not None), None)


def _rehash(row: Row, **changes: Any) -> Row:
    values = vars(row) | changes
    values.pop("hash")
    return Row(**values, hash=record_hash(values))


def test_an_intact_chain_has_no_finding() -> None:
    assert _first(_chain(5)) is None


def test_the_canonical_form_is_fixed() -> None:
    """Sorted keys, no whitespace, UTF-8 (not escaped), UTC with microseconds and a Z."""
    record = {"id": 1, "at": datetime(2026, 11, 1, 7, tzinfo=UTC), "actor": "é",
              "action": "x", "entity": "e", "entity_id": "1", "before": None,
              "after": {"b": 1, "a": [1, 2]}, "prev_hash": None}
    assert canonical(record) == (
        '{"action":"x","actor":"é","after":{"a":[1,2],"b":1},"at":"2026-11-01T07:00:00.000000Z",'
        '"before":null,"entity":"e","entity_id":"1","id":1,"prev_hash":null}').encode()
    with pytest.raises(ValueError, match="naive"):
        utc_text(datetime(2026, 11, 1))


def test_a_record_slipped_in_between_is_named() -> None:
    """A forged #3 linked to #2, and the real #3 moved up to #4 (still linked to #2): the
    forged record was inserted out of order, and is named."""
    rows = _chain(3)
    forged = _rehash(rows[2], after={"n": "forged"})
    moved = _rehash(rows[2], id=4)  # its prev_hash still points at #2
    finding = _first(rows[:2] + [forged, moved])
    assert finding is not None and finding.kind == "inserted" and finding.record_id == 3


def test_a_record_that_claims_to_start_the_chain_is_named() -> None:
    rows = _chain(3)
    finding = _first(rows + [_rehash(rows[0], id=4)])
    assert finding is not None and finding.kind == "inserted" and finding.record_id == 4


def test_each_break_is_named_once() -> None:
    rows = _chain(6)
    rows[2] = Row(**(vars(rows[2]) | {"actor": "m"}))
    walk = ChainWalk()
    findings = [f for f in map(walk.feed, rows) if f is not None]
    assert [(f.kind, f.record_id) for f in findings] == [("changed", 3)]


@pytest.mark.parametrize("entity_id", ["²", "٣", "１２"])
def test_an_entry_record_whose_id_is_not_0_to_9_is_not_read_as_an_entry(entity_id: str) -> None:
    """Only 0-9 are digits (issue 27.6): '²' passed isdigit() and int() raised, so one such
    row (written outside the service) stopped the whole trail check; '٣' was entry 3."""
    ledger = EntryLedger()
    ledger.feed(Row(id=1, at=AT, actor="a", action="entry.log", entity="entry",
                    entity_id=entity_id, before=None, after={"created_at": "x"}))
    assert ledger.missing() == [] and ledger.records == {}
