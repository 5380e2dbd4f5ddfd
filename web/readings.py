"""`POST /devices/readings`: device vendors send readings (issue 28).

Signed like Slack's requests: `X-RPM-Signature: sha256=HEX`, HEX the HMAC-SHA256 of
`TIMESTAMP.BODY` (the `X-RPM-Timestamp` header, a dot, the raw body) with
DEVICE_WEBHOOK_SECRET; the timestamp (Unix seconds) within 5 minutes of now. The body is one
reading or a list of up to 500 (JSON), or FHIR R4 Observations (one, or a Bundle) with
`Content-Type: application/fhir+json`. One request is one transaction: every reading stored
(each once), or, on any refusal, none.

Answers: 200 with counts (`received`, `stored`, `replayed`, `unmatched`); 400 naming the
first bad field; 401 bad or stale signature; 413 over DEVICE_MAX_REQUEST_BYTES; 503 until
DEVICE_WEBHOOK_SECRET is set, or when the database does not answer. No answer or log line
holds a reading's values.
"""

import hashlib
import hmac
import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from billing.digits import is_digits
from configuration.settings import Settings
from service import Service
from service.devices import MAX_READINGS_PER_REQUEST, IngestResult, ReadingIn, reading_from
from service.errors import BadInput, StoreUnavailable
from web import fhir

READINGS_PATH = "/devices/readings"
MAX_SKEW_S = 300
FHIR_JSON = "application/fhir+json"

log = logging.getLogger("rpm_logger.devices")


def signature_of(secret: bytes, timestamp: str, body: bytes) -> str:
    """The header value a vendor sends: `sha256=` and the hex HMAC of `TIMESTAMP.BODY`."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _signed(secret: bytes, request: Request, body: bytes, now: float) -> bool:
    timestamp = request.headers.get("x-rpm-timestamp", "")
    given = request.headers.get("x-rpm-signature", "")
    if not is_digits(timestamp) or len(timestamp) > 12:
        return False
    if abs(now - int(timestamp)) > MAX_SKEW_S:
        return False
    return hmac.compare_digest(signature_of(secret, timestamp, body).encode(),
                               given.encode("ascii", "replace"))


def parse_readings(body: bytes, content_type: str) -> tuple[list[ReadingIn], str, int]:
    """The checked readings of a body, their source (`webhook` or `fhir`) and how many
    Observations were skipped by their status (web.fhir.is_reading); BadInput names the
    first bad field."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadInput("body: not JSON") from None
    if content_type.split(";")[0].strip().lower() == FHIR_JSON:
        found = fhir.observations(data)
        _check_count(len(found))
        kept = [(path, resource) for path, resource in found
                if fhir.is_reading(path, resource)]
        return ([_fhir_reading(path, resource) for path, resource in kept], "fhir",
                len(found) - len(kept))
    if isinstance(data, dict):
        return [reading_from(data)], "webhook", 0
    if not isinstance(data, list):
        raise BadInput("body: a reading (JSON object) or a list of readings")
    _check_count(len(data))
    return [reading_from(item, where=f"readings[{index}].")
            for index, item in enumerate(data)], "webhook", 0


def _fhir_reading(path: str, resource: Any) -> ReadingIn:
    """One Observation as a reading; a refusal names its FHIR path ("entry[1].resource.subject")."""
    fields, names = fhir.reading_fields(path, resource)
    return reading_from(fields, where=path, names=names)


def _check_count(count: int) -> None:
    if count == 0:
        raise BadInput("body: no reading")
    if count > MAX_READINGS_PER_REQUEST:
        raise BadInput(f"body: {count} readings; at most {MAX_READINGS_PER_REQUEST} a request")


def readings_router(settings: Settings) -> APIRouter:
    router = APIRouter()
    secret = settings.device_webhook_secret

    @router.post(READINGS_PATH, include_in_schema=False)
    async def readings(request: Request) -> JSONResponse:
        if secret is None:
            return JSONResponse({"error": "device readings are not configured",
                                 "how": "set DEVICE_WEBHOOK_SECRET"}, status_code=503)
        body = await request.body()
        service: Service = request.app.state.service
        if not _signed(secret.get_secret_value().encode(), request, body,
                       service.ctx.now().timestamp()):
            return JSONResponse({"error": "bad or stale signature"}, status_code=401)
        try:
            found, source, skipped = parse_readings(body,
                                                    request.headers.get("content-type", ""))
            result = (await run_in_threadpool(
                service.devices.ingest, found, source=source, actor=f"devices:{source}")
                if found else IngestResult(0, 0, 0, 0))  # every Observation skipped
        except BadInput as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except StoreUnavailable:
            return JSONResponse({"error": "database unavailable; nothing stored"},
                                status_code=503)
        log.info("device readings: %d received, %d stored, %d replayed, %d unmatched, "
                 "%d skipped", result.received, result.stored, result.replayed,
                 result.unmatched, skipped)
        if result.closed_changes:  # kept: a vendor cannot amend; the months show it
            log.warning("device readings changed the device codes of closed months %s "
                        "(%d patient-months): kept, shown as changed since close",
                        ", ".join(sorted({c.month for c in result.closed_changes})),
                        len(result.closed_changes))
        return JSONResponse({"received": result.received, "stored": result.stored,
                             "replayed": result.replayed, "unmatched": result.unmatched,
                             "skipped": skipped})

    return router
