"""The staff voice menu, walked call by call through the real app (signed Twilio requests on
loopback, following each reply's Gather action and Redirect), on SQLite and PostgreSQL."""

from collections.abc import Callable

import pytest
from sqlmodel import select

from service.patients import PatientFields
from store.models import AuditEvent, Call, TimeEntry, VoiceMenuState
from tests.faults import failing_statements
from tests.service.helpers import DOCTOR, NURSE, log
from tests.telephony.conftest import (
    FALLBACK_NUMBER,
    NURSE_PHONE,
    PATIENT_PHONE,
    PUBLIC_BASE_URL,
    TwilioApp,
    new_sid,
    status_form,
)
from tests.voice.conftest import NURSE_PIN
from tests.voice.phone import Phone

Dial = Callable[..., Phone]


def _entries(app: TwilioApp) -> list[TimeEntry]:
    with app.service.ctx.db.read_session() as session:
        return list(session.exec(select(TimeEntry).order_by(TimeEntry.id)))


def _call(app: TwilioApp, sid: str) -> Call:
    with app.service.ctx.db.read_session() as session:
        return session.exec(select(Call).where(Call.call_sid == sid)).one()


def _at_menu(phone: Dial) -> Phone:
    call = phone().dial()
    assert "enter your voice PIN" in call.said
    gather = call.gather
    assert gather.get("input") == "dtmf" and gather.get("finishOnKey") == "#"
    call.press(NURSE_PIN)
    assert "Main menu" in call.said
    return call


def _to_confirm(call: Phone, patient: str = "1042", minutes: str = "12",
                activity: str = "1") -> Phone:
    call.press("1")
    assert "Enter the patient number" in call.said
    call.press(patient)
    assert "How many minutes" in call.said
    call.press(minutes)
    assert "Which activity" in call.said
    call.press(activity)
    return call


# -- log time ----------------------------------------------------------------------------


def test_a_save_for_a_patient_without_consent_says_so(menu_app: TwilioApp,
                                                      phone: Dial) -> None:
    """Slack warns under the month; the phone must too (outside nurse review)."""
    menu_app.service.patients.add("P-5555", PatientFields(initials="NC"), actor="test")
    call = _to_confirm(_at_menu(phone), patient="5555")
    call.press("1")
    assert call.said.startswith("Saved. P 5 5 5 5, N C: 12 minutes this month")
    assert "There is no consent on file: do not bill until consent is recorded." in call.said
    assert len(_entries(menu_app)) == 1


def test_a_nurse_logs_time_by_keypad_and_hears_the_month(menu_app: TwilioApp,
                                                          phone: Dial) -> None:
    call = _to_confirm(_at_menu(phone))
    assert "Patient P 1 0 4 2, J D, 12 minutes, review, today." in call.said
    assert "Press 1 to save, or 2 to start over." in call.said
    assert _entries(menu_app) == []  # read back is not saved
    call.press("1")
    assert call.said.startswith("Saved. P 1 0 4 2, J D: 12 minutes this month, no live "
                                "contact yet, no code reached yet. Still needed: a live "
                                "interaction, call or video. Main menu.")
    assert "Main menu" in call.said  # back at the menu
    [entry] = _entries(menu_app)
    assert (entry.duration_seconds, entry.activity, entry.source, entry.live) == \
        (720, "review", "voice", False)
    assert entry.external_ref is not None and entry.external_ref.startswith(f"voice:{call.sid}:")
    assert entry.created_by == NURSE and not entry.clock_timed
    with menu_app.service.ctx.db.read_session() as session:
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "entry.log")).all()
    assert [a.entity_id for a in audit] == [str(entry.id)]


def test_speech_works_for_patient_minutes_and_activity(menu_app: TwilioApp,
                                                       phone: Dial) -> None:
    call = _at_menu(phone).press("1")
    gather = call.gather
    assert gather.get("input") == "dtmf speech" and gather.get("hints")
    call.say("one zero four two")
    assert "Patient P 1 0 4 2, J D." in call.said
    call.say("twenty five minutes")
    assert "25 minutes." in call.said
    call.say("Education.")
    assert "Patient P 1 0 4 2, J D, 25 minutes, education, today." in call.said
    call.press("1")
    [entry] = _entries(menu_app)
    assert (entry.duration_seconds, entry.activity) == (1500, "education")


