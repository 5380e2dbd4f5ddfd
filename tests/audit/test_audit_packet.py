"""The audit packet's content, read from the store on SQLite and PostgreSQL: entries,
voids, amendments, a bridged call with both legs, a manual live mark, the close record and
the audit trail's head; verifying it against the store; no phone number in clear."""

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from billing.months import Month
from presentation import packet as packet_render
from service import Service
from service.audit_packets import as_format
from service.calls import CallEvent
from service.closes import Amendment
from service.entries import LogRequest
from service.errors import BadInput
from service.patients import PatientFields
from store import audit as audit_rows
from tests.service.helpers import ADMIN, DOCTOR, NURSE, log
from tests.telephony.conftest import NURSE_TWILIO_NUMBER, PATIENT_PHONE, new_sid, seed_clinic

OCTOBER = Month(2026, 10)
NINA = {"slack_id": NURSE, "name": "Nina Nurse", "role": "clinical_staff"}
CALL_END = datetime(2026, 10, 6, 18, 4, tzinfo=UTC)  # 14:04 EDT on 6 October


def _at(day: int, hour: int = 14) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


@pytest.fixture
def month(svc: Service) -> dict[str, object]:
    """October: a review, a bridged call (parent and child legs), a manual live mark, a
    void, the month closed, then an amendment logged into it and one voided out of it."""
    seed_clinic(svc)
    svc.patients.update("P-1042", PatientFields(
        ordered_by=DOCTOR, order_on=date(2026, 9, 15), last_visit_on=date(2026, 9, 1)),
        actor="test")
    review = log(svc, "12m", note="Reviewed BP log: 3 high readings", started_at=_at(2))
    parent, child = new_sid(), new_sid()
    svc.calls.reconcile([
        CallEvent(call_sid=parent, status="completed", direction="outbound-api",
                  from_number=NURSE_TWILIO_NUMBER, to_number="+16175550101",
                  duration_seconds=260, timestamp=CALL_END),
        CallEvent(call_sid=child, parent_call_sid=parent, status="completed",
                  direction="outbound-dial", from_number=NURSE_TWILIO_NUMBER,
                  to_number=PATIENT_PHONE, duration_seconds=240, answered_by="human",
                  timestamp=CALL_END)])
    call = svc.calls.by_sid(child)
    assert call is not None
    svc.calls.add_note(call.call_id, "Discussed the high readings; dose kept.", by=NURSE)
    manual = log(svc, "6m", "education", live=True, note="Taught cuff placement by phone",
                 started_at=_at(9))
    voided = log(svc, "5m", note="Duplicate of the review", started_at=_at(2, 15))
    svc.entries.void(voided, reason="typed twice", by=NURSE)
    svc.closes.close(OCTOBER, by="Ada Admin")
    amended = svc.entries.log(LogRequest(
        patient="P-1042", duration="3m", activity="review", staff=NURSE, source="cli",
        note="Late note of a chart review", started_at=_at(20),
        amendment=Amendment(reason="found on paper", by="cli:ops", operator=True))).entry.id
    svc.entries.void(manual, reason="wrong patient", by=ADMIN,
                     amendment=Amendment(reason="charted on the wrong patient", by=ADMIN))
    return {"review": review, "parent": parent, "child": child, "manual": manual,
            "voided": voided, "amended": amended}


