"""Pure helpers of the dashboard service: phone redaction in free text, audit changes."""

import pytest

from service.dashboard import audit_changes
from service.phones import redact_phones


@pytest.mark.parametrize(("text", "expected"), [
    ("call back at (617) 555-0123 please", "call back at ***0123 please"),
    ("+1 617 555 0123", "***0123"),
    ("+16175550123 and 617.555.0124", "***0123 and ***0124"),
    # a 7-digit local number reads like "80 140/92" (pulse, blood pressure): left alone
    ("555-0123", "555-0123"),
    ("seen on 2026-11-03, BP 140/90", "seen on 2026-11-03, BP 140/90"),
    ("12 min, entry #123456", "12 min, entry #123456"),  # 6 digits: not a phone
    ("", ""),
    (None, None),
])
def test_redact_phones(text: str | None, expected: str | None) -> None:
    assert redact_phones(text, region="US") == expected


def test_audit_changes_lists_changed_fields_masks_free_text_keeps_dates() -> None:
    before = {"id": 7, "patient_id": 1, "note": "x", "voided_at": None, "phones": ["+1******0123"],
              "started_at": "2026-11-03T15:00:00+00:00"}
    after = {"id": 7, "patient_id": 1, "note": "x", "voided_at": "2026-11-20T20:00:00+00:00",
             "void_reason": "wrong patient, he is 617 555 0124", "phones": ["+1******0123"],
             "started_at": "2026-11-03T15:00:00+00:00"}
    assert audit_changes(before, after, region="US") == (
        ("void_reason", "", "wrong patient, he is ***0124"),
        ("voided_at", "", "2026-11-20T20:00:00+00:00"),
    )
    assert audit_changes(None, {"conditions": ["E11.9", "I10"], "staff_id": 3},
                         region="US") == (
        ("conditions", "", "E11.9, I10"),
    )
