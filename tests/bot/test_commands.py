"""Every other `/rpm` command over real signed HTTP, with the refusals that matter."""

from datetime import UTC, datetime

from service import Service
from tests.bot.conftest import SlackSender
from tests.bot.helpers import entries, standing
from tests.conftest import FrozenClock
from tests.fakes.slack_api import ScriptedReply
from tests.service.helpers import ADMIN, DOCTOR, NURSE


def test_status_for_one_patient_and_for_my_caseload(slack: SlackSender,
                                                    clock: FrozenClock) -> None:
    slack.command("log P-1042 12m review")
    one = slack.command("status p-1042")
    assert "*P-1042 (JD)* · 2026-11\n`▓▓▓▓▓▓░░░░` 12/20 min · live contact ✗" in one.text
    mine = slack.command("status")
    assert "*Your patients this month* (worst first)" in mine.text
    assert mine.body["text"] == "Your 1 patient this month"  # the phone notification
    assert "P-1042 (JD)" in mine.text and "11 days left" in mine.text
    assert "needs 8 more minutes and a live call" in mine.text
    assert "No patients are assigned to you" in slack.command("status", user=DOCTOR).text
    assert "No patient 'P-1'" in slack.command("status P-1").text


def test_status_honours_the_conversations_patient(slack: SlackSender) -> None:
    """Clinic finding (issue 26 item 11): `/rpm status` ignored the patient set with
    `/rpm use` (`log` and `start` honour it)."""
    slack.command("use P-1042", channel="C0WARD")
    slack.command("log 12m review", channel="C0WARD")
    here = slack.command("status", channel="C0WARD")
    assert "*P-1042 (JD)* · 2026-11\n`▓▓▓▓▓▓░░░░` 12/20 min" in here.text
    assert "Your patients this month" in slack.command("status", channel="C0OTHER").text
    slack.command("use none", channel="C0WARD")
    assert "Your patients this month" in slack.command("status", channel="C0WARD").text


def test_undo_voids_my_last_entry_once_within_10_minutes(slack: SlackSender, seeded: Service,
                                                         clock: FrozenClock) -> None:
    slack.command("log P-1042 12m review")
    clock.advance(minutes=20)
    slack.command("log P-1042 3m review")
    undone = slack.command("undo")
    assert "Undone: entry #2 (3 min of review for P-1042)" in undone.text
    assert [e.id for e in standing(seeded)] == [1]
    assert entries(seeded)[1].void_reason == "undone by the author from Slack (/rpm undo)"
    again = slack.command("undo")
    assert "nothing left to undo" in again.text
    assert [e.id for e in standing(seeded)] == [1]
    slack.command("log P-1042 4m review")
    clock.advance(minutes=11)
    late = slack.command("undo")
    assert "nothing left to undo" in late.text
    assert [e.id for e in standing(seeded)] == [1, 3]


def test_undo_never_touches_someone_elses_entry(slack: SlackSender, seeded: Service) -> None:
    slack.command("log P-1042 12m review")
    assert "nothing left to undo" in slack.command("undo", user=DOCTOR).text
    assert len(standing(seeded)) == 1


def test_void_by_author_or_admin_only_with_a_reason(slack: SlackSender,
                                                    seeded: Service) -> None:
    slack.command("log P-1042 12m review")
    slack.command("log P-1042 3m review", user=DOCTOR)
    assert "Give the entry id and a reason" in slack.command("void 1").text
    refused = slack.command("void 2 wrong patient")
    assert "Only the author of entry #2 or an admin may void it" in refused.text
    assert "Voided: entry #1" in slack.command("void #1 wrong patient").text
    assert "Voided: entry #2" in slack.command("void 2 duplicate", user=ADMIN).text
    assert "already voided" in slack.command("void 2 again", user=ADMIN).text
    assert "No entry #99" in slack.command("void 99 x").text
    assert "is not an entry id" in slack.command("void abc x").text
    assert standing(seeded) == []
    assert [e.void_reason for e in entries(seeded)] == ["wrong patient", "duplicate"]


def test_risk_lists_at_risk_patients(slack: SlackSender, seeded: Service) -> None:
    slack.command("log P-1042 5m review")  # enrolled in the month by its first entry
    sent = slack.command("risk")
    assert "*At risk this month* (1)" in sent.text
    assert "P-1042 (JD)" in sent.text and "needs 15 more minutes and a live call" in sent.text


