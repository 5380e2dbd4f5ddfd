"""telephony/security: the form read without Starlette's multipart parser reads the same,
and the one-HMAC fast path accepts and refuses exactly what Twilio's validator does."""

import asyncio

import pytest
from starlette.requests import Request
from twilio.request_validator import RequestValidator

from telephony.security import read_form, valid

BODIES = [b"", b"A=1", b"A=1&B=", b"A=a+b%20c&A=2", b"Caller=%2B16175550100&X=%E2%9C%93",
          b"N=\xe9t\xe9", b"A=1&&B=2", b"A=%ZZ", b"A=1;B=2"]


def _starlette_form(body: bytes) -> list[tuple[str, object]]:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    request = Request({"type": "http", "method": "POST", "headers": [
        (b"content-type", b"application/x-www-form-urlencoded")]}, receive)

    async def read() -> list[tuple[str, object]]:
        return list((await request.form()).multi_items())

    return asyncio.run(read())


@pytest.mark.parametrize("body", BODIES)
def test_the_form_reads_as_starlette_reads_it(body: bytes) -> None:
    assert list(read_form(body).multi_items()) == _starlette_form(body)


URL = "https://rpm.example/twilio/voice/status"
TOKEN = "secret-token"


@pytest.mark.parametrize("signed_url", [URL, "https://rpm.example:443/twilio/voice/status"])
def test_a_signature_twilio_computes_is_valid(signed_url: str) -> None:
    validator = RequestValidator(TOKEN)
    form = read_form(b"AccountSid=AC1&CallSid=CA2&CallStatus=completed")
    signature = validator.compute_signature(signed_url, form)
    assert valid(validator, URL, form, signature)
    assert validator.validate(URL, form, signature)


@pytest.mark.parametrize("signature", ["", "x", "é" * 28, "AAAA" * 7])
def test_a_wrong_signature_is_refused_as_the_validator_refuses_it(signature: str) -> None:
    validator = RequestValidator(TOKEN)
    form = read_form(b"AccountSid=AC1&CallSid=CA2")
    assert not valid(validator, URL, form, signature)
    assert not validator.validate(URL, form, signature)