def test_key_2_is_a_live_call_as_in_slack(menu_app: TwilioApp, phone: Dial) -> None:
    call = _to_confirm(_at_menu(phone), minutes="3", activity="2")
    assert "Patient P 1 0 4 2, J D, 3 minutes, live call, today." in call.said
    call.press("1")
    assert "live contact done" in call.said
    [entry] = _entries(menu_app)
    assert entry.live and entry.activity == "call"


def test_two_starts_over_and_saves_nothing(menu_app: TwilioApp, phone: Dial) -> None:
    call = _to_confirm(_at_menu(phone))
    call.press("2")
    assert "Starting over." in call.said and "Enter the patient number" in call.said
    assert _entries(menu_app) == []


def test_ambiguous_digits_offer_each_patient_with_its_initials(menu_app: TwilioApp,
                                                              phone: Dial) -> None:
    svc = menu_app.service
    svc.patients.add("A-10-42", PatientFields(initials="KL"), actor="test")
    svc.patients.add("P-10423", PatientFields(initials="MN"), actor="test")  # more digits
    call = _at_menu(phone).press("1").press("1042")
    assert "2 patients have those digits." in call.said
    assert "Press 1 for A 1 0 4 2, K L." in call.said
    assert "Press 2 for P 1 0 4 2, J D." in call.said
    assert "M N" not in call.said
    call.press("3")
    assert call.said.startswith("Key 3 is not one of the choices. Press 1 for A")
    call.press("2")
    assert "Patient P 1 0 4 2, J D." in call.said
    call.press("5").press("6").press("1")
    [entry] = _entries(menu_app)
    assert entry.activity == "other" and entry.duration_seconds == 300


def test_more_than_nine_matches_send_the_nurse_to_slack(menu_app: TwilioApp,
                                                       phone: Dial) -> None:
    for letter in "ABCDEFGHIJ":
        menu_app.service.patients.add(f"{letter}-77", PatientFields(), actor="test")
    call = _at_menu(phone).press("1").press("77")
    assert "More than nine patients have those digits. Please use Slack" in call.said
    assert "Main menu" in call.said


def test_a_retried_save_gets_the_same_answer_and_saves_once(menu_app: TwilioApp,
                                                           phone: Dial) -> None:
    call = _to_confirm(_at_menu(phone))
    save_path = call.action
    first = call.press("1").text
    again = call.again(save_path, Digits="1", FinishedOnKey="#", msg="Gather End").text
    assert again == first
    assert len(_entries(menu_app)) == 1


def test_hanging_up_before_one_saves_nothing(menu_app: TwilioApp, phone: Dial) -> None:
    call = _to_confirm(_at_menu(phone))
    menu_app.post("/twilio/voice/status", status_form(
        sid=call.sid, status="completed", from_=NURSE_PHONE, to=call.to, direction="inbound",
        sequence=3, at=menu_app.service.ctx.now(), duration=95))
    assert _entries(menu_app) == []


# -- no input, bad input, a person ---------------------------------------------------------


def test_no_input_plays_the_prompt_three_times_then_goodbye(menu_app: TwilioApp,
                                                           phone: Dial) -> None:
    call = _to_confirm(_at_menu(phone))
    prompts = 1
    call.wait()
    prompts += 1
    assert "I did not hear anything." in call.said and "Press 1 to save" in call.said
    call.wait()
    prompts += 1
    assert "Patient P 1 0 4 2" in call.said  # the read back too, each time
    call.wait()
    assert prompts == 3
    assert "I did not hear an answer. The entry was not saved. Goodbye." in call.said
    assert call.hung_up
    assert _entries(menu_app) == []


