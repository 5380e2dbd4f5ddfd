"""Issue 27 item 1: sixty calls keying a PIN at the same moment, as real signed Twilio
requests to the app on a loopback server, on SQLite and PostgreSQL.

Each wrong-PIN count (the member's, the calling number's, the clinic's) is read and checked
under one lock and the attempt reserved there, so the slow hash comparison runs outside the
lock and never more often than the limits allow. The comparisons are counted by wrapping the
real `pin_matches`; the lock records, the DMs and the wrong-PIN audit records must agree."""

import threading
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from service import voice_access as voice_access_module
from service.staff import StaffChanges
from store.tables import audit_events
from tests.fakes.slack_api import SlackApiRecorder
from tests.loopback import connected
from tests.service.helpers import ADMIN, CLERK, DOCTOR, NURSE
from tests.telephony.conftest import (
    NURSE_PHONE,
    TwilioApp,
    seed_clinic,
    twilio_settings,
    wait_for,
)
from tests.voice.conftest import NURSE_PIN
from tests.voice.phone import Phone

# uvicorn on loopback: the socket is the point; the real hash: the comparison must be slow
pytestmark = [pytest.mark.real_server, pytest.mark.real_pin_cost]

CALLS = 60
WRONG = "11111"
# the callers: the nurse, two more of the seed and three added here, each with their own
# phone (a forger shows one of these numbers); the admin never calls, so every DM to them is
# a notice about someone else
EXTRA = {"U05NED": "+16175550131", "U06ORA": "+16175550132", "U07PAM": "+16175550133"}
PHONES = {NURSE: NURSE_PHONE, DOCTOR: "+16175550134", CLERK: "+16175550135", **EXTRA}


class Comparisons:
    """Counts calls of the real `pin_matches` (the slow hash comparison), from any thread."""

    def __init__(self, real: Callable[[str, str], bool]) -> None:
        self.real = real
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, digits: str, stored: str) -> bool:
        with self._lock:
            self.count += 1
        return self.real(digits, stored)


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> Comparisons:
    spy = Comparisons(voice_access_module.pin_matches)
    monkeypatch.setattr(voice_access_module, "pin_matches", spy)
    return spy


@pytest.fixture
def race_app(request: pytest.FixtureRequest, svc: Service,
             slack_api: SlackApiRecorder) -> Iterator[TwilioApp]:
    """The app on uvicorn with Slack DMs recorded, six callers with phones and PINs."""
    seed_clinic(svc)
    for user, name in zip(EXTRA, ("Ned N", "Ora O", "Pam P"), strict=True):
        svc.staff.add(slack_user_id=user, name=name, role="clinical_staff", actor="test")
    for user, number in PHONES.items():
        if user != NURSE:
            svc.staff.update(user, StaffChanges(add_phones=(number,)), actor="test")
        svc.voice_access.set_pin(user, NURSE_PIN, actor="test")
    # the longest write deadline: sixty turns queue on one writer on SQLite
    settings: Settings = twilio_settings(slack_api, voice_write_deadline_ms=12_000)
    with connected(create_app(settings, service=svc), request) as (base_url, http):
        yield TwilioApp(base_url, svc, settings, http, slack_api)


def _key_at_once(calls: list[Phone], digits: str) -> None:
    """Every call keys `digits` at the same moment, one thread each."""
    start = threading.Barrier(len(calls))
    failures: list[BaseException] = []

    def key(call: Phone) -> None:
        start.wait()
        try:
            call.press(digits)
        except BaseException as exc:  # noqa: BLE001 - reported below, with the others
            failures.append(exc)

    threads = [threading.Thread(target=key, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


def _audit(svc: Service, action: str) -> list[str]:
    """The Slack ids (entity ids) of the audit records of `action`, in order."""
    with svc.ctx.db.read() as conn:
        return list(conn.execute(select(audit_events.c.entity_id)
                                 .where(audit_events.c.action == action)
                                 .order_by(audit_events.c.id)).scalars())


def _dms(app: TwilioApp) -> Counter[tuple[str, str]]:
    """(recipient, kind) of every DM sent: kind 'lock' (to the locked member), 'admin lock'
    or 'pause' (to an admin)."""
    assert app.slack is not None
    sent: Counter[tuple[str, str]] = Counter()
    for call in app.slack.calls_to("chat.postMessage"):
        text, user = call.body["text"], "U" + call.body["channel"][1:]
        kind = "lock" if text.startswith("Your voice access") else \
            "pause" if "paused" in text else "admin lock" if "locked" in text else text
        sent[(user, kind)] += 1
    return sent


def _wait_for_dms(app: TwilioApp, expected: Counter[tuple[str, str]]) -> None:
    """The DMs go out after the replies, in the background: wait until as many as expected
    have arrived (a wrong one arriving fails the equality after)."""
    wait_for(lambda: sum(_dms(app).values()) >= sum(expected.values()), "the DMs")


def test_sixty_calls_for_one_member_compare_five_pins_and_lock_once(
        race_app: TwilioApp, compared: Comparisons) -> None:
    """Sixty forged calls showing the nurse's number key a wrong PIN at once: five are
    compared, the nurse is locked once, told once, and the admin is told once."""
    calls = [Phone(race_app, NURSE_PHONE).dial() for _ in range(CALLS)]
    _key_at_once(calls, WRONG)
    svc = race_app.service
    assert compared.count == 5
    assert _audit(svc, "staff.voice_wrong_pin") == [NURSE] * 5
    assert _audit(svc, "staff.voice_lock") == [NURSE]
    heard = Counter(call.said.split(".")[0] for call in calls)
    assert heard["That PIN is not right"] == 4  # the fifth wrong one says the lock
    assert sum(heard.values()) == CALLS
    expected = Counter({(NURSE, "lock"): 1, (ADMIN, "admin lock"): 1})
    _wait_for_dms(race_app, expected)
    assert _dms(race_app) == expected
    # the lock holds: the right PIN is now refused, uncompared
    late = Phone(race_app, NURSE_PHONE).dial().press(NURSE_PIN)
    assert "locked" in late.said and compared.count == 5


def test_sixty_calls_across_six_members_compare_twenty_pins_then_pause(
        race_app: TwilioApp, compared: Comparisons) -> None:
    """Ten forged calls for each of six members at once: at most five compared per member,
    twenty in all (the clinic-wide limit), one lock record and one DM for each member locked,
    and the admin told of each lock and of the pause, once each."""
    calls = [Phone(race_app, PHONES[user]).dial() for user in PHONES for _ in range(10)]
    _key_at_once(calls, WRONG)
    svc = race_app.service
    assert compared.count == 20
    wrong = Counter(_audit(svc, "staff.voice_wrong_pin"))
    assert sum(wrong.values()) == 20 and max(wrong.values()) <= 5
    locked = sorted(user for user, n in wrong.items() if n == 5)
    assert sorted(_audit(svc, "staff.voice_lock")) == locked
    assert _audit(svc, "voice.pause") == ["clinic"]
    expected = Counter({(ADMIN, "pause"): 1})
    for user in locked:
        expected[(user, "lock")] += 1
        expected[(ADMIN, "admin lock")] += 1
    _wait_for_dms(race_app, expected)
    assert _dms(race_app) == expected
    # paused: the right PIN from a member who is not locked is refused, uncompared
    open_member = next(user for user in PHONES if user not in locked)
    late = Phone(race_app, PHONES[open_member]).dial().press(NURSE_PIN)
    assert late.said.startswith("Voice access is paused") and compared.count == 20
