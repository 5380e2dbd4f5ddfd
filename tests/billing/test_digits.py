"""The one digits rule (issue 27.6): only 0-9 are digits; any other script's digit is refused
with one reason, never read (Python's isdigit(), int() and `\\d` read them)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.digits import ONLY_ASCII_DIGITS, digits_value, has_other_digits, is_digits
from billing.durations import looks_like_duration, parse_duration
from billing.errors import InvalidInput
from billing.months import Month

# Arabic-Indic, full-width, Devanagari, superscript, fraction, Roman numeral, Bengali
OTHER_DIGITS = ("٣", "１２", "२", "²", "½", "Ⅻ", "৩")


@pytest.mark.parametrize("text", ["0", "7", "0042", "2147483648"])
def test_ascii_digits_are_digits(text: str) -> None:
    assert is_digits(text) and digits_value(text) == int(text)
    assert not has_other_digits(text)


@pytest.mark.parametrize("text", [*OTHER_DIGITS, "1²", "", " 1", "1\n", "+1", "-1", "1_000",
                                  "1.5", "１"])
def test_anything_else_is_not(text: str) -> None:
    assert not is_digits(text) and digits_value(text) is None


@pytest.mark.parametrize("text", [*OTHER_DIGITS, "1²", "twelve ٣", "P-１０４２"])
def test_other_digits_are_seen_wherever_they_are(text: str) -> None:
    assert has_other_digits(text)


@given(st.text())
def test_is_digits_never_passes_what_int_cannot_read_as_typed(text: str) -> None:
    """What passes is exactly what int() reads to the same digits: no '²' that int() raises
    on, no '٣' it reads as 3."""
    if is_digits(text):
        assert str(int(text)).zfill(len(text)) == text


@pytest.mark.parametrize("text", ["１２m", "٣m", "1²m", "１:05", "1h ٥m"])
def test_a_duration_in_other_digits_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(InvalidInput, match=ONLY_ASCII_DIGITS):
        parse_duration(text, max_seconds=None)
    assert not looks_like_duration(text)


@pytest.mark.parametrize("text", ["２０２６-１１", "٢٠٢٦-١١", "2026-١١"])
def test_a_month_in_other_digits_is_refused_with_the_reason(text: str) -> None:
    """'２０２６-１１' was read as 2026-11 (`\\d` and int())."""
    with pytest.raises(InvalidInput, match=ONLY_ASCII_DIGITS):
        Month.parse(text)
