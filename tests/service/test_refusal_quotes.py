"""Attack finding 8 (issue 12 #9): refusals name the rule's real limit and the field as a
person knows it, and quote at most 30 characters of what was typed (billing.errors.quoted),
on the Slack grammar, the service and the store's length check alike."""

import pytest

from billing.months import Month
from bot import dispatch, grammar
from service import Service
from service.errors import InvalidInput
from service.patients import PatientFields
from tests.service.helpers import NURSE, seed

LONG = 200  # a refusal longer than this echoed the input


def _reply(svc: Service, text: str) -> str:
    reply = dispatch.run(svc, grammar.parse(text), dispatch.Caller(NURSE, "C0QUOTE"))
    return reply.text + " ".join(str(b) for b in reply.blocks)


def _refusal(call: object) -> str:
    with pytest.raises(InvalidInput) as caught:
        call()  # type: ignore[operator]
    return str(caught.value)


def test_a_huge_duration_names_the_entry_limit(svc: Service) -> None:
    seed(svc)
    text = _reply(svc, "log P-1042 99999999999999999999999h review")
    assert "240-minute limit" in text, text
    assert "16666666" not in text


@pytest.mark.parametrize("typed", ["1:" + "0" * 300, "9" * 300 + "x", "review" * 60])
def test_a_long_word_in_a_slack_log_is_quoted_short(svc: Service, typed: str) -> None:
    seed(svc)
    text = _reply(svc, f"log P-1042 {typed} review")
    assert typed[:60] not in text, text


@pytest.mark.parametrize("typed", ["call" * 80, "2026-11-" + "0" * 300])
def test_a_long_activity_or_date_is_quoted_short(svc: Service, typed: str) -> None:
    seed(svc)
    text = _reply(svc, f"log P-1042 12m {typed}" if typed.startswith("call")
                  else f"log P-1042 12m review on {typed}")
    assert typed[:60] not in text, text


def test_long_cli_values_are_quoted_short(svc: Service) -> None:
    seed(svc)
    refusals = [
        _refusal(lambda: svc.patients.add("P-77", PatientFields(conditions=("I" * 500,)),
                                          actor="t")),
        _refusal(lambda: svc.staff.add(slack_user_id="U09LONG", name="Lo Ng", npi="1" * 5000,
                                       role="physician", actor="t")),
        _refusal(lambda: svc.patients.add("P-78", PatientFields(phones=("6" * 300,)),
                                          actor="t")),
        _refusal(lambda: svc.patients.add("P-79", PatientFields(initials="J" * 300),
                                          actor="t")),
        _refusal(lambda: svc.staff.add(slack_user_id="U09LONG", name="Lo Ng", role="x" * 400,
                                       actor="t")),
    ]
    for text in refusals:
        assert len(text) < LONG, text


def test_a_long_closer_name_is_named_as_a_person_knows_it(svc: Service) -> None:
    seed(svc)
    text = _refusal(lambda: svc.closes.close(Month(2026, 10), by="x" * 5000))
    assert "The by is" not in text and "--by" in text and "120 characters" in text, text
    assert len(text) < LONG
