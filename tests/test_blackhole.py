"""PostgreSQL behind a black hole (issue 27, item 3): packets dropped, no reset.

The attack made the database path drop packets: /healthz did not answer in 70 s, a patient's
call to the clinic (/twilio/voice/incoming) hung past Twilio's 15 s, so the call failed
instead of ringing the clinic's fallback number, and status callbacks hung. Here the app's
DATABASE_URL goes through tests/blackhole.py's proxy, switched to a black hole mid-run; the
requests are real signed Twilio requests to the app on a loopback uvicorn server, with the
deadlines shortened through settings.
"""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from rpm_logger.app import create_app
from rpm_logger.wiring import open_database
from service import Service, ServiceContext
from store.db import Database
from tests.blackhole import BlackHoleProxy
from tests.conftest import FrozenClock
from tests.loopback import served
from tests.telephony.conftest import (
    ACCOUNT_SID,
    FALLBACK_NUMBER,
    NURSE_PHONE,
    NURSE_TWILIO_NUMBER,
    PATIENT_PHONE,
    PUBLIC_BASE_URL,
    new_sid,
    seed_clinic,
    sign,
    status_form,
    twilio_settings,
)

pytestmark = [pytest.mark.postgres, pytest.mark.real_server]

DEADLINE_MS = 1000  # TWILIO_WEBHOOK_DEADLINE_MS here (default 5000)
SLACK = 0.6  # what a request may take past its deadline on a loaded test machine (s)


@dataclass
class Outage:
    proxy: BlackHoleProxy
    db: Database
    service: Service
    base: str
    http: httpx.Client

    def post(self, path: str, form: dict[str, str]) -> tuple[httpx.Response, float]:
        """A signed Twilio request; its answer and how long it took (s)."""
        signature = sign(PUBLIC_BASE_URL + path, form)
        return _timed(lambda: self.http.post(self.base + path, data=form,
                                             headers={"X-Twilio-Signature": signature}))

    def healthz(self) -> tuple[httpx.Response, float]:
        return _timed(lambda: self.http.get(self.base + "/healthz"))


def _timed(send: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def _through(proxy: BlackHoleProxy, url: str) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(
        hide_password=False)


@pytest.fixture
def outage(postgres_url: str, postgres_emptier: Any) -> Iterator[Outage]:
    postgres_emptier()
    target = make_url(postgres_url).port or 5432
    with BlackHoleProxy(target) as proxy:
        settings = twilio_settings(
            database_url=_through(proxy, postgres_url), twilio_webhook_deadline_ms=DEADLINE_MS,
            database_connect_timeout_s=2, reconcile_enabled=False)
        db = open_database(settings, migrate=False)
        service = Service(ServiceContext(db, clock=FrozenClock()))
        seed_clinic(service)
        try:
            with served(create_app(settings, service=service)) as base, \
                    httpx.Client(timeout=10) as http:
                yield Outage(proxy, db, service, base, http)
                proxy.heal()  # a failed test must not leave uvicorn's threads stuck
        finally:
            proxy.heal()
            db.dispose()


def _incoming(sid: str) -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "CallSid": sid, "CallStatus": "ringing",
            "Direction": "inbound", "From": PATIENT_PHONE, "To": NURSE_TWILIO_NUMBER}


def _screen(child: str) -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "CallSid": child, "ParentCallSid": new_sid(),
            "CallStatus": "in-progress", "Direction": "outbound-dial", "From": PATIENT_PHONE,
            "To": NURSE_PHONE}


def _sms() -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "MessageSid": new_sid("SM"), "From": PATIENT_PHONE,
            "To": NURSE_TWILIO_NUMBER}


def _completed(sid: str) -> dict[str, str]:
    return status_form(sid=sid, status="completed", from_=PATIENT_PHONE,
                       to=NURSE_TWILIO_NUMBER, direction="inbound", sequence=3,
                       at=FrozenClock().now, duration=300)


def test_a_black_hole_gets_answers_within_deadlines_and_the_service_recovers(
        outage: Outage) -> None:
    # before: healthy, and the pool holds connections the black hole will swallow
    assert outage.healthz()[0].status_code == 200
    ringing, _ = outage.post("/twilio/voice/incoming", _incoming(new_sid()))
    assert ringing.status_code == 200 and NURSE_PHONE in ringing.text

    outage.proxy.black_hole()
    status_sid = new_sid()
    with ThreadPoolExecutor(5) as pool:  # the probe and four webhooks at the same time
        asked = [pool.submit(outage.healthz),
                 pool.submit(outage.post, "/twilio/voice/incoming", _incoming(new_sid())),
                 pool.submit(outage.post, "/twilio/voice/status", _completed(status_sid)),
                 pool.submit(outage.post, "/twilio/voice/screen", _screen(new_sid())),
                 pool.submit(outage.post, "/twilio/messaging", _sms())]
        (health, health_s), (incoming, incoming_s), (status, status_s), (screen, screen_s), \
            (sms, sms_s) = [a.result() for a in asked]

    assert (health.status_code, health.json()) == (503, {"database": "unavailable"})
    assert health_s < 2
    # the patient's call rings the clinic's fallback number, within the deadline
    assert incoming.status_code == 200 and incoming_s < DEADLINE_MS / 1000 + SLACK
    assert f">{FALLBACK_NUMBER}</Number>" in incoming.text
    # the status callback is refused (nothing stored) within its bound, for Twilio to retry
    assert status.status_code == 503 and status_s < DEADLINE_MS / 1000 + SLACK
    # the staff member's whisper still plays (the caller unnamed); a text is refused
    assert screen.status_code == 200 and "Call from a patient. Press 1" in screen.text
    assert screen_s < DEADLINE_MS / 1000 + SLACK
    assert sms.status_code == 503 and sms_s < DEADLINE_MS / 1000 + SLACK

    outage.proxy.heal()
    assert outage.healthz()[0].status_code == 200
    again, _ = outage.post("/twilio/voice/status", _completed(status_sid))
    assert again.status_code == 200  # the retry after the outage is stored, once
    view = outage.service.calls.by_sid(status_sid)
    assert view is not None and view.state == "counted"
    assert outage.service.months.summary("P-1042").total_seconds == 300
