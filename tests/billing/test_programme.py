"""Who is in a month's programme, and which months a window change touches (issue 11)."""

from datetime import date

import pytest

from billing.months import Month
from billing.programme import (
    Window,
    changed_days,
    in_programme,
    months_touched,
)

OCT = Month(2026, 10)


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.mark.parametrize(
    ("enrolled", "ended", "entries", "created", "expected"),
    [
        ("2026-10-01", None, 0, "2026-10-01", True),
        ("2026-10-31", None, 0, "2026-10-01", True),  # the last day is enough
        ("2026-11-01", None, 5, "2026-01-01", False),
        ("2026-01-01", "2026-10-01", 0, "2026-01-01", True),
        ("2026-01-01", "2026-09-30", 5, "2026-01-01", False),  # ended: entries change nothing
        ("2026-10-15", "2026-10-15", 0, "2026-01-01", True),
        # no enrolment date: from the month the patient was added (issue 13 #3) ...
        (None, None, 0, "2026-10-31", True),  # added, nothing logged: in (not forgotten)
        (None, None, 0, "2026-03-01", True),  # added months ago, not ended
        (None, None, 0, "2026-11-01", False),  # added after the month
        (None, None, 1, "2026-11-01", True),  # ... or of a back-dated entry
        (None, "2026-09-30", 3, "2026-01-01", False),
        (None, "2026-10-02", 0, "2026-01-01", True),
    ],
)
def test_in_programme(enrolled: str | None, ended: str | None, entries: int, created: str,
                      expected: bool) -> None:
    window = Window(d(enrolled) if enrolled else None, d(ended) if ended else None)
    assert in_programme(OCT, window, entries_in_window=entries,
                        created_on=d(created)) is expected


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
