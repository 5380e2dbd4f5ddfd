"""The manifest a clinic pastes matches what the code serves."""

from pathlib import Path
from urllib.parse import urlparse

import yaml

from presentation import blocks

MANIFEST = Path(__file__).resolve().parents[2] / "slack" / "manifest.yml"


def test_manifest_points_everything_at_the_one_signed_url() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    [command] = manifest["features"]["slash_commands"]
    settings = manifest["settings"]
    urls = [command["url"], settings["event_subscriptions"]["request_url"],
            settings["interactivity"]["request_url"]]
    assert {urlparse(u).path for u in urls} == {"/slack/events"}
    assert command["command"] == "/rpm" and command["should_escape"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands", "chat:write", "users:read", "im:write", "files:write", "im:history"}
    assert blocks.HOME_START_ACTION and blocks.PICK_ACTION  # interactivity has listeners
