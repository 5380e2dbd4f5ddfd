"""The real app (in this process over ASGI, or on a loopback uvicorn server for tests marked
`real_server`: tests/loopback.py) and Twilio-signed form POSTs to it.

PUBLIC_BASE_URL is a public-looking URL that differs from the address the requests really
go to, so every passing test proves the signed URL is rebuilt from the setting.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from service.calls import CallEvent
from service.staff import StaffChanges
from tests.fakes.ids import unique_sid
from tests.fakes.slack_api import SlackApiRecorder
from tests.loopback import connected
from tests.service.helpers import NURSE, seed
from tests.snapshots import seeded

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f00dfeedcafe0123456789abcdef0123"
PUBLIC_BASE_URL = "https://rpm.clinic.example"
CLINIC_NUMBER = "+16175550100"  # the clinic's main Twilio number (voice URL: /incoming)
NURSE_TWILIO_NUMBER = "+16175550199"  # a Twilio number assigned to the nurse
NURSE_PHONE = "+16175550101"
PATIENT_PHONE = "+16175550123"
CAREGIVER_PHONE = "+16175550124"
STRANGER_PHONE = "+16175550777"
FALLBACK_NUMBER = "+16175550111"

def new_sid(prefix: str = "CA") -> str:
    """A fresh CallSid (or MessageSid with "SM"), never one the Twilio recorder made."""
    return unique_sid(prefix)


def sign(url: str, form: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature exactly as Twilio computes it (HMAC-SHA1 of URL + sorted pairs)."""
    return RequestValidator(token).compute_signature(url, form)


def twilio_time(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def status_form(*, sid: str, status: str, from_: str, to: str, direction: str,
                sequence: int, at: datetime, duration: int | None = None,
                answered_by: str | None = None, parent: str | None = None) -> dict[str, str]:
    """A status callback as Twilio posts it (the fields a real callback carries)."""
    form = {
        "AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": sid,
        "CallStatus": status, "Called": to, "CalledCity": "BOSTON", "CalledCountry": "US",
        "CalledState": "MA", "CalledZip": "02108", "Caller": from_, "CallerCity": "BOSTON",
        "CallerCountry": "US", "CallerState": "MA", "CallerZip": "02108",
        "CallbackSource": "call-progress-events", "Direction": direction, "From": from_,
        "FromCity": "BOSTON", "FromCountry": "US", "FromState": "MA", "FromZip": "02108",
        "SequenceNumber": str(sequence), "Timestamp": twilio_time(at), "To": to,
        "ToCity": "BOSTON", "ToCountry": "US", "ToState": "MA", "ToZip": "02108",
    }
    if status in ("completed", "busy", "no-answer", "failed", "canceled"):
        seconds = duration or 0
        form["CallDuration"] = str(seconds)
        form["Duration"] = str(-(-seconds // 60))  # minutes, rounded up, as Twilio sends
        form["SipResponseCode"] = {"completed": "200", "busy": "486", "no-answer": "487",
                                   "failed": "500", "canceled": "487"}[status]
    if answered_by is not None:
        form["AnsweredBy"] = answered_by
    if parent is not None:
        form["ParentCallSid"] = parent
    return form


@dataclass
class TwilioApp:
    """The running app, its service and a client that signs like Twilio."""

    base_url: str  # the address requests really go to (in-process, or uvicorn's)
    service: Service
    settings: Settings
    http: httpx.Client
    slack: SlackApiRecorder | None = None
    sent: list[httpx.Response] = field(default_factory=list)

    def post(self, path: str, form: dict[str, str], *, signature: str | None = "auto",
             signed_url: str | None = None) -> httpx.Response:
        headers = {}
        if signature == "auto":
            signature = sign(signed_url or PUBLIC_BASE_URL + path, form)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        response = self.http.post(self.base_url + path, data=form, headers=headers)
        self.sent.append(response)
        return response

    def status(self, **kwargs: Any) -> httpx.Response:
        return self.post("/twilio/voice/status", status_form(**kwargs))


def twilio_settings(slack: SlackApiRecorder | None = None, **extra: Any) -> Settings:
    values: dict[str, Any] = dict(
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=SecretStr(AUTH_TOKEN),
        public_base_url=PUBLIC_BASE_URL, clinic_fallback_number=FALLBACK_NUMBER,
    )
    if slack is not None:
        # reminders have their own tests; here only the call DMs may reach the recorder
        values.update(slack_bot_token=SecretStr("xoxb-test"), slack_api_url=slack.base_url,
                      reminders_enabled=False)
    values.update(extra)
    return Settings(**values)


def seed_clinic(svc: Service) -> None:
    """The telephony clinic, built through the service once per test process and copied after that
    (tests/snapshots.py)."""
    return seeded(svc, "the telephony clinic", _seed_clinic)


def _seed_clinic(svc: Service) -> None:
    """The shared seed plus the nurse's Twilio number and client identity."""
    seed(svc)
    svc.staff.update(NURSE, StaffChanges(add_twilio_numbers=(NURSE_TWILIO_NUMBER,),
                                         twilio_client="nina"), actor="test")


def _serve(request: pytest.FixtureRequest, svc: Service,
           slack: SlackApiRecorder | None) -> Iterator[TwilioApp]:
    seed_clinic(svc)
    settings = twilio_settings(slack)
    with connected(create_app(settings, service=svc), request) as (base_url, http):
        yield TwilioApp(base_url, svc, settings, http, slack)


@pytest.fixture
def twilio_app(request: pytest.FixtureRequest, svc: Service) -> Iterator[TwilioApp]:
    """The app with Twilio configured and Slack not (no DMs are attempted)."""
    yield from _serve(request, svc, None)


@pytest.fixture
def slack_twilio_app(request: pytest.FixtureRequest, svc: Service,
                     slack_api: SlackApiRecorder) -> Iterator[TwilioApp]:
    """The app with Slack DMs going to the recording Slack API."""
    yield from _serve(request, svc, slack_api)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 10) -> Any:
    """Background work (Slack DMs after the response) finishes on its own schedule."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


CALL_END = datetime(2026, 11, 20, 19, 30, tzinfo=UTC)  # 14:30 in the clinic (New York)


def record_outbound(svc: Service, *, answered_by: str | None = None, to: str = PATIENT_PHONE,
                    seconds: int = 200) -> str:
    """A completed call the nurse placed from her Twilio number; its short id."""
    sid = new_sid()
    svc.calls.record_status(CallEvent(
        call_sid=sid, status="completed", direction="outbound-api",
        from_number=NURSE_TWILIO_NUMBER, to_number=to, duration_seconds=seconds,
        answered_by=answered_by, sequence_number=4, timestamp=CALL_END))
    view = svc.calls.by_sid(sid)
    assert view is not None
    return view.call_id
