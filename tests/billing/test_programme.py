"""Who is in a month's programme (issue 11)."""

from datetime import date

import pytest

from billing.months import Month
from billing.programme import Window, in_programme

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
