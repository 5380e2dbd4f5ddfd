"""The reference deployment's files (deploy/, docs/deploy.md) agree with the product: the env
file example lists every setting of the README's table, in its order, its defaults are the
real defaults and its values load; the systemd units run what the docs say, read the env
file the docs install, and log to the journal (so no logrotate rule is needed); Caddy
proxies to loopback only and health-checks /healthz. The drill (test_deploy_drill.py) runs
the Caddyfile and the PostgreSQL set-up for real."""

import configparser
import re
from pathlib import Path

import pytest

from configuration.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
ENV_FILE = "/etc/rpm-logger/rpm-logger.env"
TESTS_ONLY = {"RPM_TEST_POSTGRES_URL"}
_LINE = re.compile(r"^(# )?([A-Z][A-Z0-9_]*)=(.*)$")


def readme_settings() -> list[str]:
    """The variables of the README's settings table, in order."""
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| variable | default | meaning |"):].split("\n\n", 1)[0]
    return re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", table, re.M)


def example() -> list[tuple[str, str, bool]]:
    """(name, value, set) for each setting line of the env file example; set: not a comment."""
    found = []
    for line in (DEPLOY / "rpm-logger.env.example").read_text().splitlines():
        match = _LINE.match(line)
        if match:
            found.append((match.group(2), match.group(3), match.group(1) is None))
    return found


def settings_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None) or ([alias] if alias else [name])
        names.add(str(choices[0]).upper())
    return names


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / name).read_text())
    return parser


def test_the_env_example_lists_every_setting_of_the_readme_in_its_order() -> None:
    names = [name for name, _, _ in example()]
    assert names == readme_settings()
    assert settings_names() == set(names) - TESTS_ONLY


def test_the_env_examples_values_load_and_its_defaults_are_the_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in readme_settings():
        monkeypatch.delenv(name, raising=False)
    default = Settings()
    for name, value, is_set in example():
        if name in TESTS_ONLY or not value or "$" in value:
            continue
        field = name.lower() if name != "RPM_DATA_DIR" else "data_dir"
        if is_set:  # a placeholder loads once replaced (tests/test_placeholder_secrets.py)
            monkeypatch.setenv(name, value.replace("CHANGE-ME", "9f2c" * 8))
        else:  # a commented line says the default: it is the default
            with monkeypatch.context() as one:
                one.setenv(name, value)
                assert getattr(Settings(), field) == getattr(default, field), name
    configured = Settings()
    assert configured.resolved_database_url.startswith("postgresql+psycopg://")
    assert configured.twilio_configured and configured.public_base_url.startswith("https://")
    assert configured.dashboard_token is not None


def test_one_serve_process_per_port_on_loopback_reading_the_env_file() -> None:
    service = unit("rpm-logger@.service")["Service"]
    assert service["ExecStart"].endswith("rpm-logger serve --host 127.0.0.1 --port %i")
    assert service["EnvironmentFile"] == ENV_FILE
    assert service["User"] == "rpm-logger" and service["Restart"] == "always"
    assert service["StateDirectory"] == "rpm-logger"


def test_the_backup_runs_daily_from_a_timer_with_the_same_env_file() -> None:
    service = unit("rpm-logger-backup.service")["Service"]
    assert service["Type"] == "oneshot" and service["EnvironmentFile"] == ENV_FILE
    assert " backup --out " in service["ExecStart"]
    assert "-mtime +35 -delete" in service["ExecStartPost"]  # the daily rule's retention
    timer = unit("rpm-logger-backup.timer")["Timer"]
    assert timer["OnCalendar"] and timer["Persistent"] == "true"
    cli = (DEPLOY / "rpm-logger-cli").read_text()
    assert f"EnvironmentFile={ENV_FILE}" in cli and "--uid=rpm-logger" in cli


@pytest.mark.parametrize("name", ["rpm-logger@.service", "rpm-logger-backup.service"])
def test_the_units_log_to_the_journal_so_no_logrotate_rule_is_needed(name: str) -> None:
    service = unit(name)["Service"]
    for key in ("StandardOutput", "StandardError"):
        assert not service.get(key, "journal").startswith(("file:", "append:", "truncate:"))


def test_caddy_proxies_to_loopback_processes_health_checked_on_healthz() -> None:
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    [upstreams] = re.findall(r"^\treverse_proxy (.+) \{$", caddyfile, re.M)
    assert all(u.startswith("127.0.0.1:") for u in upstreams.split())
    assert re.search(r"^\t\thealth_uri /healthz$", caddyfile, re.M)
    service_ports = {u.rsplit(":", 1)[1] for u in upstreams.split()}
    deploy_doc = (ROOT / "docs" / "deploy.md").read_text()
    for port in service_ports:  # the guide starts a process on each port Caddy proxies to
        assert f"rpm-logger@{port}" in deploy_doc


@pytest.mark.parametrize("sudo_user", ["ada", None])
def test_the_cli_wrapper_passes_the_administrator_on(tmp_path: Path,
                                                     sudo_user: str | None) -> None:
    """deploy/rpm-logger-cli runs the command as rpm-logger; the audit trail names the one
    who ran it (SUDO_USER, else the caller's login), not rpm-logger. systemd-run is a fake
    here that prints what it was asked to run."""
    import os
    import pwd
    import subprocess

    fake = tmp_path / "systemd-run"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "SUDO_USER"}
    env["PATH"] = f"{tmp_path}:{env['PATH']}"
    if sudo_user:
        env["SUDO_USER"] = sudo_user
    result = subprocess.run(["sh", str(DEPLOY / "rpm-logger-cli"), "staff", "list"], env=env,
                            capture_output=True, text=True, timeout=30, check=True,
                            stdin=subprocess.DEVNULL)
    args = result.stdout.splitlines()
    assert f"Environment=SUDO_USER={sudo_user or pwd.getpwuid(os.getuid()).pw_name}" in args
    assert args[-3:] == ["/opt/rpm-logger/.venv/bin/rpm-logger", "staff", "list"]
    assert "--uid=rpm-logger" in args


def test_caddys_admin_api_is_a_socket_and_its_log_drops_the_token() -> None:
    """Outside IT (issue 23): the admin API on localhost:2019 let every local user reconfigure
    Caddy, and a 502's error line carried the dashboard's ?token=. Caddy itself reads the
    file (`caddy adapt`, Debian's 2.6) where it is installed."""
    import json
    import shutil
    import subprocess

    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy is not installed")
    adapted = json.loads(subprocess.run(
        [caddy, "adapt", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True, text=True, timeout=60, check=True).stdout)
    assert adapted["admin"]["listen"] == "unix//run/caddy/admin.sock"
    fields = adapted["logging"]["logs"]["default"]["encoder"]["fields"]
    assert fields["request>uri"] == {"filter": "query",
                                     "actions": [{"type": "delete", "parameter": "token"}]}
    assert fields["request>headers>Authorization"] == {"filter": "delete"}
    assert fields["request>headers>Cookie"] == {"filter": "delete"}
