"""Outside tester: `rpm-logger serve` logged Bolt's "token ... will be ignored" WARNINGs at
every start; an operator cannot act on them (the token is used, by `authorize`)."""

import logging

import pytest
from fastapi.testclient import TestClient

from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service


@pytest.mark.parametrize("env_token", [False, True])
def test_serving_with_slack_starts_without_warnings(
    seeded: Service, slack_settings: Settings, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch, env_token: bool,
) -> None:
    if env_token:  # as in production, where the settings come from the environment
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(slack_settings, service=seeded)) as client:
        assert client.get("/healthz").status_code == 200
    warnings = [f"{r.name}: {r.getMessage()}" for r in caplog.records
                if r.levelno >= logging.WARNING]
    assert warnings == []
