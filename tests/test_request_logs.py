"""Every request gets an id (the proxy's X-Request-ID, else a new one, returned in the answer)
and one access line naming its route template, status and duration; LOG_FORMAT=json writes
every line of `serve` as one JSON object (issue 23 part 3; the real `serve` process is run
in tests/test_app.py). The PHI scan of both formats is tests/test_log_phi.py."""

import json
import logging
import re
import sys

import pytest
from fastapi.testclient import TestClient

from configuration.settings import Settings
from observability.logs import JsonFormatter, formatter
from rpm_logger.app import create_app
from service import Service

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
HEX_ID = re.compile(r"[0-9a-f]{32}")


def _access(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "rpm_logger.access"]


@SQLITE
def test_each_request_has_an_id_and_one_access_line_with_route_status_and_duration(
    svc: Service, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    with TestClient(create_app(Settings(reminders_enabled=False), service=svc),
                    client=("127.0.0.1", 50000)) as client:
        caplog.clear()  # the start-up lines
        given = client.get("/patients/+16175550123",
                           headers={"X-Request-ID": "caddy-4f1a-77"})
        made = client.get("/healthz")
        odd = client.get("/nowhere", headers={"X-Request-ID": "not an id; {\"a\": 1}"})
    assert given.headers["x-request-id"] == "caddy-4f1a-77"
    assert HEX_ID.fullmatch(made.headers["x-request-id"])
    assert HEX_ID.fullmatch(odd.headers["x-request-id"])  # not echoed: a new one
    lines = _access(caplog)
    assert [(r.request_id, r.route, r.method, r.status) for r in lines] == [  # type: ignore[attr-defined]
        ("caddy-4f1a-77", "/patients/{patient_id}", "GET", 404),
        (made.headers["x-request-id"], "/healthz", "GET", 200),
        (odd.headers["x-request-id"], "unmatched", "GET", 404)]
    assert all(r.duration_ms >= 0 for r in lines)  # type: ignore[attr-defined]
    assert all("5550123" not in r.getMessage() for r in lines)  # the template, not the path


@SQLITE
def test_a_json_line_per_record_and_text_lines_with_timestamps(
    svc: Service, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    with TestClient(create_app(Settings(reminders_enabled=False), service=svc),
                    client=("127.0.0.1", 50000)) as client:
        request_id = client.get("/healthz").headers["x-request-id"]
    (access,) = _access(caplog)
    line = JsonFormatter().format(access)
    assert "\n" not in line
    assert json.loads(line) == {
        "time": json.loads(line)["time"], "level": "INFO", "logger": "rpm_logger.access",
        "message": access.getMessage(), "request_id": request_id, "route": "/healthz",
        "method": "GET", "status": 200, "duration_ms": access.duration_ms}  # type: ignore[attr-defined]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", json.loads(line)["time"])
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO rpm_logger.access: GET "
                    r"/healthz 200 ", formatter("text").format(access))
    try:
        raise ValueError("two\nlines")
    except ValueError:
        failed = logging.LogRecord("rpm_logger", logging.ERROR, __file__, 1, "failed: %s",
                                   ("x",), sys.exc_info())
    parsed = json.loads(JsonFormatter().format(failed))
    assert parsed["message"] == "failed: x" and "ValueError: two\nlines" in parsed["exception"]