def test_risk_says_so_when_nobody_is_at_risk(slack: SlackSender, clock: FrozenClock) -> None:
    slack.command("log P-1042 15m call")
    clock.advance(minutes=10)
    slack.command("log P-1042 6m review")
    assert "No patient is at risk" in slack.command("risk").text


def test_timer_start_status_stop_logs_from_the_start(slack: SlackSender, seeded: Service,
                                                     clock: FrozenClock) -> None:
    assert "No timer running" in slack.command("timer").text
    started = slack.command("start P-1042 call")
    assert "Started your timer for *P-1042 (JD)* (call)" in started.text
    assert "already running" in slack.command("start P-1042").text
    assert "already running (since 15:00 EST)" in slack.command("start P-1042").text
    clock.advance(minutes=14, seconds=30)
    timer = slack.command("timer").text
    assert "14 min 30 s so far" in timer
    assert "running since 15:00 EST" in timer and "UTC" not in timer  # issue 13 item 10
    stopped = slack.command("stop spoke with caregiver")
    assert "Saved entry #1: 14 min 30 s of call (live) for P-1042 (JD)" in stopped.text
    [entry] = entries(seeded)
    assert (entry.started_at, entry.duration_seconds, entry.note) == (
        datetime(2026, 11, 20, 20, 0, tzinfo=UTC), 870, "spoke with caregiver")
    assert "No timer running" in slack.command("timer").text
    assert "You have no timer running" in slack.command("stop").text


def test_timer_uses_context_and_cancel_logs_nothing(slack: SlackSender, seeded: Service,
                                                    clock: FrozenClock) -> None:
    assert "Which patient?" in slack.command("start").text
    slack.command("use P-1042", channel="C0WARD")
    assert "(review)" in slack.command("start", channel="C0WARD").text
    clock.advance(minutes=3)
    assert "Dropped your timer for P-1042 (JD) (3 min)" in slack.command("cancel").text
    assert entries(seeded) == []
    assert "You have no timer running" in slack.command("cancel").text


def test_a_timer_past_the_limit_is_not_logged_but_asks_for_the_real_duration(
    slack: SlackSender, seeded: Service, clock: FrozenClock
) -> None:
    slack.command("start P-1042 review")
    clock.advance(minutes=241)
    assert "🔴" in slack.command("timer").text
    stopped = slack.command("stop")
    assert "over the 240-minute limit for one entry, so nothing was logged" in stopped.text
    assert "`/rpm log P-1042 25m review on 2026-11-20`" in stopped.text
    assert entries(seeded) == []
    assert "No timer running" in slack.command("timer").text


def test_admin_adds_and_assigns_patients_and_staff(slack: SlackSender, seeded: Service) -> None:
    assert "Added patient *P-2000 (AB)*" in slack.command("patient add P-2000 ab",
                                                         user=ADMIN).text
    assert "already exists" in slack.command("patient add p-2000", user=ADMIN).text
    assigned = slack.command("patient assign P-2000 <@U01NURSE|nina>", user=ADMIN)
    assert "*P-2000 (AB)* is now assigned to <@U01NURSE>" in assigned.text
    assert seeded.patients.get("P-2000").assigned_to == NURSE
    added = slack.command("staff add <@U05NEW|newbie> qhp admin", user=ADMIN)
    assert "Added <@U05NEW> as qhp (admin)" in added.text
    assert seeded.staff.get("U05NEW").name == "newbie"
    listed = slack.command("staff list", user=ADMIN)
    assert "<@U05NEW> qhp · admin" in listed.text and "<@U01NURSE> clinical_staff" in listed.text


def test_staff_add_without_a_label_reads_the_slack_profile(slack: SlackSender,
                                                           seeded: Service) -> None:
    slack.recorder.script("users.info", ScriptedReply(body={
        "ok": True, "user": {"id": "U06NEW", "real_name": "Nora New"}}))
    assert "Added <@U06NEW> as clinical_staff" in slack.command(
        "staff add <@U06NEW> clinical_staff", user=ADMIN).text
    assert seeded.staff.get("U06NEW").name == "Nora New"
    [call] = slack.recorder.calls_to("users.info")
    assert call.body.get("user") == "U06NEW" or "user=U06NEW" in call.path