@pytest.mark.parametrize(("step", "sent", "reason"), [
    ("menu", "7", "Key 7 is not one of the choices."),
    ("menu", "12ab", "Please use the number keys only."),
    ("patient", "4" * 40, "That was 40 digits, too many for a patient number."),
    ("patient", "abc", "Please use the number keys only."),
    ("patient", "555", "No patient number has those digits."),
    ("minutes", "00", "0 minutes cannot be logged. Minutes go from 1 to 240."),
    ("minutes", "999", "999 minutes cannot be logged. Minutes go from 1 to 240."),
    ("activity", "8", "Key 8 is not one of the choices."),
    ("confirm", "5", "Key 5 is not one of the choices. Patient P 1 0 4 2"),
])
def test_bad_input_gets_the_prompt_again_with_the_reason(
    menu_app: TwilioApp, phone: Dial, step: str, sent: str, reason: str,
) -> None:
    call = _at_menu(phone)
    before = {"menu": [], "patient": ["1"], "minutes": ["1", "1042"],
              "activity": ["1", "1042", "12"], "confirm": ["1", "1042", "12", "1"]}[step]
    for keys in before:
        call.press(keys)
    prompt = call.gather.findall("Say")[-1].text
    call.press(sent)
    assert call.response is not None and call.response.status_code == 200
    assert call.said.startswith(reason)
    assert call.gather.findall("Say")[-1].text == prompt  # the same prompt again
    assert _entries(menu_app) == []


def test_zero_reaches_a_person_at_any_menu(menu_app: TwilioApp, phone: Dial) -> None:
    call = phone().dial().press("0")
    assert call.dialed == FALLBACK_NUMBER
    call = _at_menu(phone).press("1").press("0")
    assert call.dialed == FALLBACK_NUMBER
    assert call.said == "Connecting you to the clinic."  # no entry was under way yet


@pytest.mark.parametrize("before", [["1", "1042"], ["1", "1042", "12"],
                                    ["1", "1042", "12", "1"]], ids=["minutes", "activity",
                                                                   "read-back"])
def test_zero_partway_through_an_entry_says_it_was_not_saved(
        menu_app: TwilioApp, phone: Dial, before: list[str]) -> None:
    """0 at the minutes prompt is a person too, not "0 minutes" (outside nurse review), and
    an entry under way is said to be dropped before the call is put through."""
    call = _at_menu(phone)
    for keys in before:
        call.press(keys)
    call.press("0")
    assert call.dialed == FALLBACK_NUMBER
    assert call.said == "That entry was not saved. Connecting you to the clinic."
    assert _entries(menu_app) == []


@pytest.mark.parametrize(("step", "before", "sent"), [
    ("menu", [], "5"), ("choose", ["1", "1042"], "7"), ("activity", ["1", "1042", "12"], "8"),
    ("confirm", ["1", "1042", "12", "1"], "7"),
])
def test_a_wrong_key_is_worded_one_way_at_every_step(
        menu_app: TwilioApp, phone: Dial, step: str, before: list[str], sent: str) -> None:
    if step == "choose":  # a second patient with the digits 1042
        menu_app.service.patients.add("A-10-42", PatientFields(initials="KL"), actor="test")
    call = _at_menu(phone)
    for keys in before:
        call.press(keys)
    call.press(sent)
    assert call.said.startswith(f"Key {sent} is not one of the choices."), (step, call.said)


def test_an_unheard_activity_word_is_worded_as_a_wrong_key(menu_app: TwilioApp,
                                                           phone: Dial) -> None:
    call = _at_menu(phone).press("1").press("1042").press("12").say("banana")
    assert call.said.startswith("That is not one of the choices. Which activity?")


def test_a_spoken_live_call_is_read_back_as_a_live_call(menu_app: TwilioApp,
                                                        phone: Dial) -> None:
    call = _at_menu(phone).press("1").press("1042").press("7").say("live call")
    assert "Patient P 1 0 4 2, J D, 7 minutes, live call, today." in call.said
    call.press("2").press("1042").press("7").say("phone call")
    assert "7 minutes, live call, today." in call.said


def test_the_database_down_says_not_saved_with_200(menu_app: TwilioApp, phone: Dial) -> None:
    call = _to_confirm(_at_menu(phone))
    save_path = call.action
    with failing_statements(menu_app.service.ctx.db):
        call.press("1")
    assert "Nothing was saved. Please try again later." in call.said and call.hung_up
    assert _entries(menu_app) == []
    # the turn was not taken: Twilio's retry of it, once the database is back, saves
    call.again(save_path, Digits="1", FinishedOnKey="#", msg="Gather End")
    assert call.said.startswith("Saved.")
    assert len(_entries(menu_app)) == 1


