"""A whole call walked as a nurse would, through the real app: every prompt in order, as
docs/voice-prompts.md shows it. The document is this walk's output, so a changed prompt fails
here until the document says it too (RPM_WRITE_VOICE_PROMPTS=1 rewrites the walk's part)."""

import os
from collections.abc import Callable
from pathlib import Path

from service.patients import PatientFields
from tests.service.helpers import NURSE, log
from tests.telephony.conftest import TwilioApp, record_outbound
from tests.voice.conftest import NURSE_PIN
from tests.voice.phone import Phone

DOC = Path(__file__).resolve().parents[2] / "docs" / "voice-prompts.md"
BEGIN, END = "<!-- walk: begin -->", "<!-- walk: end -->"


def _walk(app: TwilioApp, phone: Callable[..., Phone]) -> str:
    svc = app.service
    svc.patients.add("P-2001", PatientFields(initials="AB", assign=NURSE), actor="test")
    log(svc, "15m", "call", patient="P-2001")
    record_outbound(svc, answered_by="human", seconds=200)
    out: list[str] = []

    def section(title: str, call: Phone, since: int) -> int:
        out.append(f"### {title}\n")
        out.extend(f"{line}  " for line in call.transcript[since:])
        out.append("")
        return len(call.transcript)

    call = phone().dial().wait().press("12").press(NURSE_PIN)
    at = section("The PIN (a slow start, then a PIN too short)", call, 0)
    call.press("2").press("7").press("2").press("1").press("5").press("2").press("1")
    at = section("2: the at-risk walk (a wrong key, next, log time for this patient)",
                 call, at)
    call.press("1").press("1042").press("12").press("1").press("1")
    at = section("1: log time by keypad", call, at)
    call.press("1").say("one zero four two").say("twenty five minutes").say("education")
    call.press("1")
    at = section("1: log time by speech", call, at)
    call.press("3").say("Talked about her new cuff, no dizziness, call back Friday")
    call.press("1")
    at = section("3: a note on the last call", call, at)
    call.press("9").wait().wait().wait()
    section("9, then no answer", call, at)
    other = phone().dial().press(NURSE_PIN).press("0")
    section("Another call: 0 for a person", other, 0)
    return "\n".join(out)


def test_every_prompt_of_a_whole_call_is_in_the_document(menu_app: TwilioApp,
                                                         phone: Callable[..., Phone]) -> None:
    walk = _walk(menu_app, phone)
    text = DOC.read_text()
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    if os.environ.get("RPM_WRITE_VOICE_PROMPTS"):
        DOC.write_text(f"{head}{BEGIN}\n{walk}\n{END}{tail}")
        text = DOC.read_text()
    assert f"{BEGIN}\n{walk}\n{END}" in text
    assert "Mary" not in walk and "+1617" not in walk and "2026-" not in walk
