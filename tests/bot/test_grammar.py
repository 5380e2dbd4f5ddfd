"""The one grammar: table tests, and hypothesis fuzzing (no input raises; every refusal is a
clear message with usage)."""

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import dispatch, grammar
from bot.grammar import (
    CallAttach,
    CallClaim,
    CallPatient,
    CloseMonth,
    Help,
    Log,
    Report,
    Simple,
    Start,
    Status,
    Stop,
    Usage,
    Use,
    Void,
)
from service import Service
from tests.service.helpers import NURSE

CASES = [
    ("log 12m review", Log(None, "12m", "review")),
    ("log P-1042 12m review", Log("P-1042", "12m", "review")),
    ("log P-1042 15m call live discussed BP", Log("P-1042", "15m", "call", True, "discussed BP")),
    ("log 1042 12m review", Log("1042", "12m", "review")),
    ("log 12 min review", Log(None, "12 min", "review")),
    ("log P-1 1h 5m coord", Log("P-1", "1h 5m", "coord")),
    ("log P-1 1:05 rev", Log("P-1", "1:05", "rev")),
    ("log P-1 10m review yesterday", Log("P-1", "10m", "review", yesterday=True)),
    ("LOG P-1 10m Review live on 2026-11-03 late note",
     Log("P-1", "10m", "Review", True, "late note", date(2026, 11, 3))),
    ("log P-1 10m review live yesterday live", Log("P-1", "10m", "review", True,
                                                   yesterday=True)),
    ("status", Status(None)), ("status P-1", Status("P-1")), ("s P-1", Status("P-1")),
    ("void #12 wrong patient", Void("#12", "wrong patient")),
    ("use P-1", Use("P-1")), ("use none", Use(None)),
    ("start", Start()), ("start P-1", Start("P-1")), ("start call", Start(None, "call")),
    ("start P-1 call", Start("P-1", "call")),
    ("stop", Stop()), ("stop spoke to caregiver", Stop("spoke to caregiver")),
    ("undo", Simple("undo")), ("risk", Simple("risk")), ("timer", Simple("timer")),
    ("cancel", Simple("cancel")), ("staff list", Simple("staff list")),
    ("", Help()), ("help", Help()), ("help log", Help("log")), ("help nonsense", Help()),
    ("calls unmatched", Simple("calls unmatched")), ("CALLS Unmatched", Simple("calls unmatched")),
    ("calls attach C-12 P-1042", CallAttach("C-12", "P-1042")),
    ("calls claim c12", CallClaim("c12")), ("call P-1042", CallPatient("P-1042")),
    ("report", Report()), ("report 2026-11", Report("2026-11")),
    ("month close 2026-10", CloseMonth("2026-10")), ("help calls", Help("calls")),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_parse(text: str, expected: grammar.Command) -> None:
    assert grammar.parse(text) == expected


@pytest.mark.parametrize("text", [
    "log", "log P-1", "log P-1 12m", "log P-1 12m dance", "log P-1 soon review",
    "log P-1 12m review on 2026-02-30", "status a b", "void 12", "use", "use a b",
    "start a b c", "undo x", "risk x", "patient", "patient add", "patient remove P-1",
    "staff add U1", "staff add U1 qhp boss", "staff", "frobnicate", "12m review",
    "call", "call P-1 P-2", "calls", "calls list", "calls attach C-1", "calls claim",
    "calls unmatched now", "report nov", "report 2026-11 2026-12", "report 2026-1", "month",
    "month close", "month open 2026-10", "month close October",
    "x" * 5000,
])
def test_malformed_input_is_usage_with_a_reason(text: str) -> None:
    parsed = grammar.parse(text)
    assert isinstance(parsed, Usage) and parsed.reason
    message = grammar.usage_text(parsed)
    assert message.startswith(parsed.reason) and "Usage:" in message and "/rpm" in message


def test_help_lists_every_command_from_the_same_table() -> None:
    text = grammar.help_text()
    for _, usage, example in grammar.COMMANDS:
        assert usage in text and example in text


def test_picker_round_trip_keeps_the_log() -> None:
    parsed = grammar.parse("log 15m call live on 2026-11-03 spoke with daughter")
    assert isinstance(parsed, Log)
    again = grammar.parse(f"log P-9 {parsed.without_patient()}")
    assert again == Log("P-9", "15m", "call", True, "spoke with daughter", date(2026, 11, 3))


WORDS = st.sampled_from([
    "log", "status", "undo", "void", "risk", "use", "start", "stop", "timer", "cancel",
    "patient", "staff", "add", "assign", "list", "help", "none", "live", "yesterday", "on",
    "2026-11-03", "2026-13-45", "P-1042", "1042", "12m", "12", "min", "1h", "5m", "1:05",
    "90s", "2.5m", "-5m", "0m", "review", "call", "rev", "video", "admin", "qhp", "<@U1|x>",
    "#12", "+16175550123", "`", "*", "\u200b", "é", "", "calls", "unmatched", "attach",
    "claim", "C-1", "report", "month", "close", "2026-10", "2026-11",
])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(WORDS, max_size=9).map(" ".join)))
def test_fuzz_parse_never_raises_and_refusals_explain(text: str) -> None:
    parsed = grammar.parse(text)
    if isinstance(parsed, Usage):
        assert "Usage:" in grammar.usage_text(parsed)
        if text.strip():
            assert parsed.reason
    if isinstance(parsed, Log):
        assert parsed.duration and parsed.activity


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(WORDS, min_size=1, max_size=8).map(" ".join))
def test_fuzz_every_command_gets_a_clear_reply_from_the_service(seeded: Service,
                                                                text: str) -> None:
    reply = dispatch.run(seeded, grammar.parse(text), dispatch.Caller(NURSE, "C0FUZZ"))
    assert reply.text.strip()
    assert "Something went wrong" not in reply.text, text  # every refusal is specific
    assert "Traceback" not in reply.text