def test_the_packet_holds_every_part_an_auditor_asks_for(svc: Service,
                                                         month: dict[str, object]) -> None:
    content = svc.audit_packets.packet("p-1042", OCTOBER).content
    patient = content["patient"]
    assert (patient["patient_id"], patient["initials"], patient["consent_on"],
            patient["conditions"]) == ("P-1042", "JD", "2026-10-01", ["I10"])
    assert patient["order"]["ordered_by"]["npi"] == "1234567890"
    assert (patient["order"]["order_on"], patient["last_visit_on"]) == ("2026-09-15",
                                                                        "2026-09-01")
    assert content["billing_provider"]["name"] == "Dee Doctor"

    entries = {e["id"]: e for e in content["entries"]}
    assert set(entries) == {month["review"], entries_id_of_call(content), month["amended"]}
    review = entries[month["review"]]
    assert (review["staff"]["name"], review["staff"]["role"], review["seconds"],
            review["counted_seconds"], review["activity"], review["note"]) == (
        "Nina Nurse", "clinical_staff", 720, 720, "review", "Reviewed BP log: 3 high readings")
    assert review["start"] == "2026-10-02 10:00:00 EDT"  # clinic time
    call_entry = entries[entries_id_of_call(content)]
    assert (call_entry["call_sid"], call_entry["call_note"], call_entry["seconds"]) == (
        month["child"], "Discussed the high readings; dose kept.", 240)

    # 12 + 4 + 3 minutes after the void of the manual mark: 99457 is not supported (19 min)
    assert content["month"]["counted_seconds"] == 720 + 240 + 180
    billed = content["billed_at_close"]
    assert billed["codes_text"] == "99457" and billed["differs"] is True

    [live] = content["live_interactions"]
    assert live["how"] == "captured call" and live["counts"] is True
    # with whom: the party the call matched, by clinic id and initials; by whom: the nurse
    assert live["with"] == {"party": "patient", "patient_id": "P-1042", "initials": "JD"}
    assert live["by"] == NINA
    legs = {leg["call_sid"]: leg for leg in live["evidence"]["legs"]}
    assert set(legs) == {month["parent"], month["child"]}  # both legs of the bridge
    assert legs[month["child"]]["answered_by"] == "human"
    assert legs[month["child"]]["to"] == "+1******0123"  # masked
    assert {leg["call_sid"] for leg in content["calls"]} == set(legs)

    voids = {v["id"]: v for v in content["voided"]}
    assert voids[month["voided"]]["reason"] == "typed twice"
    assert voids[month["voided"]]["voided_by"] == NINA  # who, not only a Slack id
    assert voids[month["manual"]]["amendment_reason"] == "charted on the wrong patient"
    kinds = {(a["kind"], a["entry_id"], a["reason"]) for a in content["amendments"]}
    assert kinds == {("entry logged", month["amended"], "found on paper"),
                     ("entry voided", month["manual"], "charted on the wrong patient")}

    [close] = content["close_history"]
    assert (close["action"], close["by"]) == ("close", "U04ADMIN")  # --by named her
    with svc.ctx.db.read() as conn:
        head = audit_rows.head(conn)
    assert head is not None
    assert content["printed"]["audit_trail_head"] == {"id": head.id, "hash": head.hash}


def test_the_printed_packet_says_who_by_name_and_with_whom(svc: Service,
                                                          month: dict[str, object]) -> None:
    """Outside auditor: "With" named the nurse and voids showed a Slack id. The live
    section says with whom (the party, by clinic id and initials) and by whom; voids and
    amendments name the staff member and role."""
    sections = {s.title: s for s in packet_render.sections(
        svc.audit_packets.packet("P-1042", OCTOBER).content)}
    live = sections["Live interactions and their evidence"].table
    assert live is not None and live.headers[2:4] == ("With", "By")
    assert live.rows[0][2:4] == ("patient P-1042 (JD)", "Nina Nurse (clinical_staff)")
    voided = sections["Voided entries"].table
    assert voided is not None
    by_id = {row[0]: row for row in voided.rows}
    assert by_id[str(month["voided"])][5] == "Nina Nurse (clinical_staff; Slack U01NURSE)"
    amendments = sections["Amendments"].table
    assert amendments is not None
    # who made each amendment: the CLI's operator who logged the late entry (outside auditor:
    # the nurse it was logged for was named), the admin who voided one
    assert {row[2] for row in amendments.rows} == {
        "cli:ops", "Ada Admin (clinical_staff; Slack U04ADMIN)"}
    # who closed: by name beside the id, as every screen says it (outside auditor: the same
    # admin was "UBIL0001" from Slack and "Bea Billing" from the CLI)
    closes = sections["Month close record"].table
    assert closes is not None and [row[2] for row in closes.rows] == ["Ada Admin (U04ADMIN)"]
    billed = dict(sections["Codes and time"].pairs)["Billed at close"]
    assert "by Ada Admin (U04ADMIN), record" in billed, billed


def test_a_v3_packet_is_rebuilt_without_the_closers_name(svc: Service,
                                                        month: dict[str, object]) -> None:
    """Format v4 added the closer's name: a packet printed in v3 is compared without it."""
    content = svc.audit_packets.packet("P-1042", OCTOBER).content
    older = as_format(content, "rpm-logger audit packet v3")
    assert "by_name" in content["close_history"][0] and content["billed_at_close"][
        "closed_by_name"] == "Ada Admin"
    assert "by_name" not in older["close_history"][0]
    assert "closed_by_name" not in older["billed_at_close"]
    assert "by_name" in content["close_history"][0]  # the newest content is left as it was


