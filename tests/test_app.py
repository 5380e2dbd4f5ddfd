"""The ASGI app: health, unconfigured adapters, and `serve` on loopback for real."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import anyio.to_thread
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from store.db import Database
from store.leadership import Leadership
from tests.loopback import free_port

SCRIPT = Path(sys.executable).with_name("rpm-logger")


@pytest.fixture
def client(svc: Service) -> TestClient:
    with TestClient(create_app(Settings(), service=svc)) as test_client:
        yield test_client


def test_healthz_is_200_when_the_database_answers(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"database": "ok"}


def test_healthz_is_503_when_the_database_does_not(svc: Service) -> None:
    down = Service(svc.ctx.__class__(Database("postgresql+psycopg://nobody@127.0.0.1:1/x"),
                                     svc.ctx.policy, svc.ctx.clock))
    with TestClient(create_app(Settings(), service=down)) as test_client:
        response = test_client.get("/healthz")
    assert response.status_code == 503 and response.json() == {"database": "unavailable"}


def test_healthz_answers_while_every_request_thread_and_pooled_connection_is_busy(
        client: TestClient, svc: Service) -> None:
    """A busy process is healthy: Caddy's probe (deploy/Caddyfile) must not wait behind the
    requests it balances, or under a burst the one process left after a crash is taken out
    and Caddy answers 503 to everyone (the deployment drill saw it once). The probe has its
    own worker threads and its own connection; saves waiting their turn do not hold it."""
    limiter = client.portal.call(anyio.to_thread.current_default_thread_limiter)
    tokens, borrower = limiter.total_tokens, object()
    pool = svc.ctx.db.engine.pool
    held: list[Connection] = []
    try:
        client.portal.call(setattr, limiter, "total_tokens", 1)
        client.portal.call(limiter.acquire_on_behalf_of_nowait, borrower)
        for _ in range(pool.size() + getattr(pool, "_max_overflow", 0) - pool.checkedout()):
            held.append(svc.ctx.db.engine.connect())
        response = client.get("/healthz")
    finally:
        for connection in held:
            connection.close()
        if borrower in limiter._borrowers:  # noqa: SLF001 - as it was, for the app's shutdown
            client.portal.call(limiter.release_on_behalf_of, borrower)
        client.portal.call(setattr, limiter, "total_tokens", tokens)
    assert response.status_code == 200 and response.json() == {"database": "ok"}


def _read_only_url(db_url: str) -> str:
    """The same database, opened so that every write fails (as a read-only SQLite file
    or a read-only PostgreSQL transaction does); root ignores file modes, so the URL says it."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///file:{db_url.removeprefix('sqlite:///')}?mode=ro&uri=true"
    return f"{db_url}?options=-c%20default_transaction_read_only%3Don"


def _counts(db: Database) -> tuple[int, int]:
    with db.engine.connect() as connection:
        return (connection.exec_driver_sql("SELECT count(*) FROM audit_events").scalar_one(),
                connection.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar_one())


def test_healthz_is_503_when_the_database_answers_but_cannot_write(
        svc: Service, db_url: str) -> None:
    read_only = Database(_read_only_url(db_url))
    assert read_only.ping()  # it answers reads: what /healthz used to check
    stuck = Service(svc.ctx.__class__(read_only, svc.ctx.policy, svc.ctx.clock))
    try:
        with TestClient(create_app(Settings(), service=stuck)) as test_client:
            response = test_client.get("/healthz")
    finally:
        read_only.dispose()
    assert response.status_code == 503 and response.json() == {"database": "read-only"}


def _chattr(flag: str, *paths: Path) -> bool:
    """chattr on `paths`; False where the file system or user cannot (not root, tmpfs)."""
    done = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, check=False)
    return done.returncode == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_healthz_is_503_when_the_sqlite_file_is_immutable(svc: Service, db_url: str) -> None:
    """Attack finding 3: `chattr +i` on the database file (standing in for a file the disk
    will not change) under a running server: its open connections' rolled-back probe never
    reaches the file, so /healthz said 200 while saves failed (at the WAL's checkpoint,
    "disk I/O error"). The probe now asks the kernel whether the files take writes."""
    path = Path(db_url.removeprefix("sqlite:///"))
    with TestClient(create_app(Settings(), service=svc)) as client:
        assert client.get("/healthz").status_code == 200  # connections are open now
        if not _chattr("+i", path):
            pytest.skip("chattr +i needs root on a file system that supports it")
        try:
            response = client.get("/healthz")
        finally:
            assert _chattr("-i", path)
        assert client.get("/healthz").status_code == 200  # and healthy again once it can
    assert response.status_code == 503 and response.json() == {"database": "read-only"}


def test_the_write_probe_leaves_nothing(client: TestClient, svc: Service) -> None:
    before = _counts(svc.ctx.db)
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert _counts(svc.ctx.db) == before  # no audit record, no row: the write rolled back


@pytest.mark.parametrize("path", ["/slack/events", "/twilio/voice/status",
                                  "/twilio/messaging"])
def test_unconfigured_adapters_answer_503(client: TestClient, path: str) -> None:
    response = client.post(path, data={"a": "b"})
    assert response.status_code == 503
    assert "not configured" in response.json()["error"]


def test_serve_starts_on_a_fresh_sqlite_default_with_no_adapters(tmp_path: Path) -> None:
    """With LOG_FORMAT=json too (one process for both: starting one costs seconds): every
    line of `serve`, uvicorn's included, is one JSON object, and a request's access line
    carries the proxy's request id (tests/test_request_logs.py has the rest)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "TWILIO_", "DATABASE_URL", "LOG_"))}
    env.update(RPM_DATA_DIR=str(tmp_path / "data"), LOG_FORMAT="json")
    server = subprocess.Popen([str(SCRIPT), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2,
                                     headers={"X-Request-ID": "proxy-id-1"})
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "serve did not start in 30 s"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "proxy-id-1"
        database_file = tmp_path / "data" / "rpm-logger.db"
        assert database_file.exists()
        # the scheduler leader from the start (what `restore` checks): nobody else leads
        other = Database(f"sqlite:///{database_file}")
        assert not Leadership(other).leading()
        other.dispose()
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=15)
    assert Leadership(other).leading()  # the stopped server gave it up
    lines = [json.loads(line) for line in output.splitlines()]  # every line is one object
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    said = [line["message"] for line in lines]
    assert any("slack: not configured; set SLACK_SIGNING_SECRET" in m for m in said)
    assert any("twilio: not configured" in m for m in said)
    assert any(line["logger"] == "uvicorn.error" for line in lines)
    access = [line for line in lines if line["logger"] == "rpm_logger.access"]
    assert [(a["route"], a["status"], a["request_id"]) for a in access] == [
        ("/healthz", 200, "proxy-id-1")]
