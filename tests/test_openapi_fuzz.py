"""Schemathesis fuzzes every operation of the app's OpenAPI over real HTTP: never a 5xx.

The schema comes from `app.openapi()` (the service does not publish it). The app runs on
uvicorn on loopback against a seeded database in two modes: DASHBOARD_TOKEN set (every request
carries the bearer token, so the fuzzed month/staff/patient values reach the service) and
loopback-only (no token at all). Twilio callbacks are signed after generation, so fuzzed form
fields reach the parsers and the database instead of stopping at the signature check; their
schema carries every field's bounds (telephony/payloads.field_schema), so values on both
sides of each bound are sent (over-long ids, statuses over 32 characters, durations and
sequence numbers past 2^31 and 2^63 once answered 500).
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from sqlmodel import select

from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from store.models import AuditEvent, Call, TimeEntry
from tests.loopback import served
from tests.telephony.conftest import ACCOUNT_SID, PUBLIC_BASE_URL, sign, twilio_settings
from tests.web.support import TOKEN, seed_month


def _settings(dashboard_token: str | None) -> Settings:
    token = SecretStr(dashboard_token) if dashboard_token else None
    return twilio_settings(reconcile_enabled=False, dashboard_token=token)


schema = schemathesis.openapi.from_dict(create_app(_settings(TOKEN)).openapi())


def _live(svc: Service, token: str | None) -> Iterator[str]:
    seed_month(svc)
    with served(create_app(_settings(token), service=svc)) as base_url:
        yield base_url


@pytest.fixture
def with_token(svc: Service) -> Iterator[str]:
    yield from _live(svc, TOKEN)


@pytest.fixture
def loopback_only(svc: Service) -> Iterator[str]:
    yield from _live(svc, None)


def _form_text(value: Any) -> str | None:
    """A generated value as the form carries it (numbers as their digits), or None when it
    has no single text form (a list or an object)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None if value is not None else ""


def _signed(case: Any) -> dict[str, str]:
    """A Twilio signature over the generated form, for this clinic's account."""
    if not case.path.startswith("/twilio/") or not isinstance(case.body, dict):
        return {}
    texts = {name: _form_text(value) for name, value in case.body.items()}
    if any(text is None for text in texts.values()):
        return {}
    case.body = {**texts, "AccountSid": ACCOUNT_SID}
    return {"X-Twilio-Signature": sign(PUBLIC_BASE_URL + case.formatted_path, case.body)}


FUZZ = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@schema.parametrize()
@FUZZ
def test_no_operation_answers_a_server_error(case: Any, with_token: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", **_signed(case)}
    response = case.call(base_url=with_token, headers=headers)
    case.validate_response(response, checks=[not_a_server_error])
    if not case.path.startswith("/twilio/"):
        assert response.status_code not in (401, 403)  # the fuzzed values reached the service


# Without DASHBOARD_TOKEN only the dashboard's guard differs, and not with the backend.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@schema.include(tag="dashboard").parametrize()
@FUZZ
def test_the_loopback_only_dashboard_answers_no_server_error(case: Any,
                                                              loopback_only: str) -> None:
    response = case.call(base_url=loopback_only)
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code not in (401, 403)  # loopback is let in without a token


def test_the_schema_and_docs_are_not_served(svc: Service) -> None:
    """A PHI service keeps its route list to itself; only /healthz is public."""
    with TestClient(create_app(_settings(TOKEN), service=svc)) as client:
        for path in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"):
            assert client.get(path).status_code == 404
        assert client.get("/healthz").status_code == 200


# -- what the fuzzing found: a NUL character (PostgreSQL cannot store one) answered 500 ------

NUL_CALL = {"CallSid": "CA" + "1" * 32, "CallStatus": "completed", "Direction": "inbound",
            "From": "+16175550123", "To": "+16175550101", "CallDuration": "90",
            "Timestamp": "Fri, 20 Nov 2026 19:30:00 +0000", "ParentCallSid": "CA" + "2" * 32,
            "MessageSid": "SM" + "3" * 32, "Digits": "1"}


def _rows(svc: Service) -> tuple[int, int, int]:
    with svc.ctx.db.read_session() as session:
        return tuple(len(session.exec(select(model)).all())  # type: ignore[return-value]
                     for model in (TimeEntry, Call, AuditEvent))


@pytest.mark.parametrize("path", ["/twilio/voice/status", "/twilio/voice/incoming",
                                  "/twilio/voice/screen", "/twilio/voice/screen/answer",
                                  "/twilio/messaging", "/twilio/voice/menu"])
def test_a_signed_callback_with_nuls_is_refused_and_stores_nothing(
    svc: Service, path: str,
) -> None:
    seed_month(svc)
    before = _rows(svc)
    form = {name: value + "\x00" for name, value in NUL_CALL.items()}
    form["AccountSid"] = ACCOUNT_SID
    headers = {"X-Twilio-Signature": sign(PUBLIC_BASE_URL + path, form)}
    with TestClient(create_app(_settings(None), service=svc)) as client:
        response = client.post(path, data=form, headers=headers)
    if path in ("/twilio/voice/status", "/twilio/messaging", "/twilio/voice/menu"):
        assert response.status_code == 400  # a form Twilio would not send: never retried
    else:  # a live call goes on (the fallback number, the screening), nothing stored
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/xml")
    assert _rows(svc) == before


@pytest.mark.parametrize("path", ["/patients/P-1042%00", "/?month=2026-11%00",
                                  "/?staff=U01NURSE%00", "/patients/P-1042?month=%002026-11",
                                  "/reports/2026-11%00.csv"])
def test_a_dashboard_request_with_a_nul_is_a_400_page(svc: Service, path: str) -> None:
    seed_month(svc)
    with TestClient(create_app(_settings(TOKEN), service=svc)) as client:
        response = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 400 and "Cannot show that" in response.text


def test_the_fuzzed_schema_covers_the_dashboard_and_twilio() -> None:
    paths = set(schema.raw_schema["paths"])
    assert {"/healthz", "/", "/patients/{patient_id}", "/patients/{patient_id}/packet",
            "/reports/{month}.csv", "/self-audit",
            "/twilio/voice/status", "/twilio/voice/incoming", "/twilio/voice/screen",
            "/twilio/voice/screen/answer", "/twilio/messaging", "/twilio/voice/menu"} == paths


def test_every_twilio_field_in_the_schema_is_bounded() -> None:
    """The bounds are what lets the fuzzing reach values just past them."""
    for path, item in schema.raw_schema["paths"].items():
        if not path.startswith("/twilio/"):
            continue
        form = item["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
        for name, field in form["schema"]["properties"].items():
            assert {"maxLength", "pattern", "enum", "maximum"} & set(field), (path, name)
