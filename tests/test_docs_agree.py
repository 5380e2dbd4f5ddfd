"""Clinic finding (issue 26 item 13): the docs contradicted the product. The README said Slack
admins may amend a closed month (Slack refuses and points to the CLI); docs/security.md said
`export` keeps notes as typed (it masks phone numbers). Each claim is held to the code here."""

import re
from pathlib import Path

from service.closes import AMEND_LOG

ROOT = Path(__file__).resolve().parent.parent


def _flat(path: str) -> str:
    return re.sub(r"\s+", " ", (ROOT / path).read_text())


def test_the_readme_says_slack_cannot_amend_as_slack_does() -> None:
    readme = _flat("README.md")
    assert "in Slack only admins may amend" not in readme
    assert "Slack cannot amend a closed month" in readme
    assert "Slack cannot amend a closed month" in AMEND_LOG  # what Slack replies


def test_security_doc_says_export_masks_numbers_in_notes() -> None:
    security = _flat("docs/security.md")
    assert "`export` keeps notes as typed" not in security
    assert "`export` masks phone numbers in notes" in security
    # and it does: tests/cli/test_cli.py::test_export_masks_a_phone_number_typed_into_a_note_...


def test_every_setting_is_in_the_readme_table() -> None:
    """Each Settings field (or its environment alias) has a row in the README's settings
    table (DEVICE_WEBHOOK_SECRET and DEVICE_MAX_REQUEST_BYTES among them, issue 28)."""
    from configuration.settings import Settings

    rows = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", (ROOT / "README.md").read_text(), re.M))
    missing = []
    for name, info in Settings.model_fields.items():
        names = {name.upper()} | {str(c).upper() for c in
                                  getattr(info.validation_alias, "choices", ())}
        if not names & rows:
            missing.append(name)
    assert missing == []
    assert {"DEVICE_WEBHOOK_SECRET", "DEVICE_MAX_REQUEST_BYTES"} <= rows
