"""Database errors are logged without the values they were about (store/logsafe.py)."""

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from service import Service
from store import logsafe
from store.db import Database, StoreConflict
from tests.fakes.slack_api import SlackApiRecorder
from tests.service.helpers import seed

PHONE = "+16175550123"  # the seeded patient's number (tests/service/helpers.py)


def _duplicate_phone(db: Database) -> IntegrityError:
    """A real unique violation on patient_phones: PostgreSQL's DETAIL names the number."""
    with pytest.raises(IntegrityError) as caught, db.engine.begin() as connection:
        connection.execute(text("INSERT INTO patient_phones (patient_id, e164, kind) "
                                "VALUES (1, :e164, 'patient')"), {"e164": PHONE})
    return caught.value


def _emitted(caplog: pytest.LogCaptureFixture) -> str:
    handler_format = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    return "\n".join(handler_format.format(r) for r in caplog.records)


def test_a_real_database_error_is_logged_without_its_values(
    svc: Service, caplog: pytest.LogCaptureFixture
) -> None:
    seed(svc)
    error = _duplicate_phone(svc.ctx.db)
    assert "[SQL parameters hidden" in str(error)  # hide_parameters (store/db.py)
    # ... yet PostgreSQL's own message names the number (DETAIL:  Key (e164)=(+1...)):
    assert (PHONE in str(error)) == (svc.ctx.db.dialect == "postgresql")
    logsafe.install()
    logsafe.install()  # idempotent: one factory, not two wrapped
    log = logging.getLogger("rpm_logger.test")
    try:
        raise StoreConflict("that conflicts with a record saved at the same time") from error
    except StoreConflict:
        log.exception("write failed")
    log.error("write failed: %s", error)
    output = _emitted(caplog)
    assert "5550123" not in output and "Key (" not in output
    assert "sqlalchemy.exc.IntegrityError: " + logsafe.WITHHELD in output
    assert "INSERT INTO patient_phones" in output  # the SQL, without values, helps debugging
    assert "The above exception was the direct cause of the following exception" in output
    assert "StoreConflict: that conflicts with a record saved at the same time" in output
    assert 'in _duplicate_phone\n    connection.execute(' in output  # frames are kept
    assert caplog.records[0].exc_info is None  # no handler can format the original


def test_other_errors_are_logged_as_python_prints_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logsafe.install()
    try:
        raise KeyError("P-1042")
    except KeyError:
        logging.getLogger("rpm_logger.test").exception("lookup failed")
    [record] = caplog.records
    assert record.exc_info is not None and "KeyError: 'P-1042'" in _emitted(caplog)


# -- slack-bolt writes request bodies into some of its messages --------------------------------

NOTE_BODY = ("command=%2Frpm&text=log+P-1+10m+call+spoke+with+daughter+Mary+Smith+at+"
             "617-555-0177&user_id=U01NURSE")


@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO, logging.WARNING])
def test_bolts_failed_signature_message_withholds_the_body(
        caplog: pytest.LogCaptureFixture, level: int) -> None:
    """Bolt's own verifier, a rotated secret: it logs `body: ...` at INFO."""
    import asyncio
    import time

    from slack_bolt.middleware.request_verification.async_request_verification import (
        AsyncRequestVerification,
    )
    from slack_bolt.request.async_request import AsyncBoltRequest
    from slack_bolt.response import BoltResponse

    logsafe.install()
    caplog.set_level(level)
    verification = AsyncRequestVerification("the-new-secret")
    request = AsyncBoltRequest(body=NOTE_BODY, headers={
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": str(int(time.time())),
        "x-slack-signature": "v0=" + "a" * 64})

    async def deny() -> BoltResponse:
        raise AssertionError("a bad signature passed")

    response = asyncio.run(verification.async_process(req=request, resp=BoltResponse(status=200),
                                                      next=deny))
    assert response.status == 401
    output = _emitted(caplog)
    assert "Mary" not in output and "0177" not in output and "daughter" not in output
    if level <= logging.INFO:
        assert "Invalid request signature detected" in output  # the event itself is kept


@pytest.mark.parametrize("message", [
    f"Invalid request signature detected (signature: v0=ab, timestamp: 1, body: {NOTE_BODY})",
    f"A global middleware (x) skipped calling either `next()` or `next_()` without providing "
    f"a response for the request ({NOTE_BODY})",
    f"Unhandled request ({{'type': 'view_submission', 'submission': '{NOTE_BODY}'}})",
    f"Unsuccessful Bolt execution result (status: 400, body: {NOTE_BODY})",
    f'Responding with status: 200 body: "{NOTE_BODY}" (3 millis)',
])
def test_every_bolt_message_that_carries_a_body_withholds_it(
        caplog: pytest.LogCaptureFixture, message: str) -> None:
    logsafe.install()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("slack_bolt.AsyncApp").info(message)
    logging.getLogger("rpm_logger.bot").warning(message)
    output = _emitted(caplog)
    assert "Mary" not in output and "0177" not in output
    assert logsafe.BODY_WITHHELD in output


# -- slack_sdk writes request and response bodies (and response_url) at DEBUG -----------------

REPLY = "Saved entry #1: 10 min for P-1 (MS), call spoke with daughter Mary at ***0177"


def test_slack_sdks_debug_messages_withhold_bodies_and_response_urls(
        caplog: pytest.LogCaptureFixture, slack_api: SlackApiRecorder) -> None:
    """Attack finding 4: at DEBUG, slack_sdk logged every reply (`Sending a request - url:
    <response_url>, body: {...}`), every DM and every response body. The real clients, sync
    and async, against a loopback Slack: the event is kept, the body and capability URL not."""
    import asyncio

    from slack_sdk import WebClient
    from slack_sdk.web.async_client import AsyncWebClient
    from slack_sdk.webhook import WebhookClient
    from slack_sdk.webhook.async_client import AsyncWebhookClient

    logsafe.install()
    caplog.set_level(logging.DEBUG)
    response_url = f"{slack_api.root_url}/response/secret-capability-7f3a"
    slack_api.on("chat.postMessage", lambda call: {"ok": True, "echo": REPLY})
    WebClient(token="xoxb-1", base_url=slack_api.base_url).chat_postMessage(
        channel="D1", text=REPLY, blocks=[{"type": "section",
                                           "text": {"type": "mrkdwn", "text": REPLY}}])
    WebhookClient(response_url).send(text=REPLY)

    async def send_async() -> None:
        await AsyncWebClient(token="xoxb-1", base_url=slack_api.base_url).chat_postMessage(
            channel="D1", text=REPLY)
        await AsyncWebhookClient(response_url).send(text=REPLY)

    asyncio.run(send_async())
    assert len(slack_api.calls_to("chat.postMessage")) == 2  # the requests were made
    sdk = [r for r in caplog.records if r.name.startswith("slack_sdk")]
    output = "\n".join(f"{r.name}: {r.getMessage()}" for r in sdk)
    assert "Sending a request" in output and "Received the following response" in output
    for secret in ("Mary", "0177", "P-1 (MS)", "secret-capability-7f3a"):
        assert secret not in output, output
