"""Voice PINs and everything that guards them, as the voice menu calls them (one attempt per
write transaction), on SQLite and PostgreSQL: a member's five wrong PINs in an hour lock
them (only them) for an hour; the clinic-wide hourly limit refuses every check; an unlock or
a new PIN lifts a lock and restarts the count; the digits are never stored or audited."""

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from service import Service
from service.errors import BadInput, NotFound, StoreConflict
from service.patients import PatientFields
from service.staff import StaffChanges
from service.voice_access import (
    LOCK_FOR,
    LockNotice,
    PauseNotice,
    PinLimits,
    PinReservation,
    PinVerdict,
    compare_pin,
    reserve_pin_check,
    settle_pin_check,
)
from store.tables import audit_events, staff, voice_pin_attempts
from tests.conftest import FrozenClock
from tests.fakes.ids import unique_sid
from tests.service.helpers import ADMIN, CLERK, DOCTOR, NURSE, seed
from tests.voice.helpers import NURSE_PHONE, OTHER_PIN, PIN, attempt, caller, staff_pk


@pytest.fixture
def clinic(svc: Service) -> Service:
    seed(svc)
    return svc


def _audit(svc: Service, action: str | None = None) -> list[Any]:
    query = select(audit_events).order_by(audit_events.c.id)
    if action is not None:
        query = query.where(audit_events.c.action == action)
    with svc.ctx.db.read() as conn:
        return list(conn.execute(query))


def _wrong_rows(svc: Service) -> int:
    with svc.ctx.db.read() as conn:
        return len(list(conn.execute(select(voice_pin_attempts.c.id))))


def _lock_nurse(svc: Service) -> PinVerdict:
    pk = staff_pk(svc, NURSE)
    verdicts = [attempt(svc, pk, "1111") for _ in range(5)]
    assert [v.locked_now for v in verdicts] == [False] * 4 + [True]
    return verdicts[-1]


def test_a_staff_members_own_phone_is_a_voice_caller(clinic: Service) -> None:
    found = caller(clinic)
    assert found is not None
    assert (found.slack_user_id, found.has_pin, found.locked_until) == (NURSE, False, None)
    assert found.staff_id == staff_pk(clinic, NURSE)
    clinic.voice_access.set_pin(NURSE, PIN, actor="test")
    assert caller(clinic) == found.__class__(found.staff_id, NURSE, True, None)


@pytest.mark.parametrize("number", [
    "+16175550199",  # a clinic Twilio number assigned to the nurse: not a caller id of hers
    "+16175550123",  # the patient's
    "+16175550777",  # nobody's
])
def test_other_numbers_are_not_voice_callers(clinic: Service, number: str) -> None:
    clinic.staff.update(NURSE, StaffChanges(add_twilio_numbers=("+16175550199",)),
                        actor="test")
    assert caller(clinic, number) is None


def test_an_inactive_member_is_no_voice_caller_and_their_pin_is_refused(
        clinic: Service) -> None:
    clinic.voice_access.set_pin(NURSE, PIN, actor="test")
    pk = staff_pk(clinic, NURSE)
    clinic.patients.update("P-1042", PatientFields(assign=""), actor="test")
    clinic.staff.update(NURSE, StaffChanges(active=False), actor="test")
    assert caller(clinic, NURSE_PHONE) is None
    assert attempt(clinic, pk, PIN).reason == "no_pin"


def test_the_right_pin_passes_and_a_wrong_one_is_counted_on_its_call(clinic: Service) -> None:
    clinic.voice_access.set_pin(NURSE, PIN, actor="test")
    pk = staff_pk(clinic, NURSE)
    sid = unique_sid("CA")
    first = attempt(clinic, pk, "0000", sid)
    assert first == PinVerdict(False, "wrong", 1, False, None)
    assert attempt(clinic, pk, "0001", sid).wrong_this_call == 2
    assert attempt(clinic, pk, "0002").wrong_this_call == 1  # another call counts apart
    assert attempt(clinic, pk, PIN, sid) == PinVerdict(True, "ok", 2, False, None)
    assert _wrong_rows(clinic) == 3
    wrong = _audit(clinic, "staff.voice_wrong_pin")
    assert [(r.entity_id, r.after["call_sid"]) for r in wrong][:2] == [(NURSE, sid)] * 2


