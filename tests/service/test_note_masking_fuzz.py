"""Issue 12 #3: phone numbers in notes are masked however they are spelled, and clinical text
is left alone. Fuzzed both ways with hypothesis."""

import re

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from billing.months import Month
from bot import execute, grammar
from service import Service
from service.phones import redact_phones
from tests.service.helpers import NURSE, log, seed

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SEPARATORS = ["", " ", "-", ".", "/", "_", " - ", " / ", " _ ", "  ", "\t", "－", "／", "．",
              "＿", "　", "‐", "–", "—", " － "]
PREFIXES = ["", "+1 ", "1 ", "1-", "+1-", "+1", "＋１ ", "1."]
WORDS = ["call", "daughter", "Mary", "at", "on", "cell", "tel:", "(", "her", "phone", "—",
         "please", "back", "re:", "BP", "ok", "x"]


def _digits(text: str) -> str:
    return "".join(str(int(c)) for c in text if c.isdecimal())


@st.composite
def spelled_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A valid US number as a person might type it, and its last four digits."""
    area, exchange = draw(st.integers(200, 999)), draw(st.integers(200, 999))
    line = f"{draw(st.integers(0, 9999)):04d}"
    assume(phonenumbers.is_valid_number(phonenumbers.parse(f"+1{area}{exchange}{line}")))
    first, second = draw(st.sampled_from(SEPARATORS)), draw(st.sampled_from(SEPARATORS))
    area_text = draw(st.sampled_from([f"{area}", f"({area})", f"（{area}）"]))
    if area_text != f"{area}" and first == "":
        first = draw(st.sampled_from(["", " "]))
    spelled = f"{draw(st.sampled_from(PREFIXES))}{area_text}{first}{exchange}{second}{line}"
    digits = draw(st.sampled_from([None, FULL_WIDTH, ARABIC_INDIC]))
    return (spelled.translate(digits) if digits else spelled), line


words = st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join)


def test_the_spellings_the_attack_used_are_masked() -> None:
    for note in ["617/555/0111", "617 - 555 - 0112", "617_555_0113", "６１７－５５５－０１１４",
                 "６１７／５５５／０１１５", "call 617‐555‐0116 now", "(617)555-0123",
                 "text=log P-1 10m call spoke with daughter Mary Smith at 617-555-0177"]:
        masked = redact_phones(note, region="US")
        assert masked is not None and "***" in masked, note
        assert "617" not in _digits(masked), (note, masked)


@settings(max_examples=400, deadline=None)
@given(words, spelled_numbers(), words, st.sampled_from(["", ".", ",", ")", ";", " ok"]))
def test_every_spelling_of_a_number_is_masked(before: str, number: tuple[str, str],
                                             after: str, tail: str) -> None:
    spelled, line = number
    note = f"{before} {spelled}{tail} {after}".strip()
    masked = redact_phones(note, region="US")
    assert masked is not None
    # only the last four digits are left (and the country code 1 when the matcher leaves it)
    assert _digits(masked) in (line, "1" + line), (note, masked)
    assert f"***{line}" in masked


@st.composite
def readings(draw: st.DrawFn) -> str:
    """One clinical fact as staff write them: vitals, doses, dates, times."""
    systolic = draw(st.integers(80, 250))
    diastolic = draw(st.integers(40, min(systolic - 20, 140)))
    pulse, day, month = draw(st.integers(30, 220)), draw(st.integers(1, 28)), \
        draw(st.integers(1, 12))
    year = draw(st.integers(2020, 2030))
    dose = draw(st.sampled_from([5, 10, 20, 25, 40, 50, 81, 100, 250, 500, 850, 1000, 2000]))
    return draw(st.sampled_from([
        f"BP {systolic}/{diastolic}", f"{systolic}/{diastolic}", f"{pulse} {systolic}/{diastolic}",
        f"BP {systolic}/{diastolic} HR {pulse}", f"HR {pulse}", f"{pulse} bpm",
        f"glucose {draw(st.integers(40, 400))}", f"{draw(st.integers(40, 400))} mg/dL",
        f"SpO2 {draw(st.integers(80, 100))}%", f"wt {draw(st.integers(40, 200))}.5 kg",
        f"A1c {draw(st.integers(5, 12))}.{draw(st.integers(0, 9))}%",
        f"metformin {dose} mg", f"{dose}mg", f"{dose} mg 2x daily", "q8h",
        f"{year}-{month:02d}-{day:02d}", f"{month}/{day}/{year}", f"{month}/{day}",
        f"on {day} Nov {year}", f"{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}",
        f"entry #{draw(st.integers(1, 999999))}", f"{draw(st.integers(1, 60))} min",
    ]))


@settings(max_examples=400, deadline=None)
@given(st.lists(readings(), min_size=1, max_size=6),
       st.sampled_from([" ", ", ", "; ", ". ", " / "]))
def test_clinical_text_is_left_alone(facts: list[str], joiner: str) -> None:
    note = joiner.join(facts)
    assert redact_phones(note, region="US") == note


def test_the_notes_a_lenient_matcher_broke_are_left_alone() -> None:
    for note in ["80 140/92", "BP 140/90 HR 72", "BP 120/80 120/85 118/79", "dose 1000 500 250",
                 "seen 2026-11-03, BP 140/90", "Nov 20 2026 1:30pm", "11/20/2026 07:30"]:
        assert redact_phones(note, region="US") == note


def test_nothing_to_mask() -> None:
    assert redact_phones(None, region="US") is None
    assert redact_phones("", region="US") == ""
    assert re.fullmatch(r"\*\*\*0123", redact_phones("+1 617 555 0123", region="US") or "")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_notes_are_masked_where_people_read_them(svc: Service) -> None:
    """The dashboard's entries and audit history, and the Slack picker's echo of a log."""
    seed(svc)
    entry = log(svc, "12m", note="called daughter at 617/555/0111, BP 140/90 HR 72")
    svc.entries.void(entry, reason="wrong patient: hers is ６１７－５５５－０１１２", by=NURSE)
    page = svc.dashboard.patient("P-1042", Month(2026, 11))
    shown = [page.entries[0].note, page.entries[0].void_reason] + [
        cell for event in page.audit for change in event.changes for cell in change]
    text = " ".join(c or "" for c in shown)
    assert "called daughter at ***0111, BP 140/90 HR 72" in text
    assert "hers is ***0112" in text
    assert "555" not in _digits(text)
    picker = execute.run(svc, grammar.parse("log 12m call her 617_555_0113 back"),
                         execute.Caller(NURSE, "C0MASK"))
    assert "***0113" in picker.blocks[0]["text"]["text"]
    assert "555" not in _digits(picker.blocks[0]["text"]["text"])
