"""Delivery faults: racing duplicates, a database outage, Slack failing after the commit."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from rpm_logger.app import create_app
from service import Service, ServiceContext
from service.calls import CallEvent
from store.db import Database, StoreUnavailable
from store.models import AuditEvent, Call, TimeEntry
from tests.conftest import FrozenClock
from tests.fakes.slack_api import ScriptedReply, SlackApiRecorder
from tests.loopback import connected, served
from tests.service.helpers import NURSE
from tests.telephony.conftest import (
    ACCOUNT_SID,
    FALLBACK_NUMBER,
    NURSE_TWILIO_NUMBER,
    PATIENT_PHONE,
    PUBLIC_BASE_URL,
    TwilioApp,
    new_sid,
    seed_clinic,
    sign,
    status_form,
    twilio_settings,
    wait_for,
)

END = datetime(2026, 11, 20, 19, 30, tzinfo=UTC)
CONCURRENT = 50


def _completed(sid: str, duration: int = 400, **extra: Any) -> dict[str, str]:
    values: dict[str, Any] = dict(sid=sid, status="completed", from_=PATIENT_PHONE,
                                  to=NURSE_TWILIO_NUMBER, direction="inbound", sequence=3,
                                  at=END, duration=duration)
    values.update(extra)
    return status_form(**values)


@pytest.mark.real_server  # concurrent connections, each its own socket
def test_concurrent_duplicate_deliveries_leave_one_call_and_one_entry(
    twilio_app: TwilioApp,
) -> None:
    sid = new_sid()
    form = _completed(sid)
    headers = {"X-Twilio-Signature": sign(PUBLIC_BASE_URL + "/twilio/voice/status", form)}
    url = twilio_app.base_url + "/twilio/voice/status"
    barrier = threading.Barrier(CONCURRENT)
    statuses: list[int] = []

    def deliver() -> None:
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            statuses.append(http.post(url, data=form, headers=headers).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * CONCURRENT
    with twilio_app.service.ctx.db.read_session() as session:
        assert len(session.exec(select(Call)).all()) == 1
        [entry] = session.exec(select(TimeEntry)).all()
        created = session.exec(select(AuditEvent).where(AuditEvent.action == "entry.log")).all()
    assert entry.external_ref == sid and len(created) == 1
    summary = twilio_app.service.months.summary("P-1042")
    assert (summary.total_seconds, summary.live_interactions) == (400, 1)


class SwitchableDatabase(Database):
    """A database that can be "down": every transaction fails as an unreachable one would."""

    down = False

    @contextmanager
    def write(self, *, wait_s: float | None = None) -> Iterator[Session]:
        if self.down:
            raise StoreUnavailable("database unavailable: connection refused")
        with super().write(wait_s=wait_s) as session:
            yield session

    @contextmanager
    def read(self, *, wait_s: float | None = None) -> Iterator[Session]:
        if self.down:
            raise StoreUnavailable("database unavailable: connection refused")
        with super().read(wait_s=wait_s) as session:
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:  # tests inspect tables with it
        if self.down:
            raise StoreUnavailable("database unavailable: connection refused")
        with super().write_session() as session:
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        if self.down:
            raise StoreUnavailable("database unavailable: connection refused")
        with super().read_session() as session:
            yield session


def test_a_database_outage_answers_503_and_the_retry_is_stored_once(db_url: str) -> None:
    database = SwitchableDatabase(db_url)
    service = Service(ServiceContext(database, clock=FrozenClock()))
    seed_clinic(service)
    sid = new_sid()
    form = _completed(sid, duration=222)
    headers = {"X-Twilio-Signature": sign(PUBLIC_BASE_URL + "/twilio/voice/status", form)}
    with served(create_app(twilio_settings(), service=service)) as base:
        url = base + "/twilio/voice/status"
        database.down = True
        refused = httpx.post(url, data=form, headers=headers)
        sms = httpx.post(base + "/twilio/messaging",
                         data=(m := {"AccountSid": form["AccountSid"], "MessageSid": new_sid("SM"),
                                     "From": PATIENT_PHONE, "To": NURSE_TWILIO_NUMBER}),
                         headers={"X-Twilio-Signature": sign(
                             PUBLIC_BASE_URL + "/twilio/messaging", m)})
        incoming = _incoming_while_down(base)
        database.down = False
        assert refused.status_code == 503 and sms.status_code == 503
        # a patient calling during the outage still rings the clinic
        assert "<Number" in incoming.text and FALLBACK_NUMBER in incoming.text
        assert service.calls.in_states() == []
        for _ in range(2):  # Twilio's retries (#rc=5) after the database is back
            assert httpx.post(url, data=form, headers=headers).status_code == 200
    database.dispose()
    with database.read_session() as session:
        assert len(session.exec(select(Call)).all()) == 1
        assert [e.duration_seconds for e in session.exec(select(TimeEntry))] == [222]


def _incoming_while_down(base_url: str) -> httpx.Response:
    form = {"AccountSid": ACCOUNT_SID, "CallSid": new_sid(), "CallStatus": "ringing",
            "Direction": "inbound", "From": PATIENT_PHONE, "To": NURSE_TWILIO_NUMBER}
    response = httpx.post(base_url + "/twilio/voice/incoming", data=form, headers={
        "X-Twilio-Signature": sign(PUBLIC_BASE_URL + "/twilio/voice/incoming", form)})
    assert response.status_code == 200
    return response


def _dms(slack: SlackApiRecorder) -> list[dict[str, Any]]:
    return [c.body for c in slack.calls_to("chat.postMessage")]


def test_an_unconfirmed_call_asks_the_nurse_once_in_a_dm(slack_twilio_app: TwilioApp) -> None:
    slack = slack_twilio_app.slack
    assert slack is not None
    sid = new_sid()
    form = _completed(sid, duration=180, from_=NURSE_TWILIO_NUMBER, to=PATIENT_PHONE,
                      direction="outbound-api", answered_by="unknown")
    for _ in range(3):  # retried deliveries change nothing, so they DM nothing
        assert slack_twilio_app.post("/twilio/voice/status", form).status_code == 200
    [dm] = wait_for(lambda: _dms(slack), "the DM")
    view = slack_twilio_app.service.calls.by_sid(sid)
    assert view is not None and view.state == "unconfirmed"
    assert dm["channel"] == "D01NURSE"
    assert slack.calls_to("conversations.open")[0].body["users"] == NURSE
    assert dm["text"] == f"Was this a live conversation with P-1042 (JD)? ({view.call_id}, 3 min)"
    actions = dm["blocks"][1]["elements"]
    assert [(a["text"]["text"], a["action_id"], a["value"]) for a in actions] == [
        ("Yes", "call_confirm_live", view.call_id), ("No", "call_reject_live", view.call_id),
        ("Add note", "call_add_note", view.call_id)]
    assert PATIENT_PHONE not in str(dm) and "+1******" not in str(dm)

    # a later counted call proves the retries' background tasks sent nothing more
    slack_twilio_app.post("/twilio/voice/status", _completed(new_sid(), duration=75))
    dms = wait_for(lambda: len(_dms(slack)) >= 2 and _dms(slack), "the second DM")
    assert len(dms) == 2
    assert dms[1]["text"].startswith("Logged your call with P-1042 (JD): 1 min 15 s live")
    assert [a["action_id"] for a in dms[1]["blocks"][1]["elements"]] == ["call_add_note"]


def test_slack_failing_never_turns_a_stored_call_into_an_error(slack_twilio_app: TwilioApp) -> None:
    slack = slack_twilio_app.slack
    assert slack is not None
    slack.script("conversations.open", ScriptedReply(200, {"ok": False,
                                                           "error": "user_not_found"}))
    sid = new_sid()
    assert slack_twilio_app.post("/twilio/voice/status", _completed(sid)).status_code == 200
    wait_for(lambda: slack.calls_to("conversations.open"), "the DM attempt")
    view = slack_twilio_app.service.calls.by_sid(sid)
    assert view is not None and view.state == "counted" and view.staff == NURSE
    assert slack_twilio_app.service.months.summary("P-1042").total_seconds == 400
    # the next call's DM goes out as usual: the failure left nothing behind
    slack_twilio_app.post("/twilio/voice/status", _completed(new_sid(), duration=50))
    [dm] = wait_for(lambda: _dms(slack), "the next DM")
    assert dm["text"].startswith("Logged your call with P-1042 (JD): 50 s live")


@pytest.mark.real_server  # concurrent connections, each its own socket
def test_racing_parent_and_child_deliveries_count_the_conversation_once(
    twilio_app: TwilioApp,
) -> None:
    """A patient calls the nurse's Twilio number, which forwards (<Dial>) to her phone: the
    parent and child callbacks race each other and their own retries."""
    parent, child = new_sid(), new_sid()
    parent_form = _completed(parent, duration=330)
    child_form = _completed(child, duration=300, direction="outbound-dial", parent=parent,
                            to="+16175550101")
    jobs = [("/twilio/voice/status", form) for form in (parent_form, child_form)] * 10
    url = twilio_app.base_url
    barrier = threading.Barrier(len(jobs))
    statuses: list[int] = []

    def deliver(path: str, form: dict[str, str]) -> None:
        headers = {"X-Twilio-Signature": sign(PUBLIC_BASE_URL + path, form)}
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            statuses.append(http.post(url + path, data=form, headers=headers).status_code)

    threads = [threading.Thread(target=deliver, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * len(jobs)
    with twilio_app.service.ctx.db.read_session() as session:
        entries = session.exec(select(TimeEntry)).all()
        states = {c.call_sid: c.state for c in session.exec(select(Call))}
    assert len(entries) == 1
    assert sorted(states.values()) == ["counted", "leg"]
    assert twilio_app.service.months.summary("P-1042").live_interactions == 1


def test_a_dm_slack_accepted_before_its_sender_died_is_found_not_sent_again(
        request: pytest.FixtureRequest, svc: Service, clock: FrozenClock,
        slack_api: SlackApiRecorder) -> None:
    """Issue 25: a sender claimed a counted call's DM, Slack accepted it, and the process died
    before marking it. The next leader's courier takes the claim over after the lease and
    finds the DM by its claim id in the conversation's history (the real slack_sdk client
    over HTTP): marked sent, not posted twice."""
    from service.notices import NoticeOptions

    seed_clinic(svc)
    svc.calls.record_status(CallEvent(
        call_sid=new_sid(), status="completed", direction="outbound-api",
        from_number=NURSE_TWILIO_NUMBER, to_number=PATIENT_PHONE, duration_seconds=200,
        answered_by="human", sequence_number=4, timestamp=END))
    [held] = svc.notices._claim_due("the-dead-leader", NoticeOptions())  # noqa: SLF001
    slack_api.script("conversations.history", ScriptedReply(200, {"ok": True, "messages": [
        {"ts": "1763668000.000100", "text": "an older message"},
        {"ts": "1763668798.000300", "text": "Logged your call",
         "metadata": {"event_type": "rpm_call_dm",
                      "event_payload": {"claim_id": held.claim_id}}}]}))
    clock.advance(minutes=3)  # the dead claim's lease has run out
    with connected(create_app(twilio_settings(slack_api), service=svc), request):
        wait_for(lambda: not svc.notices.unsent(), "the claim confirmed", timeout=15)
    [history] = slack_api.calls_to("conversations.history")
    assert history.body["channel"] == "D01NURSE" and history.body["include_all_metadata"]
    assert slack_api.calls_to("chat.postMessage") == []
