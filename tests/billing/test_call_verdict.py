"""The counting verdict of a call leg, table-tested: no database, no service."""

from dataclasses import dataclass

import pytest

from billing.call_verdict import OPEN_STATES, screening_expected, settled, verdict, way

FLOOR = 30  # the live floor of these tests, seconds


@dataclass(frozen=True)
class L:
    status: str = "completed"
    state: str = "in_progress"
    direction: str | None = "outbound-api"
    answered_by: str | None = "human"
    duration_seconds: int | None = 120
    bridged: bool = False
    screened: str | None = None
    confirmed_by: str | None = None
    patient_id: int | None = 1
    staff_id: int | None = 2
    source: str = "webhook"


INCOMING_PARENT = L(bridged=True, source="incoming", direction="inbound")


def judge(leg: L, *, parent: L | None = None, children: bool = False,
          answered: str | None = None, caller_staff: bool = False) -> tuple[str, str | None]:
    return verdict(leg, parent=parent, children=children, answered_staff_kind=answered,
                   caller_is_staff=caller_staff, min_live_seconds=FLOOR)


CASES = [
    # (name, leg, keyword arguments, expected state, reason contains)
    ("nurse to patient, human", L(), {}, "counted", None),
    ("still ringing", L(status="ringing"), {}, "in_progress", None),
    ("in progress", L(status="in-progress"), {}, "in_progress", None),
    ("voicemail (machine)", L(answered_by="machine_end_beep"), {}, "attempt", "machine"),
    ("fax", L(answered_by="fax"), {}, "attempt", "fax"),
    ("unanswered", L(status="no-answer", duration_seconds=0), {}, "attempt", "no-answer"),
    ("busy", L(status="busy"), {}, "attempt", "busy"),
    ("failed", L(status="failed"), {}, "attempt", "failed"),
    ("canceled", L(status="canceled"), {}, "attempt", "canceled"),
    ("under the live floor", L(duration_seconds=FLOOR - 1), {}, "short", "under the 30 s"),
    ("no duration", L(duration_seconds=None), {}, "short", "0 s"),
    ("bridge parent (bridged)", L(bridged=True), {}, "leg", "bridged"),
    ("bridge parent (has children)", L(), {"children": True}, "leg", "bridged"),
    ("child of a counted parent", L(), {"parent": L(state="counted")}, "leg", "parent leg"),
    ("child of an open parent", L(), {"parent": L(state="leg", bridged=True)}, "counted", None),
    ("no AnsweredBy on our leg to a patient", L(answered_by=None), {}, "unconfirmed",
     "confirms"),
    ("confirmed live by staff", L(answered_by=None, confirmed_by="U1"), {}, "counted", None),
    ("unknown AnsweredBy", L(answered_by="unknown"), {}, "unconfirmed", None),
    ("screening refused", L(direction="outbound-dial", screened="refused"),
     {"answered": "phone"}, "attempt", "screening"),
    ("screening expected, no answer to it", L(direction="outbound-dial"),
     {"answered": "phone", "parent": INCOMING_PARENT}, "attempt", "screening"),
    ("screening accepted", L(direction="outbound-dial", screened="accepted"),
     {"answered": "phone", "parent": INCOMING_PARENT}, "counted", None),
    ("bridge rang a client (no voicemail)", L(direction="outbound-dial"),
     {"answered": "client", "parent": INCOMING_PARENT}, "counted", None),
    # an unknown caller's bridge rings the clinic's fallback number, no staff member's:
    # a person pressing 1 at the whisper answered it (outside clinic month: "unconfirmed")
    ("fallback number, screening accepted",
     L(direction="outbound-dial", screened="accepted", patient_id=None, staff_id=None,
       answered_by=None), {"parent": INCOMING_PARENT}, "unmatched", "no patient"),
    ("fallback number, nobody pressed 1",
     L(direction="outbound-dial", patient_id=None, staff_id=None, answered_by=None),
     {"parent": INCOMING_PARENT}, "attempt", "screening"),
    ("staff phone rung, no screening expected", L(direction="outbound-dial"),
     {"answered": "phone"}, "counted", None),
    ("staff calling in to reach a patient", L(direction="inbound"),
     {"caller_staff": True}, "leg", "outgoing call"),
    ("staff number, no Direction", L(direction=None), {"caller_staff": True}, "leg",
     "Twilio sent no Direction"),
    ("patient called in", L(direction="inbound", answered_by=None), {}, "counted", None),
    ("no patient", L(patient_id=None), {}, "unmatched", "no patient"),
    ("no staff", L(staff_id=None), {}, "unclaimed", "no staff"),
]


@pytest.mark.parametrize(("leg", "kwargs", "state", "why"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_verdict(leg: L, kwargs: dict[str, object], state: str, why: str | None) -> None:
    got_state, reason = judge(leg, **kwargs)  # type: ignore[arg-type]
    assert got_state == state
    if why is None:
        assert reason is None or state != "counted"
    else:
        assert reason is not None and why in reason


@pytest.mark.parametrize("state", ["counted", "attempt", "short", "leg", "not_live",
                                   "refused", "after_close"])
def test_settled_states_never_change(state: str) -> None:
    assert settled(L(state=state))


@pytest.mark.parametrize("state", OPEN_STATES)
def test_open_states_are_decided_again(state: str) -> None:
    assert not settled(L(state=state))


def test_sms_is_never_a_call() -> None:
    # an inbound SMS is a contact, never a leg: no status the verdict would count
    assert judge(L(status="received")) == ("in_progress", None)


def test_screening_expected_only_under_the_incoming_bridge() -> None:
    assert screening_expected(INCOMING_PARENT)
    assert not screening_expected(None)
    assert not screening_expected(L(bridged=True, source="click"))
    assert not screening_expected(L(bridged=False, source="incoming"))


@pytest.mark.parametrize(("first_leg", "caller_is_staff", "expected"), [
    ("inbound", False, "inbound"),  # a patient or stranger called the clinic
    ("inbound", True, "outbound"),  # a nurse's phone or browser client dialled out
    ("outbound-api", False, "outbound"),  # click-to-call, a REST call
    ("outbound-dial", False, "outbound"),
    (None, False, "unknown"),
])
def test_the_way_a_call_went_is_read_off_its_first_leg(
        first_leg: str | None, caller_is_staff: bool, expected: str) -> None:
    assert way(first_leg, caller_is_staff=caller_is_staff) == expected
