"""Expected money per month, from a fee schedule (estimates: payers and localities differ).

What a clinic manager reads first: earned so far, and what the at-risk patients could still
bring in if they reach 20 minutes and a live contact.
"""

from collections.abc import Iterable, Mapping
from decimal import Decimal

from billing.codes import CPT_99457, CPT_99458, CPT_99470, CodeUnits
from billing.devices import CPT_99445, CPT_99453, CPT_99454

# Near the 2026 national averages; sources differ. Set FEE_SCHEDULE for the clinic's payers.
DEFAULT_FEES: dict[str, Decimal] = {
    CPT_99457: Decimal("52.00"),
    CPT_99458: Decimal("41.00"),
    CPT_99470: Decimal("26.00"),
    # device codes (issue 28): 2026 estimates from vendors' summaries of the final rule
    CPT_99453: Decimal("19.00"),
    CPT_99454: Decimal("47.00"),
    CPT_99445: Decimal("47.00"),
}
CENT = Decimal("0.01")


def expected_amount(codes: Iterable[CodeUnits], fees: Mapping[str, Decimal]) -> Decimal:
    """Sum of units x fee; a code missing from the schedule counts as 0."""
    total = sum((fees.get(c.code, Decimal(0)) * c.units for c in codes), Decimal(0))
    return total.quantize(CENT)


def amount_still_to_win(codes: Iterable[CodeUnits], fees: Mapping[str, Decimal]) -> Decimal:
    """What reaching 99457 would add to what the month already earns (never negative)."""
    earned = expected_amount(codes, fees)
    target = fees.get(CPT_99457, Decimal(0))
    return max(target - earned, Decimal(0)).quantize(CENT)
