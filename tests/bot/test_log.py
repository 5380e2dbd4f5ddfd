"""`/rpm log` over real signed HTTP: replies, context, picker, double submission, refusals."""

import json
from datetime import UTC, datetime

from service import Service
from tests.bot.conftest import SlackSender, all_text
from tests.bot.helpers import entries, standing
from tests.conftest import FrozenClock
from tests.service.helpers import ADMIN, CLERK, NURSE


def test_log_confirms_patient_minutes_activity_id_progress_live_codes_and_missing(
    slack: SlackSender, seeded: Service
) -> None:
    sent = slack.command("log P-1042 12m review")
    assert sent.response.status_code == 200
    assert sent.body["text"] == "✅ Saved entry #1: 12 min of review for P-1042 (JD) on 2026-11-20."
    assert "`▓▓▓▓▓▓░░░░` 12/20 min · live contact ✗ · codes: none yet" in sent.text
    # 12 min reach 99470: only the live interaction is missing (not "8 min more for 20 min")
    assert "Still needed: a live interaction (call or video)" in sent.text
    [entry] = entries(seeded)
    assert (entry.id, entry.duration_seconds, entry.activity, entry.source, entry.staff) == \
        (1, 720, "review", "slack", NURSE)
    assert entry.ended_at == datetime(2026, 11, 20, 20, 0, tzinfo=UTC)


def test_slack_and_cli_give_the_same_still_needed_advice(
    slack: SlackSender, seeded: Service
) -> None:
    """One copy of the advice: the Slack month line says what the CLI status says, 99470
    included (the Slack copy used to say "20 min more for 20 min")."""
    from presentation.render import summary_text

    sent = slack.command("status P-1042")
    assert "Still needed: 10 min more for 99470 and a live interaction (call or video)" \
        in sent.text
    assert "more for 20 min" not in sent.text
    assert ("Still needed  10 min more for 99470 and a live interaction (call or video)"
            in summary_text(seeded.months.summary("P-1042")))
    after = slack.command("log P-1042 5m call")
    assert "Still needed: 5 min more for 99470" in after.text
    assert "Still needed  5 min more for 99470" in summary_text(seeded.months.summary("P-1042"))


def test_first_request_auth_test_goes_to_the_recorder(slack: SlackSender) -> None:
    slack.command("help")
    [call] = slack.recorder.calls_to("auth.test")
    assert call.headers["Authorization"] == "Bearer xoxb-test"


def test_live_call_then_more_time_earns_codes(slack: SlackSender, seeded: Service,
                                              clock: FrozenClock) -> None:
    first = slack.command("log P-1042 15m call discussed BP with daughter")
    assert "15 min of call (live) for P-1042 (JD)" in first.text
    assert "live contact ✓ · codes: 99470" in first.text
    clock.advance(minutes=10)
    second = slack.command("log p-1042 5m education live")
    assert "5 min of education (live)" in second.text
    assert "`▓▓▓▓▓▓▓▓▓▓` 20/20 min · live contact ✓ · codes: 99457" in second.text
    assert "Still needed: 20 min more for 99458" in second.text
    assert "overlaps" not in second.text
    assert [(e.note, e.live) for e in entries(seeded)] == [
        ("discussed BP with daughter", True), (None, True)]


def test_yesterday_and_on_date_are_late_entries_placed_without_overlap(
    slack: SlackSender, seeded: Service
) -> None:
    slack.command("log P-1042 10m review yesterday")
    slack.command("log P-1042 5m coord yesterday")
    slack.command("log P-1042 7m review on 2026-11-03 weekend readings")
    found = {e.id: e for e in entries(seeded)}
    assert found[1].started_at == datetime(2026, 11, 19, 14, 0, tzinfo=UTC)  # 09:00 New York
    assert found[2].started_at == datetime(2026, 11, 19, 14, 10, tzinfo=UTC)  # after #1
    assert found[3].started_at == datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
    assert found[3].note == "weekend readings"
    assert all(e.overlaps_entry_id is None for e in found.values())


def test_future_dates_are_refused(slack: SlackSender, seeded: Service) -> None:
    sent = slack.command("log P-1042 7m review on 2026-11-21")
    assert "2026-11-21 is in the future" in sent.text and "Nothing was changed" in sent.text
    assert entries(seeded) == []


def test_non_clinical_staff_are_told_their_time_does_not_count(slack: SlackSender) -> None:
    sent = slack.command("log P-1042 12m review", user=CLERK)
    assert "Saved entry #1" in sent.text
    assert "does not count toward 99457" in sent.text


def test_strangers_get_a_polite_refusal_naming_the_admins(
    slack: SlackSender, seeded: Service
) -> None:
    sent = slack.command("log P-1042 12m review", user="U09STRANGER")
    assert sent.response.status_code == 200
    assert "not set up as clinic staff" in sent.text and f"<@{ADMIN}>" in sent.text
    assert entries(seeded) == []


def test_unknown_patient_suggests_close_ids(slack: SlackSender, seeded: Service) -> None:
    sent = slack.command("log P-1043 12m review")
    assert "No patient 'P-1043'. Did you mean P-1042?" in sent.text
    assert entries(seeded) == []


def test_over_long_durations_are_refused(slack: SlackSender, seeded: Service) -> None:
    sent = slack.command("log P-1042 5h review")
    assert "over the 240-minute limit" in sent.text and "Nothing was changed" in sent.text
    assert entries(seeded) == []


