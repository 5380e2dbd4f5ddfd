"""`serve`'s checks before it answers (outside IT, issue 23): as root it refuses a data
folder that belongs to another user (root-owned files there stopped the service's own
starts), and a database that refuses its role is one line, not a traceback. The server
itself is not started: uvicorn.run is replaced by a recorder."""

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from rpm_logger.cli import startup
from tests.cli.runner import Cli

NOBODY = 65534


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import uvicorn

    from observability import logs

    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: runs.append(kw))
    monkeypatch.setattr(logs, "configure", lambda *a: None)  # this process's logging stays
    return runs


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k != "DATABASE_URL" and not k.startswith(("SLACK_", "TWILIO_"))}
    return {**env, "RPM_DATA_DIR": str(tmp_path / "data"), **more}


def test_as_root_serve_refuses_a_folder_of_the_services_user(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: list[dict[str, Any]]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    if os.geteuid() == 0:
        os.chown(data, NOBODY, NOBODY)  # as StateDirectory= makes /var/lib/rpm-logger
    monkeypatch.setattr(startup.os, "geteuid", lambda: 0)
    result = Cli(_env(tmp_path))("serve", code=2)
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: refusing to serve as root: {data} belongs to ")
    assert "--allow-root" in line and "chown -R " in line
    assert list(data.iterdir()) == [] and started == []  # nothing made, nothing started
    Cli(_env(tmp_path))("serve", "--allow-root")
    assert len(started) == 1


def test_as_root_in_roots_own_folder_serve_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: list[dict[str, Any]]) -> None:
    """A container or CI running as root in its own folders: a warning, not a refusal."""
    if os.geteuid() != 0:
        pytest.skip("needs root to own the folder as root")
    Cli(_env(tmp_path))("serve")
    assert len(started) == 1


@pytest.mark.postgres
def test_a_role_without_a_schema_is_one_line_at_start(
        postgres_url: str, tmp_path: Path, started: list[dict[str, Any]]) -> None:
    """A role that may not create in `public` (PostgreSQL 15's default) and was given no
    schema of its own: serve says so in one line and exits 1."""
    admin = create_engine(make_url(postgres_url).set(database="postgres"),
                          isolation_level="AUTOCOMMIT")
    name = f"rpm_noschema_{os.getpid()}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE ROLE "{name}" LOGIN'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(postgres_url).set(database=name, username=name)
        result = Cli(_env(tmp_path, DATABASE_URL=url.render_as_string(hide_password=False)))(
            "serve", code=1)
        [line] = result.stderr.splitlines()
        assert line.startswith("error: cannot start: the database refused ")
        assert "permission denied" in line and "deploy/postgres-setup.sql" in line
        assert started == []
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        admin.dispose()