def test_the_packet_says_whether_the_month_may_be_billed(svc: Service,
                                                        month: dict[str, object]) -> None:
    """The close's hold rule on the packet: an auditor sees why a month was not billed."""
    content = svc.audit_packets.packet("P-1042", OCTOBER).content
    assert content["month"]["hold_reasons"] == []
    logged = {e["id"]: e["logged_by"] for e in content["entries"]}
    assert logged[month["review"]] == NINA  # who logged it: name and role, not only an id
    svc.patients.add("P-9", PatientFields(initials="QQ"), actor="test")
    held = svc.audit_packets.packet("P-9", OCTOBER)
    assert held.content["month"]["hold_reasons"] == [
        "no consent on file", "no order on file (ordering provider and order date)"]
    pairs = dict({s.title: s for s in packet_render.sections(held.content)}[
        "Codes and time"].pairs)
    assert pairs["May be billed"].startswith("no: ")  # nothing logged: no code to bill


@pytest.mark.parametrize(("month", "said"), [
    ({"in_programme": False, "codes_text": "99457", "hold_reasons": []},
     "no: not in the month's programme"),
    ({"in_programme": True, "codes_text": "", "hold_reasons": []},
     "no: the month supports no code"),
    ({"in_programme": True, "codes_text": "99457", "hold_reasons": ["no consent on file"]},
     "no, held: no consent on file"),
    ({"in_programme": True, "codes_text": "99457", "hold_reasons": []},
     "yes (consent and order on file)"),
])
def test_may_be_billed_is_yes_only_for_a_code_in_the_programme_with_nothing_held(
        month: dict[str, object], said: str) -> None:
    """Outside auditor: a packet for a month before enrolment printed 'May be billed: yes'."""
    assert packet_render._may_be_billed(month) == said


def test_a_manual_marks_party_is_not_recorded(svc: Service) -> None:
    seed_clinic(svc)
    log(svc, "21m", "education", live=True, note="Reviewed diet on the phone")
    sections = {s.title: s for s in packet_render.sections(
        svc.audit_packets.packet("P-1042", Month(2026, 11)).content)}
    live = sections["Live interactions and their evidence"].table
    assert live is not None
    assert live.rows[0][2] == "P-1042 (JD): patient or caregiver not recorded (manual mark)"
    assert "marked by Nina Nurse (clinical_staff; Slack U01NURSE)" in live.rows[0][5]


def entries_id_of_call(content: dict[str, object]) -> int:
    [leg] = [leg for leg in content["calls"] if leg["entry_id"]]  # type: ignore[union-attr]
    return int(leg["entry_id"])


def test_a_manual_live_mark_shows_who_marked_it_and_when(svc: Service) -> None:
    seed_clinic(svc)
    entry = log(svc, "21m", "education", live=True, note="Reviewed diet on the phone")
    content = svc.audit_packets.packet("P-1042", Month(2026, 11)).content
    [live] = content["live_interactions"]
    assert live["how"] == "manual mark" and live["entry_id"] == entry
    assert live["evidence"]["marked_by"] == NINA
    assert live["with"] == {"party": None, "patient_id": "P-1042", "initials": "JD"}
    assert live["by"] == NINA
    assert live["evidence"]["marked_at"] == "2026-11-20 15:00:00 EST"
    assert content["month"]["codes_text"] == "99457"
    assert content["month"]["date_of_service"] == "2026-11-20"


def test_the_date_of_service_is_the_day_the_month_first_supported_a_code(svc: Service) -> None:
    seed_clinic(svc)
    log(svc, "15m", started_at=datetime(2026, 11, 3, 15, tzinfo=UTC))

    def month() -> dict[str, object]:
        content = svc.audit_packets.packet("P-1042", Month(2026, 11)).content
        return content["month"]  # type: ignore[no-any-return]

    assert month()["date_of_service"] is None  # no live interaction: no code
    log(svc, "2m", "call", started_at=datetime(2026, 11, 5, 15, tzinfo=UTC))
    assert (month()["codes_text"], month()["date_of_service"]) == ("99470", "2026-11-05")
    log(svc, "3m", started_at=datetime(2026, 11, 9, 15, tzinfo=UTC))
    log(svc, "30m", started_at=datetime(2026, 11, 12, 15, tzinfo=UTC))
    # 20 minutes on the 9th: the month bills 99457 (never with 99470), dated the 9th
    assert (month()["codes_text"], month()["date_of_service"]) == ("99457;99458", "2026-11-09")


