"""What follows when a closed month now supports other codes than were billed at close.

A claim went out with the codes the month supported when it was closed. If the month now
supports fewer units (a void, a rule change), the clinic was paid for something it can no
longer prove: a refund is owed. If it supports more, a corrected claim may bill the
difference. Where a code was swapped (99457 down to 99470) both happen at once: the
corrected claim replaces the codes and the difference in fees is owed back.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from billing.codes import CodeUnits, codes_in_words, format_codes
from billing.fees import expected_amount


@dataclass(frozen=True)
class ClaimChange:
    """Billed at close vs supported now, and the follow-up the billing office owes."""

    removed: tuple[CodeUnits, ...]  # units billed that the month no longer supports
    added: tuple[CodeUnits, ...]  # units the month now supports that were not billed
    amount_delta: Decimal  # now minus billed, in the fee schedule's dollars

    @property
    def changed(self) -> bool:
        return bool(self.removed or self.added)

    @property
    def follow_up(self) -> str:
        """A corrected claim, a refund owed, or both, with codes as billing offices write
        them ('99458x2'); '' when nothing changed."""
        return self.follow_up_with(format_codes)

    @property
    def follow_up_in_words(self) -> str:
        """The same follow-up with codes as people read them in chat ('99458 ×2')."""
        return self.follow_up_with(codes_in_words)

    def follow_up_with(self, codes: Callable[[tuple[CodeUnits, ...]], str]) -> str:
        if not self.changed:
            return ""
        owed = -self.amount_delta
        if self.removed and not self.added:
            return f"refund owed for {codes(self.removed)} (${owed:.2f})"
        if self.added and not self.removed:
            return (f"corrected claim adding {codes(self.added)} "
                    f"(+${self.amount_delta:.2f})")
        swap = (f"corrected claim replacing {codes(self.removed)} with "
                f"{codes(self.added)}")
        if owed > 0:
            return f"{swap}; refund owed ${owed:.2f}"
        return f"{swap} (+${self.amount_delta:.2f})"


def _units(codes: Iterable[CodeUnits]) -> Counter[str]:
    counted: Counter[str] = Counter()
    for code in codes:
        counted[code.code] += code.units
    return counted


def _as_codes(units: Counter[str]) -> tuple[CodeUnits, ...]:
    return tuple(CodeUnits(code, n) for code, n in sorted(units.items()) if n > 0)


def same_units(billed: Iterable[CodeUnits], supported: Iterable[CodeUnits]) -> bool:
    """Whether two lists of codes hold the same units of each code (order aside)."""
    return _units(billed) == _units(supported)


def compare_claim(billed: Iterable[CodeUnits], supported: Iterable[CodeUnits],
                  fees: Mapping[str, Decimal]) -> ClaimChange:
    """Unit by unit, what the month lost and gained since the codes were billed."""
    billed, supported = tuple(billed), tuple(supported)
    was, now = _units(billed), _units(supported)
    return ClaimChange(removed=_as_codes(was - now), added=_as_codes(now - was),
                       amount_delta=expected_amount(supported, fees)
                       - expected_amount(billed, fees))
