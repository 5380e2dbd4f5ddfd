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
    whole = ({"oidc_issuer": "https://accounts.google.com", "oidc_client_id": "rpm"}
             if field == "oidc_client_secret" else {})  # OIDC's settings go together
    Settings(**{field: value.replace("CHANGE-ME", "9f2c" * 8)}, **whole)  # a real value starts


@pytest.mark.parametrize("field", ["dashboard_token", "metrics_token"])
def test_a_dashboard_or_metrics_token_needs_32_characters(field: str) -> None:
    with pytest.raises(ValidationError, match=f"{MIN_TOKEN_CHARS - 1} characters, "
                                              f"{MIN_TOKEN_CHARS} at least"):
        Settings(**{field: "x" * (MIN_TOKEN_CHARS - 1)})
    assert Settings(**{field: "x" * MIN_TOKEN_CHARS})
    assert not getattr(Settings(**{field: ""}), field)  # blank is unset, as before


OIDC = {"oidc_issuer": "https://login.example.org/tenant/v2.0", "oidc_client_id": "rpm-dash",
        "oidc_client_secret": "s3cr3t-" + "9f2c" * 8}


@pytest.mark.parametrize(("given", "said"), [
    (("oidc_issuer",), "OIDC_CLIENT_ID, OIDC_CLIENT_SECRET are not set"),
    (("oidc_issuer", "oidc_client_id"), "OIDC_CLIENT_SECRET is not set"),
    (("oidc_client_id", "oidc_client_secret"), "OIDC_ISSUER is not set"),
])
def test_a_partial_oidc_setup_is_refused_naming_what_is_missing(given: tuple[str, ...],
                                                                said: str) -> None:
    """Outside try: OIDC_ISSUER alone started silently with sign-in off."""
    with pytest.raises(ValidationError, match=said) as refused:
        Settings(**{name: OIDC[name] for name in given})
    assert OIDC["oidc_client_secret"] not in str(refused.value)


@pytest.mark.parametrize("issuer", ["login.example.org", "ftp://login.example.org",
                                    "http://login.example.org", "https://",
                                    "https://login.example.org/?x=1", "not a url"])
def test_an_oidc_issuer_that_is_not_an_https_url_is_refused(issuer: str) -> None:
    with pytest.raises(ValidationError, match="is not an issuer URL") as refused:
        Settings(**{**OIDC, "oidc_issuer": issuer})
    assert OIDC["oidc_client_secret"] not in str(refused.value)


def test_a_whole_oidc_setup_starts_and_the_start_up_lines_name_its_issuer_host() -> None:
    from rpm_logger.wiring import describe_configuration

    lines = "\n".join(describe_configuration(Settings(**OIDC)))
    assert "dashboard sign-in: OpenID Connect with issuer login.example.org" in lines
    assert "s3cr3t" not in lines and "rpm-dash" not in lines
    assert "loopback clients, who are admins without a sign-in cookie" in lines
    off = "\n".join(describe_configuration(Settings()))
    assert "dashboard sign-in: off; set OIDC_ISSUER" in off
    assert Settings(oidc_issuer="  ", oidc_client_id="").oidc_configured is False  # blank: unset
    assert Settings(**{**OIDC, "oidc_issuer": "http://127.0.0.1:8123"}).oidc_configured


def test_serve_with_a_partial_oidc_setup_exits_2_before_opening_anything(
        tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "DATABASE_"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'rpm.db'}",
               OIDC_ISSUER="https://accounts.google.com")
    [line] = Cli(env)("serve", code=2).stderr.splitlines()
    assert line.startswith("error: invalid configuration: ") and "OIDC_CLIENT_ID" in line
    assert not (tmp_path / "rpm.db").exists()