def test_the_canonical_json_is_sorted_compact_and_its_digest_is_sha256(svc: Service) -> None:
    seed_clinic(svc)
    packet = svc.audit_packets.packet("P-1042", Month(2026, 11))
    assert packet.canonical == json.dumps(json.loads(packet.canonical), sort_keys=True,
                                          separators=(",", ":"), ensure_ascii=False)
    import hashlib
    assert packet.digest == hashlib.sha256(packet.canonical.encode()).hexdigest()


def test_no_phone_number_in_clear(svc: Service, month: dict[str, object]) -> None:
    canonical = svc.audit_packets.packet("P-1042", OCTOBER).canonical
    for number in (PATIENT_PHONE, NURSE_TWILIO_NUMBER, "+16175550101", "6175550123",
                   "617-555-0123", "+16175550124"):
        assert number not in canonical


def test_verify_names_what_changed_in_the_store(svc: Service, month: dict[str, object]) -> None:
    printed = svc.audit_packets.packet("P-1042", OCTOBER).content
    assert svc.audit_packets.verify(printed).changes == ()
    log(svc, "9m", note="Another late review", started_at=_at(21),
        amendment=Amendment(reason="late fax", by="cli:ops", operator=True))
    changes = svc.audit_packets.verify(printed).changes
    assert any("added since printing" in c and c.startswith("entries[") for c in changes)
    assert "month.counted_seconds: printed 1140, now 1680" in changes


def test_verify_names_a_rewritten_audit_trail(svc: Service, month: dict[str, object]) -> None:
    printed = svc.audit_packets.packet("P-1042", OCTOBER).content
    head = printed["printed"]["audit_trail_head"]
    with svc.ctx.db.engine.begin() as conn:  # behind the service's back
        conn.execute(text("UPDATE audit_events SET hash = :h WHERE id = :id"),
                     {"h": "0" * 64, "id": head["id"]})
    [change] = svc.audit_packets.verify(printed).changes
    assert f"record #{head['id']}" in change and "audit verify" in change


def test_verify_names_a_deleted_record_before_the_printed_head(
        svc: Service, month: dict[str, object]) -> None:
    """The printed head still matches, but the trail behind it lost a record (outside
    auditor review: --verify said intact while `audit verify` said broken)."""
    printed = svc.audit_packets.packet("P-1042", OCTOBER).content
    assert svc.audit_packets.verify(printed).changes == ()
    head = printed["printed"]["audit_trail_head"]
    assert head["id"] > 2
    with svc.ctx.db.engine.begin() as conn:  # behind the service's back
        conn.execute(text("DELETE FROM audit_events WHERE id = 2"))
    change, hint = svc.audit_packets.verify(printed).changes
    assert change.startswith("audit trail: audit record #2 is missing")
    assert "#1" in change and "#3" in change  # where the gap is
    assert "audit verify" in hint


def test_verify_names_an_entry_of_the_packet_edited_behind_the_services_back(
        svc: Service, month: dict[str, object]) -> None:
    """Auditor walk-through: the changed figures were listed, not that the entry was edited
    with raw SQL; the trail's finding about the packet's own entry is listed too."""
    printed = svc.audit_packets.packet("P-1042", OCTOBER).content
    with svc.ctx.db.engine.begin() as conn:
        conn.execute(text("UPDATE time_entries SET note = 'rewritten' WHERE id = :id"),
                     {"id": month["review"]})
    changes = svc.audit_packets.verify(printed).changes
    assert f"entries[{month['review']}].note: printed" in changes[0]
    assert (f"audit trail: entry #{month['review']} was edited behind the service's back: "
            "note differs") in changes[-2]


def test_verify_refuses_another_patient_or_month_and_a_foreign_file(
        svc: Service, month: dict[str, object]) -> None:
    printed = svc.audit_packets.packet("P-1042", OCTOBER).content
    with pytest.raises(BadInput, match="for P-1042, not P-9"):
        svc.audit_packets.verify(printed, patient_ref="P-9")
    with pytest.raises(BadInput, match="for 2026-10, not 2026-11"):
        svc.audit_packets.verify(printed, month=Month(2026, 11))
    with pytest.raises(BadInput, match="Not an rpm-logger audit packet"):
        svc.audit_packets.verify({"patient": {}})


def test_billable_gives_one_packet_per_patient_whose_month_supports_a_code(
        svc: Service) -> None:
    seed_clinic(svc)
    svc.patients.add("P-2000", PatientFields(initials="AB", consent_on=date(2026, 10, 1),
                                             provider=DOCTOR), actor="test")
    log(svc, "25m", "call")
    log(svc, "5m", patient="P-2000")
    packets = svc.audit_packets.billable(Month(2026, 11))
    assert [p.patient_id for p in packets] == ["P-1042"]