def test_no_pin_is_refused_without_counting(clinic: Service) -> None:
    pk = staff_pk(clinic, NURSE)
    assert attempt(clinic, pk, "1234") == PinVerdict(False, "no_pin", 0, False, None)
    assert attempt(clinic, 10**6, "1234").reason == "no_pin"  # no such member: never raises
    assert _wrong_rows(clinic) == 0


@pytest.mark.parametrize("digits", ["", "123", "123456789", "1" * 40, "12a4", "43 21",
                                    "\uff14\uff13\uff12\uff11", "4321#", "\x00\x00\x00\x00"])
def test_a_malformed_pin_is_refused_uncounted_and_never_raises(clinic: Service,
                                                               digits: str) -> None:
    clinic.voice_access.set_pin(NURSE, PIN, actor="test")
    verdict = attempt(clinic, staff_pk(clinic, NURSE), digits)
    assert verdict == PinVerdict(False, "malformed", 0, False, None)
    assert _wrong_rows(clinic) == 0


def test_five_wrong_pins_in_an_hour_lock_only_that_member_for_an_hour(
        clinic: Service, clock: FrozenClock) -> None:
    for member in (NURSE, ADMIN):
        clinic.voice_access.set_pin(member, PIN, actor="test")
    pk = staff_pk(clinic, NURSE)
    sids = [unique_sid("CA"), unique_sid("CA")]  # two calls: three wrong end one call
    verdicts = []
    for n in range(5):
        verdicts.append(attempt(clinic, pk, "9999", sids[n // 3]))
        clock.advance(minutes=10)
    until = verdicts[-1].locked_until
    assert [v.locked_now for v in verdicts] == [False, False, False, False, True]
    assert [v.wrong_this_call for v in verdicts] == [1, 2, 3, 1, 2]
    assert until is not None and until == clock.now - timedelta(minutes=10) + LOCK_FOR
    # the right PIN is refused while locked, uncounted; another member is untouched
    locked = attempt(clinic, pk, PIN)
    assert locked == PinVerdict(False, "locked", 0, False, until)
    found = caller(clinic)
    assert found is not None and found.locked_until == until
    assert attempt(clinic, staff_pk(clinic, ADMIN), PIN).ok
    assert _wrong_rows(clinic) == 5
    [lock] = _audit(clinic, "staff.voice_lock")
    assert (lock.actor, lock.entity_id, lock.after["voice_locked_until"]) == (
        "twilio:voice", NURSE, until.isoformat())
    assert clinic.staff.get(NURSE).voice_locked_until == until
    assert clinic.staff.get(ADMIN).voice_locked_until is None


def test_the_lock_expires_after_an_hour_and_its_wrong_pins_no_longer_count(
        clinic: Service, clock: FrozenClock) -> None:
    clinic.voice_access.set_pin(NURSE, PIN, actor="test")
    until = _lock_nurse(clinic).locked_until
    assert until is not None
    clock.now = until - timedelta(seconds=1)
    assert attempt(clinic, staff_pk(clinic, NURSE), PIN).reason == "locked"
    clock.now = until
    assert clinic.staff.get(NURSE).voice_locked_until is None
    assert attempt(clinic, staff_pk(clinic, NURSE), PIN).ok
    again = attempt(clinic, staff_pk(clinic, NURSE), "1111")
    assert (again.reason, again.locked_now) == ("wrong", False)


def test_wrong_pins_more_than_an_hour_apart_never_lock(clinic: Service,
                                                       clock: FrozenClock) -> None:
    clinic.voice_access.set_pin(NURSE, PIN, actor="test")
    pk = staff_pk(clinic, NURSE)
    for _ in range(4):
        assert not attempt(clinic, pk, "1111").locked_now
    clock.advance(hours=1)
    assert not attempt(clinic, pk, "1111").locked_now
    assert attempt(clinic, pk, PIN).ok


def test_the_clinic_wide_limit_refuses_every_pin_until_the_hour_passes(
        clinic: Service, clock: FrozenClock) -> None:
    members = (NURSE, DOCTOR, CLERK, ADMIN)
    for member in members:
        clinic.voice_access.set_pin(member, PIN, actor="test")
    for member in members[:3]:  # guessing across forged numbers: 2 wrong each, no lock
        for _ in range(2):
            attempt(clinic, staff_pk(clinic, member), "1111", limit=6)
    clock.advance(minutes=30)
    admin = staff_pk(clinic, ADMIN)
    assert attempt(clinic, admin, PIN, limit=6) == PinVerdict(False, "clinic_limit", 0, False,
                                                              None)
    assert attempt(clinic, admin, "1111", limit=6).reason == "clinic_limit"
    assert attempt(clinic, admin, PIN, limit=7).ok  # the setting decides
    assert _wrong_rows(clinic) == 6  # refused checks are not guesses: not counted
    assert all(clinic.staff.get(m).voice_locked_until is None for m in members)
    clock.advance(minutes=30, seconds=1)
    assert attempt(clinic, admin, PIN, limit=6).ok


def test_an_unlock_lifts_the_lock_and_restarts_the_count(clinic: Service,
                                                         clock: FrozenClock) -> None:
    clinic.voice_access.set_pin(NURSE, PIN, actor="test")
    _lock_nurse(clinic)
    clock.advance(minutes=1)
    view = clinic.voice_access.unlock(NURSE, actor="cli:ops")
    assert (view.voice_locked_until, view.has_voice_pin) == (None, True)
    pk = staff_pk(clinic, NURSE)
    assert not attempt(clinic, pk, "1111").locked_now  # the five before no longer count
    assert attempt(clinic, pk, PIN).ok
    [unlock] = _audit(clinic, "staff.voice_unlock")
    assert unlock.actor == "cli:ops"
    assert unlock.before["voice_locked_until"] is not None
    assert unlock.after == {"voice_pin": "set", "voice_locked_until": None}


def test_a_new_pin_lifts_the_lock_and_the_old_pin_stops_working(
        clinic: Service, clock: FrozenClock) -> None:
    clinic.voice_access.set_pin(NURSE, PIN, actor="test")
    _lock_nurse(clinic)
    clock.advance(minutes=1)
    clinic.voice_access.set_pin(NURSE, OTHER_PIN, actor="test")
    pk = staff_pk(clinic, NURSE)
    assert attempt(clinic, pk, OTHER_PIN).ok
    old = attempt(clinic, pk, PIN)
    assert (old.reason, old.locked_now) == ("wrong", False)


def test_an_empty_pin_removes_it(clinic: Service) -> None:
    clinic.voice_access.set_pin(NURSE, PIN, actor="test")
    view = clinic.voice_access.set_pin(NURSE, "", actor="test")
    assert not view.has_voice_pin
    assert attempt(clinic, staff_pk(clinic, NURSE), PIN).reason == "no_pin"
    removed = _audit(clinic, "staff.voice_pin")[-1]
    assert (removed.before["voice_pin"], removed.after["voice_pin"]) == ("set", "removed")


@pytest.mark.parametrize("digits", ["123", "123456789", "12a4", "\uff14\uff13\uff12\uff11",
                                    " 4321", "-"])
def test_a_bad_pin_is_refused_and_nothing_changes(clinic: Service, digits: str) -> None:
    clinic.voice_access.set_pin(NURSE, PIN, actor="test")
    before = _audit(clinic)
    with pytest.raises(BadInput, match="4 to 8 digits") as refused:
        clinic.voice_access.set_pin(NURSE, digits, actor="test")
    assert digits == "-" or digits.strip() not in str(refused.value)
    assert _audit(clinic) == before
    assert attempt(clinic, staff_pk(clinic, NURSE), PIN).ok


def test_an_unknown_member_is_refused(clinic: Service) -> None:
    with pytest.raises(NotFound):
        clinic.voice_access.set_pin("U09NOBODY", PIN, actor="test")
    with pytest.raises(NotFound):
        clinic.voice_access.unlock("U09NOBODY", actor="test")


def test_the_digits_are_never_stored_audited_or_logged(
        clinic: Service, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clinic.voice_access.set_pin(NURSE, PIN, actor="test")
    pk = staff_pk(clinic, NURSE)
    for digits in (PIN[::-1], PIN[:4], PIN, "11111", "11112", "11113", "11114"):
        attempt(clinic, pk, digits)
    clinic.voice_access.unlock(NURSE, actor="test")
    clinic.voice_access.set_pin(NURSE, OTHER_PIN, actor="test")
    with clinic.ctx.db.read() as conn:
        stored = [tuple(r) for r in conn.execute(select(staff))]
        attempts = [tuple(r) for r in conn.execute(select(voice_pin_attempts))]
    audit_text = json.dumps([[str(v) for v in r] for r in _audit(clinic)])
    for secret in (PIN, PIN[::-1], OTHER_PIN, "11111"):
        assert secret not in str(stored) + str(attempts)
        assert secret not in audit_text
        assert secret not in caplog.text
    assert "scrypt$" not in audit_text  # not even the hash
    actions = [r.action for r in _audit(clinic) if r.action.startswith("staff.voice")]
    assert actions == (["staff.voice_pin"] + ["staff.voice_wrong_pin"] * 5
                       + ["staff.voice_lock", "staff.voice_unlock", "staff.voice_pin"])


# -- issue 27: each attempt reserved under the lock, compared outside it, then settled -----


DEFAULTS = PinLimits(per_number=5, clinic=20)  # the settings' defaults


def _reserve(svc: Service, pk: int, call_sid: str, digits: str = "1111",
             limits: PinLimits = DEFAULTS) -> PinReservation | PinVerdict:
    with svc.ctx.db.write() as conn:
        return reserve_pin_check(conn, staff_id=pk, digits=digits, call_sid=call_sid,
                                 now=svc.ctx.now(), limits=limits)


def _settle(svc: Service, reservation: PinReservation | PinVerdict, digits: str,
            limits: PinLimits = DEFAULTS) -> PinVerdict:
    assert isinstance(reservation, PinReservation), reservation
    matched = compare_pin(reservation, digits)
    with svc.ctx.db.write() as conn:
        return settle_pin_check(conn, reservation, matched=matched, now=svc.ctx.now(),
                                limits=limits)


def test_attempts_being_compared_count_against_the_limits_until_settled(
        clinic: Service) -> None:
    """Five calls for the nurse reserved at once (none compared yet): a sixth is refused
    uncompared; the one that was the right PIN frees its place, the four wrong ones lock
    nobody (four), and the next wrong one is the fifth: the lock, once."""
    clinic.voice_access.set_pin(NURSE, PIN, actor="test")
    pk = staff_pk(clinic, NURSE)
    held = [_reserve(clinic, pk, unique_sid("CA")) for _ in range(5)]
    assert all(isinstance(r, PinReservation) for r in held)
    assert _reserve(clinic, pk, unique_sid("CA")) == PinVerdict(False, "member_limit", 0,
                                                                False, None)
    assert _settle(clinic, held[0], PIN).ok
    verdicts = [_settle(clinic, r, "1111") for r in held[1:]]
    assert [v.reason for v in verdicts] == ["wrong"] * 4 and not any(v.notices for v in verdicts)
    assert clinic.staff.get(NURSE).voice_locked_until is None
    fifth = _settle(clinic, _reserve(clinic, pk, unique_sid("CA")), "1111")
    assert fifth.locked_now and fifth.notices == (LockNotice(NURSE, fifth.locked_until, (ADMIN,)),)
    assert _wrong_rows(clinic) == 5
    assert [r.entity_id for r in _audit(clinic, "staff.voice_lock")] == [NURSE]


def test_the_clinic_wide_limit_counts_attempts_being_compared(clinic: Service) -> None:
    limits = PinLimits(per_number=5, clinic=3)
    for member in (NURSE, DOCTOR):
        clinic.voice_access.set_pin(member, PIN, actor="test")
    nurse, doctor = staff_pk(clinic, NURSE), staff_pk(clinic, DOCTOR)
    held = [_reserve(clinic, nurse, unique_sid("CA"), limits=limits) for _ in range(3)]
    assert _reserve(clinic, doctor, unique_sid("CA"), limits=limits).reason == "clinic_limit"
    assert _wrong_rows(clinic) == 3  # the reservations (none compared yet)
    assert _settle(clinic, held[0], PIN, limits).ok  # the right PIN: not a wrong one
    assert isinstance(_reserve(clinic, doctor, unique_sid("CA"), limits=limits),
                      PinReservation)


def test_a_retried_turn_gets_its_calls_reservation_and_a_second_settle_is_a_conflict(
        clinic: Service) -> None:
    clinic.voice_access.set_pin(NURSE, PIN, actor="test")
    pk, sid = staff_pk(clinic, NURSE), unique_sid("CA")
    first = _reserve(clinic, pk, sid)
    twin = _reserve(clinic, pk, sid)
    assert isinstance(first, PinReservation) and twin == first
    assert _wrong_rows(clinic) == 1
    assert _settle(clinic, first, "1111").wrong_this_call == 1
    with pytest.raises(StoreConflict):
        _settle(clinic, twin, "1111")
    assert _wrong_rows(clinic) == 1 and len(_audit(clinic, "staff.voice_wrong_pin")) == 1


def test_an_attempt_never_settled_counts_as_wrong_for_an_hour(clinic: Service,
                                                              clock: FrozenClock) -> None:
    """The process stopped between the reservation and its settle: the attempt stays
    counted (fail closed), an hour like any wrong PIN, and is never audited as one."""
    clinic.voice_access.set_pin(NURSE, PIN, actor="test")
    pk = staff_pk(clinic, NURSE)
    for _ in range(5):
        assert isinstance(_reserve(clinic, pk, unique_sid("CA")), PinReservation)
    assert attempt(clinic, pk, PIN).reason == "member_limit"
    clock.advance(hours=1)
    assert attempt(clinic, pk, PIN).ok
    assert _audit(clinic, "staff.voice_wrong_pin") == []


def test_the_clinic_wide_pause_starts_once_with_its_record_and_notice(
        clinic: Service, clock: FrozenClock) -> None:
    members = (NURSE, DOCTOR)
    for member in members:
        clinic.voice_access.set_pin(member, PIN, actor="test")
    verdicts = []
    for n in range(4):
        verdicts.append(attempt(clinic, staff_pk(clinic, members[n % 2]), "1111", limit=4))
        clock.advance(minutes=5)
    assert [v.notices for v in verdicts[:3]] == [(), (), ()]
    first_wrong = clock.now - timedelta(minutes=20)
    assert verdicts[3].notices == (PauseNotice(first_wrong + LOCK_FOR, 4, (ADMIN,)),)
    [pause] = _audit(clinic, "voice.pause")
    assert (pause.actor, pause.entity, pause.entity_id) == ("twilio:voice", "voice_menu",
                                                            "clinic")
    assert pause.after == {"wrong_pins_counted": 4,
                           "paused_until": (first_wrong + LOCK_FOR).isoformat()}
    assert attempt(clinic, staff_pk(clinic, NURSE), PIN, limit=4).reason == "clinic_limit"
    assert len(_audit(clinic, "voice.pause")) == 1  # refusals start nothing
