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


def test_held_patients_are_counted_in_the_line() -> None:
    """Outside auditor: the CLI summary said how many were held, Slack's line did not."""
    assert "1 billable · 2 held (no consent or no order on file) · earned so far $52.00" in \
        totals_text(_totals(held=2))
    assert "held" not in totals_text(_totals())


def test_changes_since_close_say_codes_in_words() -> None:
    """Outside auditor: Slack showed 'billed 99457;99458x2', the billing office's CSV form."""
    from billing.claims import compare_claim
    from billing.codes import CodeUnits
    from service.views import CloseDifference

    billed = (CodeUnits("99457", 1), CodeUnits("99458", 2))
    claim = compare_claim(billed, billed[:1], {"99457": Decimal("52"), "99458": Decimal("41")})
    change = CloseDifference("P-1042 (JD)", "99457;99458x2", "99457", "an entry was voided",
                             claim.follow_up, claim.amount_delta, billed_codes=billed,
                             supported_codes=billed[:1],
                             follow_up_in_words=claim.follow_up_in_words)
    text = totals_text(_totals(changed_since_close=(change,)))
    assert "P-1042 (JD): billed 99457 + 99458 ×2 at close, supports 99457 now" in text
    assert ";" not in text.split("Changed since close")[1].split("·")[0]
    # the follow-up too (outside auditor's retry: 'refund owed for 99458x2' in Slack)
    assert "*refund owed for 99458 ×2 ($82.00)*" in text and "99458x2" not in text
