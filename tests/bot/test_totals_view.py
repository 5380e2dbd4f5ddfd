"""The month totals line admins get with `/rpm report`."""

from decimal import Decimal

from presentation.blocks import totals_text
from service.views import MonthTotals


def _totals(**changes: object) -> MonthTotals:
    values: dict = dict(month="2026-10", patients=3, billable=1, units={"99457": 1},
                        expected_amount=Decimal("52.00"), at_risk=0,
                        at_risk_amount=Decimal("0.00"), closed_by=None)
    return MonthTotals(**(values | changes))


def test_closer_is_mentioned_only_when_a_slack_user() -> None:
    assert "closed by <@U04ADMIN>" in totals_text(_totals(closed_by="U04ADMIN"))
    assert "closed by cli:root" in totals_text(_totals(closed_by="cli:root"))
    assert "open (not closed)" in totals_text(_totals())


def test_unmatched_calls_are_called_out() -> None:
    assert "2 unmatched calls to attach" in totals_text(_totals(unmatched_calls=2))
    assert "unmatched" not in totals_text(_totals())
