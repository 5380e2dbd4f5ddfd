"""CLI renderings a billing office reads: totals with dollars, closed state, unmatched calls."""

from decimal import Decimal

from rpm_logger.render import totals_text
from service.views import MonthTotals


def _totals(**changes: object) -> MonthTotals:
    values: dict = dict(month="2026-11", patients=3, billable=1, units={"99457": 1},
                        expected_amount=Decimal("52.00"), at_risk=2,
                        at_risk_amount=Decimal("78.00"), closed_by=None)
    return MonthTotals(**(values | changes))


def test_totals_text() -> None:
    text = totals_text(_totals())
    assert "2026-11 (open)" in text and "3 patients enrolled, 1 with billable codes" in text
    assert "$52.00" in text and "2 patients, $78.00 still to win" in text
    assert "Unmatched calls" not in text
    closed = totals_text(_totals(closed_by="billing office", unmatched_calls=1))
    assert "2026-11 (closed by billing office)" in closed
    assert "1 call with no patient: attach them" in closed
