"""The archive's values: each column kind written as JSON and read back as the same value,
whichever database wrote it (SQLite hands back instants without a zone: they are UTC), and a
value of the wrong shape refused as damage, never guessed."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Integer, LargeBinary, Numeric, String

from store.portable import UnreadableValue, decode, encode, kind_of
from store.types import UTCDateTime


@pytest.mark.parametrize(("column_type", "kind"), [
    (Integer(), "integer"), (String(20), "text"), (Boolean(), "boolean"),
    (UTCDateTime(), "datetime"), (DateTime(timezone=True), "datetime"), (Date(), "date"),
    (JSON(), "json"), (Numeric(10, 2), "decimal"), (Float(), "float"),
    (LargeBinary(), "bytes")])
def test_each_column_type_has_its_kind(column_type: object, kind: str) -> None:
    assert kind_of(column_type) == kind


@pytest.mark.parametrize(("kind", "value", "written"), [
    ("integer", 2**31 - 1, 2**31 - 1),
    ("text", 'Bläser "q"\n日本語', 'Bläser "q"\n日本語'),
    ("boolean", False, False),
    ("datetime", datetime(2026, 11, 20, 20, 0, 0, 1, tzinfo=UTC),
     "2026-11-20T20:00:00.000001+00:00"),
    ("date", date(2026, 2, 28), "2026-02-28"),
    ("json", {"a": [1, 2.5, None, True], "é": {"b": "✓"}},
     {"a": [1, 2.5, None, True], "é": {"b": "✓"}}),
    ("decimal", Decimal("52.10"), "52.10"),
    ("float", 0.1, 0.1),
    ("bytes", b"\x00\xffrpm", "AP9ycG0="),
    ("text", None, None),
])
def test_a_value_round_trips_exactly(kind: str, value: object, written: object) -> None:
    assert encode(kind, value) == written
    back = decode(kind, written)
    assert back == value and type(back) is type(value)


def test_instants_are_written_in_utc_whatever_zone_or_none_they_came_with() -> None:
    eastern = timezone(timedelta(hours=-5))
    assert encode("datetime", datetime(2026, 11, 20, 15, tzinfo=eastern)) == \
        "2026-11-20T20:00:00.000000+00:00"
    assert encode("datetime", datetime(2026, 11, 20, 20)) == \
        "2026-11-20T20:00:00.000000+00:00"  # SQLite's, stored as UTC
    assert decode("datetime", "2026-11-20T15:00:00-05:00") == \
        datetime(2026, 11, 20, 20, tzinfo=UTC)


@pytest.mark.parametrize(("kind", "written"), [
    ("integer", "12"), ("integer", True), ("integer", 1.5), ("text", 12),
    ("boolean", 1), ("datetime", "2026-11-20T20:00:00"), ("datetime", "yesterday"),
    ("date", "2026-02-30"), ("decimal", 1.5), ("decimal", "NaNx"), ("bytes", "***"),
    ("float", "0.1"), ("json", float("nan")), ("mystery", 1)])
def test_a_value_of_the_wrong_shape_is_unreadable(kind: str, written: object) -> None:
    with pytest.raises(UnreadableValue):
        decode(kind, written)