@pytest.mark.parametrize("text", [
    "log +16175550123 12m review", "log 617-555-0123 12m review", "status (617)555-0123",
    "use +1(617)555-0123", "start 617.555.0123", "patient add +16175550123",
    "call +16175550123", "call (617)555-0123", "calls attach C-1 +16175550123",
])
def test_phone_numbers_are_refused_as_patient_references(text: str) -> None:
    parsed = grammar.parse(text)
    assert isinstance(parsed, Usage) and parsed.reason == grammar.PHONE_REFUSAL


def test_clinic_ids_made_of_digits_are_not_phones() -> None:
    assert grammar.parse("log 00123456 5m review") == Log("00123456", "5m", "review")


def test_notes_and_reasons_are_unescaped() -> None:
    assert grammar.parse("log P-1 5m review BP &gt; 140 &amp; HR &lt; 50").note == \
        "BP > 140 & HR < 50"  # type: ignore[union-attr]
    assert grammar.parse("void 3 a &amp; b") == Void("3", "a & b")
    assert grammar.parse("stop x &gt; y") == Stop("x > y")


@pytest.mark.parametrize(("text", "reply"), [
    ("stauts P-1042", "Unknown command 'stauts'. Did you mean `status`?\n"
                      "Usage: `/rpm status [PATIENT]`\n`/rpm help` lists every command."),
    ("lgo P-1042 12m review", "Unknown command 'lgo'. Did you mean `log`?\nUsage: `/rpm log "),
    ("reprot 2026-11", "Did you mean `report`?\nUsage: `/rpm report [YYYY-MM]`\n"),
    ("frobnicate", "Unknown command 'frobnicate'.\nUsage: `/rpm help [COMMAND]`\n"),
])
def test_an_unknown_command_gets_the_closest_command_and_its_one_line_usage(
    text: str, reply: str,
) -> None:
    """Issue 13 item 12: not the whole 40-line help."""
    answer = grammar.usage_text(grammar.parse(text))
    assert reply in answer
    assert len(answer.splitlines()) == 3 and "e.g." not in answer


@pytest.mark.parametrize(("text", "topic"), [
    ("log P-1042 5m review " + "x" * 4000, "log"),
    ("l P-1042 5m review " + "x" * 4000, "log"),
    ("timer stop " + "x" * 4000, "timer"),
    ("x" * 4001, None),
])
def test_an_over_long_command_gets_its_own_usage(text: str, topic: str | None) -> None:
    """Tester finding 9: a 4,000-character note got the whole help, not `log`'s usage."""
    parsed = grammar.parse(text)
    assert parsed == grammar.Usage("That is over 4000 characters.", topic)
