"""The one parser of spoken numbers (outside nurse review: 'two hundred forty' was 42)."""

import pytest

from service.spoken_numbers import Unsure, patient_digits, spoken_seconds_of


@pytest.mark.parametrize(("speech", "minutes"), [
    ("twenty five", 25), ("twenty-five minutes", 25), ("one hundred", 100),
    ("two hundred forty", 240), ("two hundred and forty minutes", 240),
    ("a hundred minutes", 100), ("an hour", 60), ("1 hour", 60), ("one hour", 60),
    ("one and a half hours", 90), ("an hour and a half", 90), ("half an hour", 30),
    ("a half hour", 30), ("1 hour 30 minutes", 90), ("an hour and fifteen minutes", 75),
    ("an hour thirty", 90), ("two hours", 120), ("12 minutes", 12), ("12", 12),
    ("twelve", 12), ("nineteen", 19), ("ninety", 90), ("Twelve minutes.", 12),
    ("one hundred nineteen", 119), ("2.5 minutes", 2.5), ("ninety seconds", 1.5),
    ("seven", 7), ("zero", 0),
])
def test_spoken_minutes_are_read_exactly(speech: str, minutes: float) -> None:
    assert spoken_seconds_of(speech) == int(minutes * 60)


@pytest.mark.parametrize(("speech", "why"), [
    ("", "did not hear a number"), ("minutes", "not a number of minutes"),
    ("five six", "more than one number"), ("twenty thirty", "more than one number"),
    ("twelve or thirteen", "not a number of minutes"), ("about twenty", "not a number"),
    ("a few minutes", "not a number of minutes"), ("thirty minutes an hour", "more than one"),
    ("twenty minutes five", "more than one number"), ("an hour seventy", "more than one"),
    ("Jane said twenty", "not a number of minutes"), ("hundred hundred", "more than one"),
])
def test_what_is_not_surely_one_number_is_refused_with_a_reason(speech: str,
                                                                why: str) -> None:
    with pytest.raises(Unsure, match=why) as refused:
        spoken_seconds_of(speech)
    assert "Jane" not in str(refused.value)  # never the transcript's words


@pytest.mark.parametrize(("speech", "digits"), [
    ("one zero four two", "1042"), ("1042", "1042"), ("P 1 0 4 2", "1042"),
    ("patient number one oh four two", "1042"), ("10 42", "1042"), ("P-1042", "1042"),
])
def test_patient_digits_are_said_one_by_one(speech: str, digits: str) -> None:
    assert patient_digits(speech) == digits


@pytest.mark.parametrize(("speech", "why"), [
    ("ten forty two", "a number, not its digits"), ("one hundred", "a number, not its"),
    ("Jane Doe", "not digits"), ("", "did not hear any digits"), ("P", "did not hear any"),
])
def test_patient_digits_that_are_not_sure_are_refused(speech: str, why: str) -> None:
    with pytest.raises(Unsure, match=why):
        patient_digits(speech)


@pytest.mark.parametrize("speech", ["1²", "٣", "１２ minutes", "twelve ٣", "½ hour"])
def test_other_digits_in_a_transcript_are_refused_not_skipped(speech: str) -> None:
    """'1²' was heard as 1 minute and '1 ²' as patient 1: the tokens skipped the '²'."""
    for read in (spoken_seconds_of, patient_digits):
        with pytest.raises(Unsure, match="a number written in a way I cannot read"):
            read(speech)


@pytest.mark.parametrize("speech", ["1,5", "1,5 minutes", "2,25 hours", "10,42", "1,0000"])
def test_a_comma_inside_a_number_that_is_not_thousands_is_refused(speech: str) -> None:
    """'1,5' (one and a half where a comma is the decimal mark) was heard as 15 minutes."""
    for read in (spoken_seconds_of, patient_digits):
        with pytest.raises(Unsure, match="a comma in it"):
            read(speech)


@pytest.mark.parametrize(("speech", "minutes"), [
    ("1,000 seconds", 1000 / 60), ("twenty, five", 25), ("12, review", None)])
def test_thousands_and_commas_between_words_still_read(speech: str,
                                                       minutes: float | None) -> None:
    if minutes is None:
        with pytest.raises(Unsure, match="not a number of minutes"):
            spoken_seconds_of(speech)
    else:
        assert spoken_seconds_of(speech) == int(minutes * 60)
