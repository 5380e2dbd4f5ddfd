"""Who is in a month's programme, and which months a window change touches (issue 11)."""

from datetime import date

import pytest

from billing.months import Month
from billing.programme import (
    Window,
    awaiting_first_entry,
    changed_days,
    in_programme,
    months_touched,
)

OCT = Month(2026, 10)


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.mark.parametrize(
    ("enrolled", "ended", "entries", "expected"),
    [
        ("2026-10-01", None, 0, True),
        ("2026-10-31", None, 0, True),  # the last day is enough
        ("2026-11-01", None, 5, False),
        ("2026-01-01", "2026-10-01", 0, True),
        ("2026-01-01", "2026-09-30", 5, False),  # ended before: entries change nothing
        ("2026-10-15", "2026-10-15", 0, True),
        # no enrolment date: the months with entries in the window
        (None, None, 0, False),
        (None, None, 1, True),
        (None, "2026-09-30", 3, False),
        (None, "2026-10-02", 1, True),
    ],
)
def test_in_programme(enrolled: str | None, ended: str | None, entries: int,
                      expected: bool) -> None:
    window = Window(d(enrolled) if enrolled else None, d(ended) if ended else None)
    assert in_programme(OCT, window, entries_in_window=entries) is expected


@pytest.mark.parametrize(
    ("enrolled", "ended", "created", "expected"),
    [
        (None, None, "2026-10-31", True),
        (None, None, "2026-11-01", False),  # created after the month
        (None, "2026-09-30", "2026-01-01", False),
        ("2026-01-01", None, "2026-01-01", False),  # dated: in_programme decides
    ],
)
def test_awaiting_first_entry(enrolled: str | None, ended: str | None, created: str,
                              expected: bool) -> None:
    window = Window(d(enrolled) if enrolled else None, d(ended) if ended else None)
    assert awaiting_first_entry(OCT, window, created_on=d(created)) is expected


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ((None, None), (None, "2026-10-10"), ((d("2026-10-11"), None),)),
        ((None, "2026-10-10"), (None, "2026-10-20"), ((d("2026-10-11"), d("2026-10-20")),)),
        ((None, "2026-10-20"), (None, "2026-10-10"), ((d("2026-10-11"), d("2026-10-20")),)),
        ((None, None), ("2026-10-15", None), ((None, d("2026-10-14")),)),
        (("2026-10-01", None), ("2026-10-15", None), ((d("2026-10-01"), d("2026-10-14")),)),
        (("2026-10-01", None), ("2026-10-01", None), ()),
    ],
)
def test_changed_days(old: tuple[str | None, str | None], new: tuple[str | None, str | None],
                      expected: tuple[tuple[date | None, date | None], ...]) -> None:
    def window(pair: tuple[str | None, str | None]) -> Window:
        return Window(*(d(x) if x else None for x in pair))
    assert changed_days(window(old), window(new)) == expected


@pytest.mark.parametrize(
    ("ranges", "expected"),
    [
        (((d("2026-10-11"), None),), ("2026-10", "2026-11")),
        (((None, d("2026-09-14")),), ("2026-07", "2026-08", "2026-09")),
        (((d("2026-10-11"), d("2026-10-20")),), ("2026-10",)),
        (((d("2026-08-31"), d("2026-09-01")), (d("2026-09-05"), d("2026-09-06"))),
         ("2026-08", "2026-09")),
        ((), ()),
    ],
)
def test_months_touched(ranges: tuple[tuple[date | None, date | None], ...],
                        expected: tuple[str, ...]) -> None:
    months = months_touched(ranges, earliest=Month(2026, 7), latest=Month(2026, 11))
    assert tuple(str(m) for m in months) == expected
