"""Outside IT's finding (issue 23): the env file example left as shipped, apart from
DATABASE_URL, started `serve`, and `Bearer CHANGE-ME-a-long-random-string` opened the
dashboard; SLACK_SIGNING_SECRET and TWILIO_AUTH_TOKEN left at `CHANGE-ME` made the webhooks
forgeable. Settings refuse any secret still holding the example's mark, and a dashboard or
metrics token too short to be random: `serve` and every command exit 2 with one line,
without the secret in it."""

import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from configuration.settings import MIN_TOKEN_CHARS, Settings
from tests.cli.runner import Cli
from tests.test_deploy_files import example

SECRET_FIELDS = sorted(name for name, field in Settings.model_fields.items()
                       if field.annotation in (SecretStr, SecretStr | None))


def _shipped_example(tmp_path: Path) -> dict[str, str]:
    """The environment the example's set lines give, DATABASE_URL changed to a scratch
    SQLite file (what the IT person changed)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "TWILIO_", "DASHBOARD_", "METRICS_", "DATABASE_"))}
    env.update({name: value for name, value, is_set in example() if is_set})
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'rpm.db'}"
    return env


@pytest.mark.parametrize("command", [("serve",), ("staff", "list")])
def test_the_example_as_shipped_is_refused_at_start(tmp_path: Path,
                                                    command: tuple[str, ...]) -> None:
    result = Cli(_shipped_example(tmp_path))(*command, code=2)
    [line] = result.stderr.splitlines()
    assert line.startswith("error: invalid configuration: ")
    for name in ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "TWILIO_AUTH_TOKEN",
                 "DASHBOARD_TOKEN"):
        assert name in line
    assert "a-long-random-string" not in line  # the value is never shown
    assert not (tmp_path / "rpm.db").exists()  # refused before anything opened


def test_every_secret_setting_is_covered() -> None:
    assert {"slack_signing_secret", "twilio_auth_token", "dashboard_token",
            "metrics_token"} <= set(SECRET_FIELDS)


@pytest.mark.parametrize("field", [*SECRET_FIELDS, "database_url"])
def test_a_secret_holding_the_placeholder_is_refused(field: str) -> None:
    value = ("postgresql+psycopg://rpm_logger:CHANGE-ME@127.0.0.1/rpm_logger"
             if field == "database_url" else "xoxb-CHANGE-ME-" + "x" * MIN_TOKEN_CHARS)
    with pytest.raises(ValidationError) as refused:
        Settings(**{field: value})
    [error] = refused.value.errors()
    assert error["loc"] == (field,) and "CHANGE-ME placeholder" in error["msg"]
    Settings(**{field: value.replace("CHANGE-ME", "9f2c" * 8)})  # a real value starts


@pytest.mark.parametrize("field", ["dashboard_token", "metrics_token"])
def test_a_dashboard_or_metrics_token_needs_32_characters(field: str) -> None:
    with pytest.raises(ValidationError, match=f"{MIN_TOKEN_CHARS - 1} characters, "
                                              f"{MIN_TOKEN_CHARS} at least"):
        Settings(**{field: "x" * (MIN_TOKEN_CHARS - 1)})
    assert Settings(**{field: "x" * MIN_TOKEN_CHARS})
    assert not getattr(Settings(**{field: ""}), field)  # blank is unset, as before
