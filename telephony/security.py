"""Every Twilio route checks X-Twilio-Signature before anything is parsed or stored.

The signed URL is rebuilt from PUBLIC_BASE_URL + path + query (behind a proxy or TLS
terminator the app never sees the URL Twilio used), and the signature covers every form
parameter received, including ones Twilio adds later. A request for another account is
refused too.
"""

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlparse

from fastapi import HTTPException, Request
from starlette.datastructures import FormData, UploadFile
from twilio.request_validator import RequestValidator, remove_port

from configuration.settings import Settings

FORM_TYPE = "application/x-www-form-urlencoded"


def public_url(base: str, request: Request) -> str:
    url = base.rstrip("/") + request.url.path
    return f"{url}?{request.url.query}" if request.url.query else url


def signed_form(settings: Settings) -> Callable[[Request], Awaitable[FormData]]:
    """A FastAPI dependency returning the verified form, or 403 with nothing recorded."""
    assert settings.twilio_auth_token is not None and settings.public_base_url
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    base = settings.public_base_url
    account = settings.twilio_account_sid

    async def verify(request: Request) -> FormData:
        signature = request.headers.get("X-Twilio-Signature", "")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        # Twilio posts url-encoded forms only; a multipart body (file parts) is refused
        # unparsed: the validator cannot sign a file, it raised and answered 500
        if not signature or content_type != FORM_TYPE:
            raise HTTPException(status_code=403, detail="invalid Twilio signature")
        form = read_form(await request.body())
        if not valid(validator, public_url(base, request), form, signature):
            raise HTTPException(status_code=403, detail="invalid Twilio signature")
        if form.get("AccountSid") != account:
            raise HTTPException(status_code=403, detail="not this clinic's Twilio account")
        return form

    return verify


def read_form(body: bytes) -> FormData:
    """An url-encoded body as Starlette's `request.form()` reads it (names and values
    percent-decoded as UTF-8, other bytes as Latin-1, blank values kept), without its
    streaming multipart parser: a Twilio form is a few hundred bytes, whole in `body`."""
    pairs: list[tuple[str, str | UploadFile]] = list(
        parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    return FormData(pairs)


def valid(validator: RequestValidator, url: str, form: FormData, signature: str) -> bool:
    """`validator.validate`, computing one signature rather than two for what Twilio signs:
    the URL without a port (PUBLIC_BASE_URL has none), HMAC-SHA1. Anything else, a port in
    the signed URL or a wrong signature, goes to the validator itself, unchanged."""
    expected = validator.compute_signature(remove_port(urlparse(url)), form)
    if hmac.compare_digest(expected.encode(), signature.encode("latin-1", "replace")):
        return True
    return bool(validator.validate(url, form, signature))
