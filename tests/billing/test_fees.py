from decimal import Decimal

from billing.codes import CodeUnits
from billing.fees import DEFAULT_FEES, amount_still_to_win, expected_amount


def test_expected_amount_by_units() -> None:
    codes = (CodeUnits("99457", 1), CodeUnits("99458", 2))
    assert expected_amount(codes, DEFAULT_FEES) == Decimal("134.00")
    assert expected_amount((), DEFAULT_FEES) == Decimal("0.00")
    assert expected_amount((CodeUnits("99470", 1),), {"99457": Decimal(50)}) == Decimal("0.00")


def test_amount_still_to_win() -> None:
    assert amount_still_to_win((), DEFAULT_FEES) == Decimal("52.00")
    assert amount_still_to_win((CodeUnits("99470", 1),), DEFAULT_FEES) == Decimal("26.00")
    assert amount_still_to_win((CodeUnits("99457", 1),), DEFAULT_FEES) == Decimal("0.00")
