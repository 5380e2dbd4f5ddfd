"""Clinic finding (issue 26 item 1): `/rpm risk` said "(32)" and showed 30 patients, its last
line cut mid-word (one section, `text[:3000]`). A list reply now fills as many sections as its
lines need and, past 40 lines, says how many more there are and where to see them."""

import pytest

from presentation import blocks
from service import Service
from service.patients import PatientFields
from tests.service.helpers import NURSE, seed


def _at_risk_clinic(svc: Service, count: int) -> None:
    seed(svc)
    for number in range(count):  # long initials make long lines, as real labels can
        svc.patients.add(f"P-{2000 + number}", PatientFields(initials="ABCD",
                                                            assign=NURSE), actor="test")


def _texts(reply: blocks.Reply) -> list[str]:
    return [block["text"]["text"] for block in reply.blocks if block["type"] == "section"]


@pytest.mark.parametrize("count", [32, 39])
def test_every_patient_at_risk_is_listed_whole(svc: Service, count: int) -> None:
    _at_risk_clinic(svc, count)
    rows = svc.months.at_risk()
    assert len(rows) == count + 1  # and P-1042, with no time yet
    texts = _texts(blocks.risk_reply(rows))
    assert len(texts) > 1 and all(len(text) <= blocks.SECTION_CHARS for text in texts)
    listed = "\n".join(texts)
    assert texts[0].startswith(f"*At risk this month* ({count + 1})")
    for row in rows:
        assert listed.count(f"*{row.summary.label}*") == 1, row.summary.label
    assert "more:" not in listed and "…" not in listed.replace("…and", "")


def test_past_forty_the_reply_says_how_many_more_and_where(svc: Service) -> None:
    _at_risk_clinic(svc, 44)
    rows = svc.months.at_risk()
    texts = _texts(blocks.risk_reply(rows))
    assert all(len(text) <= blocks.SECTION_CHARS for text in texts)
    assert sum(text.count("\n🔴") + text.count("\n🟠") + text.count("\n🟡") for text in texts) \
        + sum(text[:1] in "🔴🟠🟡" for text in texts) == 40
    assert texts[-1].endswith("…and 5 more: the dashboard's month page (sorted by risk) or "
                              "`rpm-logger report` lists them all")


def test_the_caseload_and_app_home_say_how_many_more(svc: Service) -> None:
    _at_risk_clinic(svc, 44)
    rows = svc.months.caseload(NURSE)
    assert len(rows) == 45
    caseload = _texts(blocks.caseload_reply(rows))
    assert caseload[-1].endswith("…and 5 more: the dashboard's month page lists them all")
    home = blocks.home_view(rows, None, svc.ctx.policy.zone)
    assert "…and 5 more of your patients" in str(home["blocks"])


def test_a_section_over_slacks_limit_ends_visibly() -> None:
    [section] = blocks.text_reply("x" * 4000).blocks
    assert len(section["text"]["text"]) == blocks.SECTION_CHARS
    assert section["text"]["text"].endswith("…")