def test_a_form_outside_twilios_shape_is_refused(menu_app: TwilioApp, phone: Dial) -> None:
    call = _at_menu(phone)
    path = call.action
    form = call._form(Digits="1") | {"digits;X": "1"}
    assert menu_app.post(path, form).status_code == 400
    garbled = call._form(Digits="1\x07", Confidence="high")
    call.again(path, **{k: v for k, v in garbled.items() if k in ("Digits", "Confidence")})
    assert call.said.startswith("Please use the number keys only.")


def test_an_old_or_forged_turn_number_only_repeats_the_last_reply(menu_app: TwilioApp,
                                                                 phone: Dial) -> None:
    call = _at_menu(phone)
    menu_text = call.text
    for bad in ("/twilio/voice/menu?t=99", "/twilio/voice/menu?t=x", "/twilio/voice/menu"):
        call.again(bad, Digits="1")
        assert call.text == menu_text


def test_an_expired_session_says_goodbye(menu_app: TwilioApp, phone: Dial, clock) -> None:
    call = _at_menu(phone)
    clock.advance(minutes=31)
    call.press("1")
    assert "This call has timed out." in call.said and call.hung_up


# -- who is calling --------------------------------------------------------------------------


def test_a_patient_calling_the_same_number_still_reaches_the_nurse(menu_app: TwilioApp,
                                                                  phone: Dial) -> None:
    call = phone(PATIENT_PHONE).dial()
    assert call.dialed == NURSE_PHONE
    assert call.root.find("./Gather") is None
    leg = _call(menu_app, call.sid)
    assert leg.bridged and leg.state == "in_progress"


def test_a_staff_menu_call_is_its_own_kind_and_its_status_never_counts(
    menu_app: TwilioApp, phone: Dial,
) -> None:
    call = _to_confirm(_at_menu(phone))
    call.press("1")
    leg = _call(menu_app, call.sid)
    assert (leg.state, leg.bridged, leg.source, leg.patient_id) == ("menu", False, "menu", None)
    response = menu_app.post("/twilio/voice/status", status_form(
        sid=call.sid, status="completed", from_=NURSE_PHONE, to=call.to, direction="inbound",
        sequence=5, at=menu_app.service.ctx.now(), duration=300))
    assert response.status_code == 200
    leg = _call(menu_app, call.sid)
    assert leg.state == "menu" and leg.entry_id is None
    assert [e.source for e in _entries(menu_app)] == ["voice"]  # only what was keyed
    assert menu_app.service.calls.unmatched() == []


def test_zero_from_the_menu_is_never_a_counted_or_unmatched_leg(menu_app: TwilioApp,
                                                               phone: Dial) -> None:
    call = phone().dial().press("0")
    child = new_sid()
    menu_app.post("/twilio/voice/status", status_form(
        sid=child, status="completed", from_=NURSE_PHONE, to=FALLBACK_NUMBER,
        direction="outbound-dial", sequence=4, at=menu_app.service.ctx.now(), duration=120,
        parent=call.sid))
    assert _call(menu_app, child).state == "leg"
    assert _entries(menu_app) == []


def test_a_staff_member_without_a_pin_hears_how_to_get_one(menu_app: TwilioApp,
                                                          phone: Dial) -> None:
    from service.staff import StaffChanges
    doctor_phone = "+16175550142"
    menu_app.service.staff.update(DOCTOR, StaffChanges(add_phones=(doctor_phone,)),
                                  actor="test")
    call = phone(doctor_phone).dial()
    assert "You have no voice PIN yet." in call.said and call.hung_up
    assert call.root.find("./Gather") is None


# -- hear my at-risk patients ------------------------------------------------------------------


