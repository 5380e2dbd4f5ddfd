"""Clinic finding (issue 26 item 15): Slack showed a month's codes as `99457;99458`."""

from datetime import UTC, datetime

from presentation import blocks
from service import Service
from tests.service.helpers import log, seed


def test_slack_shows_codes_as_people_read_them(svc: Service) -> None:
    seed(svc)
    log(svc, "65m", "call", started_at=datetime(2026, 11, 10, 15, tzinfo=UTC))
    reply = blocks.summary_reply(svc.months.summary("P-1042"))
    text = str(reply.blocks)
    assert "codes: 99457 + 99458 ×2" in text and ";" not in text.split("codes:")[1][:30]
