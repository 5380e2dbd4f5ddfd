"""Every Twilio route checks X-Twilio-Signature before anything is parsed or stored.

The signed URL is rebuilt from PUBLIC_BASE_URL + path + query (behind a proxy or TLS
terminator the app never sees the URL Twilio used), and the signature covers every form
parameter received, including ones Twilio adds later. A request for another account is
refused too.
"""

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request
from starlette.datastructures import FormData
from twilio.request_validator import RequestValidator

from rpm_logger.settings import Settings

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
        form = await request.form()
        if not validator.validate(public_url(base, request), form, signature):
            raise HTTPException(status_code=403, detail="invalid Twilio signature")
        if form.get("AccountSid") != account:
            raise HTTPException(status_code=403, detail="not this clinic's Twilio account")
        return form

    return verify