def test_admin_commands_are_refused_to_non_admins(slack: SlackSender, seeded: Service) -> None:
    for text in ("patient add P-2000", "patient assign P-1042 <@U02DOCTOR>",
                 "staff add <@U07X> qhp", "staff list"):
        sent = slack.command(text)
        assert "Only an admin may do that. Admins: <@U04ADMIN>." in sent.text, text
    assert [p.patient_id for p in seeded.patients.list()] == ["P-1042"]
    assert seeded.staff.find("U07X") is None


def test_admin_input_is_checked(slack: SlackSender) -> None:
    assert "Unknown role 'nurse'" in slack.command("staff add <@U07X> nurse",
                                                   user=ADMIN).text
    assert "only flag after the role is `admin`" in slack.command(
        "staff add <@U07X> qhp boss", user=ADMIN).text
    assert "must be 1 to 4 letters" in slack.command("patient add P-4 J0hn", user=ADMIN).text
    phone = slack.command("patient add P-5 +16175550199", user=ADMIN)
    assert "must be 1 to 4 letters" in phone.text  # no phone numbers through Slack


def test_help_and_malformed_input_get_usage_with_examples(slack: SlackSender) -> None:
    full = slack.command("help")
    for usage in ("/rpm log [PATIENT] DURATION ACTIVITY", "/rpm status [PATIENT]", "/rpm undo",
                  "/rpm void ENTRY_ID REASON", "/rpm risk", "/rpm use PATIENT|none",
                  "/rpm start [PATIENT] [ACTIVITY]", "/rpm stop [NOTE...]", "/rpm timer",
                  "/rpm cancel", "/rpm patient add", "/rpm staff add", "e.g. `/rpm log P-1042"):
        assert usage in full.text
    assert slack.command("").text == full.text
    for text, reason in [("frobnicate", "Unknown command 'frobnicate'.\nUsage: `/rpm help"),
                         ("log", "Say how long and what you did."),
                         ("log P-1042 12m dance", "'dance' is not an activity"),
                         ("log P-1042 soon review", "'soon' is not a duration"),
                         ("12m review", "Did you mean `/rpm log 12m review`?"),
                         ("undo now", "`undo` takes no arguments."),
                         ("use", "Name one patient, or `none` to clear.")]:
        sent = slack.command(text)
        assert sent.response.status_code == 200
        assert reason in sent.text and "Usage:" in sent.text, text
        assert "Traceback" not in sent.text


def test_a_duration_out_of_bounds_is_refused_the_same_way_at_either_end(
        slack: SlackSender) -> None:
    """Outside clinic month: `0m` got the grammar's usage reply and `300m` the service's
    refusal; both are the service's refusal now, in one style, as is a duration in digits
    other than 0-9 (it got the usage reply)."""
    typed = ("0m", "300m", "-5m", "１２m", "٣m")
    replies = [slack.command(f"log P-1042 {d} review").text for d in typed]
    slack.command("use P-1042")
    replies[-1] = slack.command("log ٣m review").text  # the conversation's patient
    reasons = ["it must be at least one second", "it is over the 240-minute limit",
               "it must be positive", "only the digits 0 to 9 are read",
               "only the digits 0 to 9 are read"]
    for text, duration, reason in zip(replies, typed, reasons, strict=True):
        assert text.startswith(f"🚫 Cannot use duration '{duration}': {reason}"), text
        assert text.endswith("Nothing was changed.") and "Usage:" not in text, text


def test_no_reply_ever_shows_a_phone_number(slack: SlackSender, clock: FrozenClock) -> None:
    """P-1042 has a patient and a caregiver phone on file; Slack only ever sees id+initials."""
    replies = []
    for text in ("log P-1042 12m review", "status P-1042", "status", "risk", "use P-1042",
                 "start P-1042", "timer", "stop", "undo", "log 6175550123 5m review",
                 "status +1 617 555 0124"):
        clock.advance(minutes=20)
        replies.append(slack.command(text).text)
    replies.append(slack.command("patient add P-7", user=ADMIN).text)
    typed_a_phone = replies[9:11]
    for reply in replies[:9] + replies[11:]:
        assert "555" not in reply and "617" not in reply.replace("P-1042", ""), reply
    assert "No patient '6175550123'" in typed_a_phone[0]  # never resolved through the phone
    assert "at most one patient" in typed_a_phone[1]
    assert all("(JD)" not in reply for reply in typed_a_phone)
