"""The Twilio REST side: reconciliation (list recent calls, store what webhooks missed) and
click-to-call (ring the staff phone, then bridge the patient with answering-machine
detection). Both go through the real `twilio` client; TWILIO_API_URL points it elsewhere
(tests: a recording server on loopback).
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from requests import RequestException
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from billing.digits import digits_value, is_digits
from billing.durations import parse_duration
from configuration.settings import Settings
from observability.metrics import Metrics
from service import Service
from service.calls import CallEvent, CallOutcome
from service.errors import BadInput
from telephony import twiml
from telephony.routes import STATUS_PATH
from telephony.twiml import STATUS_EVENTS

TWILIO_API = "https://api.twilio.com"
# The twilio library logs every REST request at INFO: URL (call URLs can carry phone
# numbers), query and headers. Its clients log to this logger instead of
# "twilio.http_client", kept at WARNING whatever LOG_LEVEL is: request dumps never reach a
# log, failures still do.
REST_LOG = logging.getLogger("rpm_logger.telephony.twilio_rest")
REST_LOG.setLevel(logging.WARNING)
MAX_RECONCILE_SECONDS = 31 * 24 * 3600


class TwilioUnavailable(RuntimeError):
    """The Twilio API refused or could not be reached; nothing was stored from it."""


class TwilioBadAnswer(TwilioUnavailable):
    """Twilio answered, but without what we need (a call's `sid`): nothing was stored, and
    the reply says so instead of blaming the database the record never reached."""


class RebasedHttpClient(TwilioHttpClient):
    """Sends api.twilio.com requests to another base URL (a proxy, or a test recorder)."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)


def make_rest_client(settings: Settings) -> Client:
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise BadInput("Twilio is not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.")
    http = RebasedHttpClient(settings.twilio_api_url, timeout=15, logger=REST_LOG) \
        if settings.twilio_api_url else TwilioHttpClient(timeout=15, logger=REST_LOG)
    return Client(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(),
                  http_client=http)


def parse_since(text: str) -> timedelta:
    """`24h`, `2d`, `90m`: how far back reconciliation looks (the duration parser's forms)."""
    raw = (text or "").strip().lower()
    if raw.endswith("d") and is_digits(raw[:-1]):  # '²d' raised in int()
        raw = f"{int(raw[:-1]) * 24}h"
    return timedelta(seconds=parse_duration(raw, max_seconds=MAX_RECONCILE_SECONDS))


def _event(call: Any) -> CallEvent:
    duration = call.duration
    return CallEvent(
        call_sid=call.sid, status=(call.status or "").lower(), account_sid=call.account_sid,
        direction=call.direction, from_number=call._from, to_number=call.to,
        parent_call_sid=call.parent_call_sid,
        duration_seconds=digits_value(str(duration)) if duration else None,
        answered_by=(call.answered_by or None), timestamp=call.end_time or call.start_time,
        source="reconcile",
    )


def recent_calls(client: Client, since: datetime) -> list[CallEvent]:
    """Every call that started at or after `since`, as the API lists them (all pages)."""
    events = [_event(c) for c in client.calls.stream(start_time_after=since, page_size=200)
              if c.start_time is None or c.start_time >= since]
    if any(not e.call_sid for e in events):
        raise TwilioBadAnswer("Twilio API listed a call without a call id (sid)")
    return events


def reconcile(service: Service, settings: Settings, since: timedelta,
              client: Client | None = None) -> list[CallOutcome]:
    """Store any recent call the webhooks missed, through the same path, exactly once."""
    client = client or make_rest_client(settings)
    try:
        events = recent_calls(client, service.ctx.now() - since)
    except (TwilioException, RequestException) as exc:
        raise TwilioUnavailable(f"Twilio API: {exc}") from exc
    return service.calls.reconcile(events)


def click_to_call(service: Service, settings: Settings, patient_ref: str, *, by: str,
                  client: Client | None = None) -> CallOutcome:
    """Ring the staff member's phone; when answered, bridge the patient (AMD + callbacks)."""
    missing = settings.click_to_call_missing()
    if missing:
        raise BadInput(f"Click-to-call is not set up for this clinic: {', '.join(missing)} "
                       f"{'is' if len(missing) == 1 else 'are'} not set. Ask an admin, or "
                       "log the call with `/rpm log`.")
    plan = service.calls.prepare_click_to_call(patient_ref, by=by)
    status_url = settings.public_base_url.rstrip("/") + STATUS_PATH
    client = client or make_rest_client(settings)
    try:
        call = client.calls.create(
            to=plan.staff_phone, from_=settings.twilio_caller_id,
            twiml=twiml.click_to_call(patient_phone=plan.patient_phone,
                                      caller_id=settings.twilio_caller_id,
                                      status_url=status_url),
            status_callback=status_url, status_callback_method="POST",
            status_callback_event=STATUS_EVENTS.split(),
        )
    except (TwilioException, RequestException) as exc:
        raise TwilioUnavailable(f"Twilio API: {exc}") from exc
    if not call.sid:
        raise TwilioBadAnswer("Twilio answered without a call id (sid)")
    return service.calls.record_placed(call.sid, plan, from_number=settings.twilio_caller_id)


class TwilioDialer:
    """Click-to-call as the Slack bot asks for it (bot/dispatch.py's `Dialer`, matched by
    shape; rpm_logger/app.py hands it over): the placed call, or why Twilio did not take it.
    A refusal from the service (no phone on file, unknown patient) raises as it does here."""

    def __init__(self, service: Service, settings: Settings,
                 metrics: Metrics | None = None) -> None:
        self.service, self.settings = service, settings
        self.metrics = metrics or Metrics()  # Twilio's refusals are counted

    def dial(self, patient_ref: str, *, by: str) -> CallOutcome | str:
        try:
            return click_to_call(self.service, self.settings, patient_ref, by=by)
        except TwilioBadAnswer:
            self.metrics.twilio_api_error("create_call")
            return "bad_answer"
        except TwilioUnavailable:
            self.metrics.twilio_api_error("create_call")
            return "unavailable"