def test_double_submission_warns_and_offers_undo(slack: SlackSender, seeded: Service,
                                                 clock: FrozenClock) -> None:
    slack.command("log P-1042 12m review")
    clock.advance(seconds=30)
    second = slack.command("log P-1042 12m review")
    assert "Saved entry #2" in second.text
    assert "looks like a double submission: entry #1 is identical" in second.text
    [button] = [b for block in second.body["blocks"] if block["type"] == "actions"
                for b in block["elements"]]
    assert (button["action_id"], button["value"]) == ("undo_double", "2")
    clicked = slack.action("undo_double", "2")
    assert clicked.response.status_code == 200
    [posted] = slack.wait_for(_path(clicked.response_url))
    assert "Undone: entry #2" in all_text(posted.body)
    assert [e.id for e in standing(seeded)] == [1]


def test_identical_logs_a_minute_apart_are_not_flagged(slack: SlackSender,
                                                       clock: FrozenClock) -> None:
    slack.command("log P-1042 12m review")
    clock.advance(seconds=61)
    assert "double submission" not in slack.command("log P-1042 12m review").text


def test_context_from_use_in_a_channel_then_in_a_dm(slack: SlackSender,
                                                    seeded: Service) -> None:
    assert "Now logging for *P-1042 (JD)* in this channel" in slack.command(
        "use p-1042", channel="C0WARD").text
    assert "Saved entry #1" in slack.command("log 5m review", channel="C0WARD").text
    picker = slack.command("log 5m review", channel="C0OTHER")
    assert "Which patient" in picker.text
    in_dm = slack.command("use P-1042", channel="D0NURSE").text
    assert "Now logging for *P-1042 (JD)* for you, in any conversation without a patient of " \
        "its own: `/rpm log 12m review`" in in_dm  # issue 13 item 12: not "in you"
    assert "Saved entry #2" in slack.command("log 5m review", channel="C0OTHER").text
    assert "Cleared the patient of this channel" in slack.command(
        "use none", channel="C0WARD").text
    assert "Saved entry #3" in slack.command("log 5m review", channel="C0WARD").text  # DM's
    slack.command("use none", channel="D0NURSE")
    assert "Which patient" in slack.command("log 5m review", channel="C0WARD").text
    assert len(entries(seeded)) == 3


def test_picker_lists_assigned_patients_and_completes_the_same_log(
    slack: SlackSender, seeded: Service
) -> None:
    sent = slack.command("log 12m call live talked about meds")
    buttons = [b for block in sent.body["blocks"] if block["type"] == "actions"
               for b in block["elements"]]
    assert [b["text"]["text"] for b in buttons] == ["P-1042 (JD)"]
    assert entries(seeded) == []  # nothing saved until a patient is chosen
    clicked = slack.action(buttons[0]["action_id"], buttons[0]["value"])
    assert clicked.response.status_code == 200
    [posted] = slack.wait_for(_path(clicked.response_url))
    assert posted.body["replace_original"] is True
    assert "Saved entry #1: 12 min of call (live) for P-1042 (JD)" in all_text(posted.body)
    [entry] = entries(seeded)
    assert (entry.note, entry.live, entry.staff) == ("talked about meds", True, NURSE)


def test_a_tampered_picker_value_is_refused_not_crashed(slack: SlackSender,
                                                        seeded: Service) -> None:
    clicked = slack.action("pick_patient_0", json.dumps({"patient": "P-9", "log": "x"}))
    [posted] = slack.wait_for(_path(clicked.response_url))
    assert "not a duration" in all_text(posted.body)
    clicked = slack.action("pick_patient_0", "not json")
    [posted] = slack.wait_for(_path(clicked.response_url))
    assert "picker has expired" in all_text(posted.body)
    assert entries(seeded) == []


def test_picker_without_assigned_patients_says_how_to_name_one(slack: SlackSender) -> None:
    sent = slack.command("log 12m review", user=ADMIN)
    assert "No patients are assigned to you" in sent.text


def _path(url: str | None) -> str:
    assert url is not None
    return "/" + url.split("/", 3)[3]


def test_a_phone_number_as_patient_is_refused_without_a_lookup(slack: SlackSender,
                                                               seeded: Service) -> None:
    sent = slack.command("log (617) 555-0123 12m review")  # P-1042's own number
    assert "not a duration" in sent.text or "phone numbers are PHI" in sent.text
    sent = slack.command("log +16175550123 12m review")
    assert "phone numbers are PHI and never typed into Slack" in sent.text
    assert "(JD)" not in sent.text  # the number was never resolved to the patient
    assert entries(seeded) == []


def test_echoed_input_cannot_become_a_mention(slack: SlackSender) -> None:
    sent = slack.command("log <!channel> 12m review")
    assert "No patient '&lt;!channel&gt;'" in sent.text and "<!channel>" not in sent.text
    unknown = slack.command("<!here> hello")
    assert "Unknown command '&lt;!here&gt;'." in unknown.text and "<!here>" not in unknown.text


def test_a_call_under_the_live_floor_is_not_called_live(slack: SlackSender,
                                                        seeded: Service) -> None:
    """Billing office finding 7/8: `/rpm log P-1042 20s call` replied "(live)"."""
    sent = slack.command("log P-1042 20s call")
    assert "(live)" not in sent.text
    assert "20 s of call (under 30 s: not a live interaction)" in sent.text
    assert "⚠️ Under 30 s: not a live interaction. Log the live contact" in sent.text
    assert "interaction: under 30 s: not a live interaction" not in sent.text  # said once
    assert "live contact ✗" in sent.text