def test_the_at_risk_walk_goes_worst_first_and_logs_for_a_patient(menu_app: TwilioApp,
                                                                   phone: Dial) -> None:
    svc = menu_app.service
    svc.patients.add("P-2001", PatientFields(initials="AB", assign=NURSE), actor="test")
    log(svc, "15m", "call", patient="P-2001")  # closer to 20 minutes, live done
    call = _at_menu(phone).press("2")
    assert "2 of your patients are at risk, worst first." in call.said
    assert "P 1 0 4 2, J D: needs 20 more minutes and a live call" in call.said
    call.press("2")
    assert "P 2 0 0 1, A B: needs 5 more minutes" in call.said
    call.press("2")
    assert "That was the last one." in call.said and "Main menu" in call.said
    call.press("2").press("1")
    assert "Log time for P 1 0 4 2, J D." in call.said and "How many minutes" in call.said
    call.press("20").press("1").press("1")
    assert call.said.startswith("Saved.")
    assert [e.duration_seconds for e in _entries(menu_app)] == [900, 1200]


def test_no_patient_at_risk_says_so(menu_app: TwilioApp, phone: Dial) -> None:
    log(menu_app.service, "21m", "call")
    call = _at_menu(phone).press("2")
    assert "None of your patients is at risk this month." in call.said
    assert "Main menu" in call.said


# -- a note on my last call -------------------------------------------------------------------


def test_a_spoken_note_is_read_back_masked_and_saved_on_the_call(
    menu_app: TwilioApp, phone: Dial, caplog: pytest.LogCaptureFixture,
) -> None:
    from tests.telephony.conftest import record_outbound
    call_id = record_outbound(menu_app.service, answered_by="human", seconds=200)
    call = _at_menu(phone).press("3")
    assert ("Your last counted call today: P 1 0 4 2, J D, at 2:26 PM, 3 minutes 20 "
            "seconds.") in call.said
    assert call.gather.get("input") == "speech"
    note = "Blood pressure up, call her daughter Jane Doe at 617 555 0188, born 3/4/51"
    call.say(note)
    # never read back: a transcript may hold a name, a phone number, a date of birth
    assert call.said.startswith("I heard a note of 14 words. Notes are not read aloud.")
    for word in ("Blood", "Jane", "617", "0188", "3/4/51", "51"):
        assert word not in call.said
    call.press("2")
    assert "Say your note" in call.said
    call.say(note).press("1")
    assert "Note saved." in call.said and "Main menu" in call.said
    assert menu_app.service.calls.get(call_id).note == note
    assert "Blood pressure" not in caplog.text


def test_no_counted_call_today_goes_back_to_the_menu(menu_app: TwilioApp,
                                                     phone: Dial) -> None:
    call = _at_menu(phone).press("3")
    assert "You have no counted call today." in call.said and "Main menu" in call.said


# -- sessions --------------------------------------------------------------------------------


def test_the_session_keeps_no_pin_digits(menu_app: TwilioApp, phone: Dial) -> None:
    call = _at_menu(phone)
    _to_confirm(call)
    with menu_app.service.ctx.db.read_session() as session:
        row = session.exec(select(VoiceMenuState).where(VoiceMenuState.call_sid == call.sid)).one()
        audit = session.exec(select(AuditEvent)).all()
    assert NURSE_PIN not in str(row.data) + str(row.reply)
    assert all(NURSE_PIN not in str(a.before) + str(a.after) for a in audit)
    assert PUBLIC_BASE_URL not in str(row.reply)


# -- a whole call, as a nurse hears it -------------------------------------------------------


def test_a_whole_call_as_a_nurse_hears_it(menu_app: TwilioApp, phone: Dial,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Every <Say> of one call that logs, walks the at-risk list and notes a call, in order
    (run with -s to read it); it names patients by clinic id and initials only."""
    from tests.telephony.conftest import record_outbound
    record_outbound(menu_app.service, answered_by="human", seconds=200)
    call = phone().dial()
    call.wait()  # a slow start: the PIN prompt again
    call.press(NURSE_PIN)
    call.press("1").say("one zero four two").press("12").press("1").press("1")
    call.press("2").press("2")
    call.press("3").say("Talked about her new cuff, no dizziness").press("1")
    call.press("9").wait().wait().wait()
    with capsys.disabled():
        print("\n--- the whole call ---")
        for line in call.heard:
            print("  " + line)
    assert call.hung_up
    text = " ".join(call.heard)
    assert "Saved." in text and "Note saved." in text and "Goodbye." in text
    assert "+1617" not in text and "Jane" not in text
