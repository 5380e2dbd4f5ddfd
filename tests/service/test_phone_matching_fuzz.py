"""Property-based fuzzing of phone matching: any text is either one E.164 number or a clear
refusal, every common way of writing a number finds the same patient, and a mask never shows
more than the last four digits."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import Service
from service.errors import BadInput, NotFound
from service.patients import PatientFields
from service.phones import mask_phone, normalize_phone, try_normalize_phone, valid_phone

E164 = re.compile(r"\+[1-9]\d{6,14}")
PHONE_TEXT = st.text(alphabet="0123456789+-() .x#*ext:client", max_size=30) | st.text(
    max_size=30)

# US numbers Twilio could deliver: area code and exchange start 2-9 (NANP)
US_NUMBERS = st.tuples(st.integers(200, 999), st.integers(200, 999), st.integers(0, 9999))


def _ways_to_write(area: int, exchange: int, line: int) -> list[str]:
    digits = f"{area}{exchange}{line:04d}"
    return [f"+1{digits}", f"({area}) {exchange}-{line:04d}", f"{area}.{exchange}.{line:04d}",
            f"1-{area}-{exchange}-{line:04d}", f"+1 {area} {exchange} {line:04d}", digits]


@given(PHONE_TEXT)
def test_any_text_is_one_e164_number_or_a_clear_refusal(text: str) -> None:
    try:
        e164 = normalize_phone(text, region="US")
    except BadInput as refusal:
        message = str(refusal)
        assert "phone number" in message or "Twilio client" in message
        assert try_normalize_phone(text, region="US") is None
        return
    assert E164.fullmatch(e164), (text, e164)
    assert try_normalize_phone(text, region="US") == e164
    assert normalize_phone(e164, region="US") == e164  # stable once normalised


@given(st.text(alphabet="+0123456789", min_size=7, max_size=16))
def test_a_mask_shows_at_most_the_last_four_digits(e164: str) -> None:
    masked = mask_phone(e164)
    assert len(masked) == len(e164)
    assert sum(c.isdigit() for c in masked[2:]) <= 4


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(US_NUMBERS, st.integers(0, 5))
def test_every_way_of_writing_a_number_finds_the_same_patient(
    svc: Service, number: tuple[int, int, int], stored_as: int,
) -> None:
    ways = _ways_to_write(*number)
    try:
        assert valid_phone(ways[0], region="US") == try_normalize_phone(ways[0], region="US")
    except BadInput:
        return  # not a valid number: nothing can be stored under it
    clinic_id = f"P-{number[0]}{number[1]}{number[2]:04d}"
    try:
        svc.patients.get(clinic_id)
    except NotFound:
        svc.patients.add(clinic_id, PatientFields(phones=(ways[stored_as],)), actor="fuzz")
    for way in ways:
        assert svc.patients.get(way).patient_id == clinic_id, way
