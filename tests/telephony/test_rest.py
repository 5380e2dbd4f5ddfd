"""Reconciliation and click-to-call through the real twilio REST client, on loopback."""

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from sqlmodel import select

from service import Service
from service.calls import CallEvent
from service.errors import BadInput, InvalidInput
from service.staff import StaffChanges
from store.models import Call, TimeEntry
from telephony.rest import (
    TwilioBadAnswer,
    TwilioUnavailable,
    click_to_call,
    parse_since,
    reconcile,
)
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.fakes.twilio_api import TwilioApiRecorder
from tests.service.helpers import ADMIN, NURSE
from tests.telephony.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CLINIC_NUMBER,
    NURSE_PHONE,
    NURSE_TWILIO_NUMBER,
    PATIENT_PHONE,
    PUBLIC_BASE_URL,
    new_sid,
    seed_clinic,
    twilio_settings,
)


@pytest.fixture
def twilio_api() -> Iterator[TwilioApiRecorder]:
    recorder = TwilioApiRecorder(ACCOUNT_SID).start()
    yield recorder
    recorder.stop()


def _listed(sid: str, *, status: str, from_: str, to: str, direction: str, start: datetime,
            seconds: int, answered_by: str | None = None,
            parent: str | None = None) -> dict[str, Any]:
    """A call as the REST API lists it (the fields the client reads)."""
    return {"sid": sid, "account_sid": ACCOUNT_SID, "parent_call_sid": parent,
            "status": status, "direction": direction, "from": from_, "to": to,
            "from_formatted": from_, "to_formatted": to,
            "start_time": format_datetime(start, usegmt=True),
            "end_time": format_datetime(start + timedelta(seconds=seconds), usegmt=True),
            "duration": str(seconds), "answered_by": answered_by, "price": None,
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json"}


def _click_pair(start: datetime) -> tuple[str, str, list[dict[str, Any]]]:
    parent, child = new_sid(), new_sid()
    return parent, child, [
        _listed(parent, status="completed", from_=CLINIC_NUMBER, to=NURSE_PHONE,
                direction="outbound-api", start=start, seconds=280),
        _listed(child, status="completed", from_=CLINIC_NUMBER, to=PATIENT_PHONE,
                direction="outbound-dial", start=start + timedelta(seconds=10), seconds=255,
                answered_by="human", parent=parent),
    ]


def test_reconcile_stores_missed_calls_exactly_once(svc: Service,
                                                    twilio_api: TwilioApiRecorder) -> None:
    seed_clinic(svc)
    start = svc.ctx.now() - timedelta(hours=3)
    parent, child, pair = _click_pair(start)
    busy = new_sid()
    twilio_api.calls = pair + [
        _listed(busy, status="busy", from_=NURSE_TWILIO_NUMBER, to=PATIENT_PHONE,
                direction="outbound-api", start=start, seconds=0),
    ]
    settings = twilio_settings(twilio_api_url=twilio_api.base_url)
    first = reconcile(svc, settings, parse_since("24h"))
    second = reconcile(svc, settings, parse_since("24h"))
    assert sorted((o.call.call_sid, o.call.state) for o in first) == sorted(
        [(parent, "leg"), (child, "counted"), (busy, "attempt")])
    assert not any(o.changed for o in second)
    with svc.ctx.db.read_session() as session:
        [entry] = session.exec(select(TimeEntry)).all()
        assert len(session.exec(select(Call)).all()) == 3
    assert (entry.external_ref, entry.duration_seconds) == (child, 255)
    assert entry.ended_at == start + timedelta(seconds=265)
    lists = [r for r in twilio_api.requests if r.method == "GET"]
    assert len(lists) == 4  # two pages, twice
    assert lists[0].headers["Authorization"].startswith("Basic ")
    assert lists[0].query["StartTime>"] == [(start + timedelta(hours=-21)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")]


def test_reconcile_after_the_webhook_changes_nothing(svc: Service,
                                                     twilio_api: TwilioApiRecorder) -> None:
    seed_clinic(svc)
    start = svc.ctx.now() - timedelta(hours=1)
    sid = new_sid()
    svc.calls.record_status(CallEvent(
        call_sid=sid, status="completed", direction="inbound", from_number=PATIENT_PHONE,
        to_number=NURSE_TWILIO_NUMBER, duration_seconds=100, sequence_number=3,
        timestamp=start + timedelta(seconds=100)))
    twilio_api.calls = [_listed(sid, status="completed", from_=PATIENT_PHONE,
                                to=NURSE_TWILIO_NUMBER, direction="inbound", start=start,
                                seconds=100)]
    [outcome] = reconcile(svc, twilio_settings(twilio_api_url=twilio_api.base_url),
                          parse_since("2h"))
    assert outcome.changed is False and outcome.call.state == "counted"
    assert svc.months.summary("P-1042").total_seconds == 100


def test_reconcile_reports_an_unreachable_api(svc: Service) -> None:
    settings = twilio_settings(twilio_api_url="http://127.0.0.1:9")
    with pytest.raises(TwilioUnavailable):
        reconcile(svc, settings, parse_since("24h"))


def test_reconcile_names_a_listed_call_without_a_sid(svc: Service,
                                                     twilio_api: TwilioApiRecorder) -> None:
    """Issue 13 item 12: say what failed (Twilio's answer), store nothing."""
    seed_clinic(svc)
    listed = _listed(new_sid(), status="completed", from_=PATIENT_PHONE, to=NURSE_TWILIO_NUMBER,
                     direction="inbound", start=svc.ctx.now() - timedelta(hours=1), seconds=90)
    del listed["sid"]
    twilio_api.calls = [listed]
    settings = twilio_settings(twilio_api_url=twilio_api.base_url)
    with pytest.raises(TwilioBadAnswer, match=r"listed a call without a call id \(sid\)"):
        reconcile(svc, settings, parse_since("24h"))
    assert svc.calls.in_states() == []


def test_parse_since() -> None:
    assert parse_since("24h") == timedelta(hours=24)
    assert parse_since("2d") == timedelta(days=2)
    assert parse_since("90m") == timedelta(minutes=90)
    with pytest.raises(InvalidInput, match="not a duration"):
        parse_since("forever")


def test_click_to_call_rings_the_nurse_then_bridges_the_patient_with_amd(
    svc: Service, twilio_api: TwilioApiRecorder,
) -> None:
    seed_clinic(svc)
    # the shared caller id is assigned to someone else: the call is still the nurse's
    svc.staff.update(ADMIN, StaffChanges(add_twilio_numbers=(CLINIC_NUMBER,)), actor="test")
    settings = twilio_settings(twilio_api_url=twilio_api.base_url, twilio_caller_id=CLINIC_NUMBER)
    outcome = click_to_call(svc, settings, "p-1042", by=NURSE)
    [create] = [r for r in twilio_api.requests if r.method == "POST"]
    assert create.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert create.form["To"] == [NURSE_PHONE] and create.form["From"] == [CLINIC_NUMBER]
    assert create.form["StatusCallback"] == [PUBLIC_BASE_URL + "/twilio/voice/status"]
    assert create.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered",
                                                  "completed"]
    number = ET.fromstring(create.form["Twiml"][0]).find("./Dial/Number")
    assert number is not None and number.text == PATIENT_PHONE
    assert number.get("machineDetection") == "Enable"
    assert number.get("statusCallback") == PUBLIC_BASE_URL + "/twilio/voice/status"
    parent = outcome.call.call_sid
    assert outcome.call.state == "in_progress" and outcome.call.staff == NURSE

    # the legs' callbacks then arrive: the staff leg never counts, the patient leg does
    child = new_sid()
    end = svc.ctx.now()
    svc.calls.record_status(CallEvent(
        call_sid=child, parent_call_sid=parent, status="completed", direction="outbound-dial",
        from_number=CLINIC_NUMBER, to_number=PATIENT_PHONE, duration_seconds=190,
        answered_by="human", sequence_number=3, timestamp=end))
    svc.calls.record_status(CallEvent(
        call_sid=parent, status="completed", direction="outbound-api",
        from_number=CLINIC_NUMBER, to_number=NURSE_PHONE, duration_seconds=215,
        sequence_number=3, timestamp=end))
    assert svc.calls.by_sid(parent).state == "leg"  # type: ignore[union-attr]
    counted = svc.calls.by_sid(child)
    assert counted is not None and (counted.state, counted.staff) == ("counted", NURSE)
    summary = svc.months.summary("P-1042")
    assert (summary.total_seconds, summary.live_interactions) == (190, 1)


def test_click_to_call_refuses_a_staff_member_without_a_phone(
    svc: Service, twilio_api: TwilioApiRecorder,
) -> None:
    seed_clinic(svc)
    settings = twilio_settings(twilio_api_url=twilio_api.base_url, twilio_caller_id=CLINIC_NUMBER)
    with pytest.raises(BadInput, match="no phone on record"):
        click_to_call(svc, settings, "P-1042", by="U02DOCTOR")
    assert twilio_api.requests == []


def test_the_cli_reconciles_through_the_console_entry_point(
    svc: Service, db_url: str, twilio_api: TwilioApiRecorder, clock: FrozenClock,
) -> None:
    seed_clinic(svc)
    start = clock.now - timedelta(hours=2)
    _parent, child, pair = _click_pair(start)
    twilio_api.calls = pair
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    env.update(DATABASE_URL=db_url, TWILIO_ACCOUNT_SID=ACCOUNT_SID,
               TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_API_URL=twilio_api.base_url)
    for _ in range(2):
        result = Cli(env, clock=clock)("calls", "reconcile", "--since", "24h")
    assert result.stderr.strip() == "2 calls listed, 0 new, 0 updated"
    assert PATIENT_PHONE not in result.stdout
    with svc.ctx.db.read_session() as session:
        assert [e.external_ref for e in session.exec(select(TimeEntry))] == [child]
    env["TWILIO_API_URL"] = "http://127.0.0.1:9"
    down = Cli(env, clock=clock)("calls", "reconcile", code=1)
    assert "nothing was stored" in down.stderr


def test_the_daily_job_reconciles_once_and_never_raises(
    svc: Service, twilio_api: TwilioApiRecorder
) -> None:
    from telephony.reconcile_job import run_reconcile

    seed_clinic(svc)
    parent, child, pair = _click_pair(svc.ctx.now() - timedelta(hours=5))
    twilio_api.calls = pair
    settings = twilio_settings(twilio_api_url=twilio_api.base_url)
    assert run_reconcile(svc, settings) == 2  # the bridge leg and the counted conversation
    assert run_reconcile(svc, settings) == 0  # a second run (or replica) changes nothing
    assert svc.months.summary("P-1042").live_interactions == 1
    down = twilio_settings(twilio_api_url="http://127.0.0.1:9")
    assert run_reconcile(svc, down) == 0  # logged, not raised: the next run heals it


def test_the_daily_job_is_scheduled_in_the_clinic_zone(svc: Service) -> None:
    from zoneinfo import ZoneInfo

    from telephony.reconcile_job import JOB_ID, START_UP_JOB_ID, ReconcileScheduler

    settings = twilio_settings(reconcile_time="04:15", clinic_timezone="America/Chicago")
    scheduler = ReconcileScheduler(settings, svc).scheduler
    daily = scheduler.get_job(JOB_ID)
    fire = daily.trigger.get_next_fire_time(None, datetime(2026, 11, 20, 12, tzinfo=UTC))
    assert fire == datetime(2026, 11, 21, 4, 15, tzinfo=ZoneInfo("America/Chicago"))
    assert daily.coalesce and daily.max_instances == 1
    assert scheduler.get_job(START_UP_JOB_ID) is not None


def test_serve_runs_the_reconcile_job_only_when_twilio_is_set_up(svc: Service) -> None:
    from fastapi.testclient import TestClient

    from rpm_logger.app import create_app

    for settings, expected in ((twilio_settings(), True),
                               (twilio_settings(reconcile_enabled=False), False)):
        with TestClient(create_app(settings, service=svc)) as client:
            assert (client.app.state.reconcile is not None) is expected
