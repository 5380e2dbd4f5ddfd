"""`POST /devices/readings` end to end on both databases, through the real app in-process:
signed JSON, a FHIR Bundle, an unknown serial kept unmatched, a replay stored once, a bad
signature (401) and a bad field (400) storing nothing, 503 without the secret, and the
route's own body limit."""

import json
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from service.patients import PatientFields
from store import devices as device_rows
from tests.loopback import in_process
from tests.service.helpers import seed
from web.readings import signature_of

SECRET = "device-vendor-secret"
NOW = 1_795_204_800  # the frozen clock: 2026-11-20 20:00 UTC


def _settings(**extra: object) -> Settings:
    return Settings(device_webhook_secret=SecretStr(SECRET), reminders_enabled=False,
                    reconcile_enabled=False, **extra)  # type: ignore[arg-type]


@pytest.fixture
def http(svc: Service) -> Iterator[httpx.Client]:
    seed(svc)
    svc.devices.add("BP-0042", patient_ref="P-1042", kind="bp_cuff",
                    from_day=date(2026, 11, 1), actor="test")
    with in_process(create_app(_settings(), service=svc)) as client:
        yield client


def post(http: httpx.Client, body: object, *, fhir: bool = False, ts: int = NOW,
         secret: str = SECRET) -> httpx.Response:
    raw = json.dumps(body).encode()
    return http.post("/devices/readings", content=raw, headers={
        "Content-Type": "application/fhir+json" if fhir else "application/json",
        "X-RPM-Timestamp": str(ts),
        "X-RPM-Signature": signature_of(secret.encode(), str(ts), raw)})


def reading(day: int, rid: str | None = None, serial: str = "BP-0042") -> dict[str, object]:
    fields: dict[str, object] = {
        "device_serial": serial, "patient_id": "P-1042",
        "measured_at": f"2026-11-{day:02d}T07:12:00-05:00", "kind": "blood_pressure",
        "values": {"systolic": 128, "diastolic": 82}}
    if rid:
        fields["reading_id"] = rid
    return fields


def stored(svc: Service) -> int:
    with svc.ctx.db.read() as conn:
        return device_rows.reading_count(conn)


def test_signed_readings_are_stored_once(http: httpx.Client, svc: Service) -> None:
    answer = post(http, [reading(d, f"vendor-{d}") for d in range(2, 18)])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": 16, "stored": 16, "replayed": 0, "unmatched": 0,
                             "skipped": 0}
    replay = post(http, reading(2, "vendor-2"))
    assert replay.json() == {"received": 1, "stored": 0, "replayed": 1, "unmatched": 0,
                             "skipped": 0}
    assert stored(svc) == 16
    assert svc.devices.status("P-1042").periods[0].day_count == 16
    assert "128" not in answer.text + replay.text


def test_a_fhir_bundle_maps_device_subject_and_time(http: httpx.Client, svc: Service) -> None:
    observation = {
        "resourceType": "Observation", "id": "obs-1", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": "Patient/P-1042"},
        "device": {"reference": "Device/BP-0042"},
        "effectiveDateTime": "2026-11-05T08:00:00-05:00",
        "component": [
            {"code": {"coding": [{"code": "8480-6"}]}, "valueQuantity": {"value": 131}},
            {"code": {"coding": [{"code": "8462-4"}]}, "valueQuantity": {"value": 85}}]}
    weight = {"resourceType": "Observation", "id": "obs-2",
              "code": {"coding": [{"code": "29463-7"}]},
              "device": {"identifier": {"value": "SC-77"}},
              "effectiveDateTime": "2026-11-06T08:00:00Z",
              "valueQuantity": {"value": 81.2, "unit": "kg"}}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": observation}, {"resource": {"resourceType": "Device", "id": "x"}},
        {"resource": weight}]}
    answer = post(http, bundle, fhir=True)
    assert answer.json() == {"received": 2, "stored": 2, "replayed": 0, "unmatched": 1,
                             "skipped": 0}
    [unmatched] = svc.devices.unmatched()
    assert (unmatched.serial, unmatched.readings) == ("SC-77", 1)
    broken = dict(observation, effectiveDateTime=None)
    refused = post(http, {"resourceType": "Bundle", "entry": [{"resource": broken}]}, fhir=True)
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("entry[0].resource.effectiveDateTime")


def test_observations_entered_in_error_or_cancelled_are_skipped_and_counted_as_such(
        http: httpx.Client, svc: Service) -> None:
    weight = {"resourceType": "Observation", "code": {"coding": [{"code": "29463-7"}]},
              "device": {"reference": "Device/BP-0042"}, "valueQuantity": {"value": 81.2}}

    def on(day: int, status: str) -> dict[str, object]:
        return {"resource": weight | {"id": f"w-{day}", "status": status,
                                      "effectiveDateTime": f"2026-11-{day:02}T08:00:00Z"}}

    bundle = {"resourceType": "Bundle", "entry": [
        on(3, "final"), on(4, "entered-in-error"), on(5, "cancelled"), on(6, "amended"),
        on(7, "corrected"), on(8, "preliminary"), on(9, "registered"), on(10, "unknown")]}
    answer = post(http, bundle, fhir=True)
    assert answer.json() == {"received": 4, "stored": 4, "replayed": 0, "unmatched": 0,
                             "skipped": 4}
    [period] = svc.devices.status("P-1042").periods
    assert period.days == (date(2026, 11, 3), date(2026, 11, 6), date(2026, 11, 7),
                           date(2026, 11, 8))
    withdrawn = post(http, {"resourceType": "Bundle", "entry": [on(11, "entered-in-error")]},
                     fhir=True)
    assert withdrawn.json() == {"received": 0, "stored": 0, "replayed": 0, "unmatched": 0,
                                "skipped": 1}
    odd = post(http, {"resourceType": "Bundle", "entry": [on(12, "final"), on(13, "void")]},
               fhir=True)
    assert odd.status_code == 400 and odd.json()["error"].startswith("entry[1].resource.status")
    assert stored(svc) == 4


def test_effective_period_gives_the_instant_its_start_else_its_end(
        http: httpx.Client, svc: Service) -> None:
    weight = {"resourceType": "Observation", "code": {"coding": [{"code": "29463-7"}]},
              "device": {"reference": "Device/BP-0042"}, "valueQuantity": {"value": 81.2}}
    started = weight | {"id": "w-1", "effectivePeriod": {
        "start": "2026-11-06T08:00:00-05:00", "end": "2026-11-07T08:00:00-05:00"}}
    ended = weight | {"id": "w-2", "effectivePeriod": {"end": "2026-11-09T08:00:00-05:00"}}
    answer = post(http, {"resourceType": "Bundle", "entry": [{"resource": started},
                                                             {"resource": ended}]}, fhir=True)
    assert answer.json() == {"received": 2, "stored": 2, "replayed": 0, "unmatched": 0,
                             "skipped": 0}
    [period] = svc.devices.status("P-1042").periods
    assert period.days == (date(2026, 11, 6), date(2026, 11, 9))  # start; else end
    bad = post(http, weight | {"effectivePeriod": {"start": "6 Nov"}}, fhir=True)
    assert bad.json()["error"].startswith("effectivePeriod.start: an ISO 8601 instant")
    empty = post(http, weight | {"effectivePeriod": {}}, fhir=True)
    assert empty.json()["error"].startswith("effectivePeriod.start: an instant")


def test_a_patient_id_disagreeing_with_the_serial_is_400_and_stores_nothing(
        http: httpx.Client, svc: Service) -> None:
    svc.patients.add("P-2077", PatientFields(initials="AB"), actor="test")
    other = post(http, [reading(3), reading(4) | {"patient_id": "P-2077"}])
    assert other.status_code == 400
    assert other.json()["error"] == ("readings[1].patient_id: another patient than the one "
                                     "device_serial is lent to when the reading was measured")
    nobody = post(http, reading(4) | {"patient_id": "P-9999"})  # the serial is lent: refused
    assert nobody.json()["error"] == "patient_id: no such patient"
    observation = {
        "resourceType": "Observation", "code": {"coding": [{"code": "29463-7"}]},
        "subject": {"reference": "Patient/P-2077"}, "device": {"reference": "Device/BP-0042"},
        "effectiveDateTime": "2026-11-05T08:00:00-05:00", "valueQuantity": {"value": 80}}
    fhir = post(http, {"resourceType": "Bundle", "entry": [{"resource": observation}]},
                fhir=True)
    assert fhir.status_code == 400
    assert fhir.json()["error"] == ("entry[0].resource.subject: another patient than the one "
                                    "device is lent to when the reading was measured")
    assert stored(svc) == 0
    # the serial is P-1042's from 1 November: before that it is lent to nobody, so a reading
    # naming P-2077 then is P-2077's (no device to disagree with)
    earlier = reading(3) | {"measured_at": "2026-10-30T07:12:00-05:00", "patient_id": "P-2077"}
    assert post(http, earlier).json()["unmatched"] == 0
    assert post(http, reading(5)).json()["stored"] == 1  # the serial's own patient: taken
    assert [p.day_count for p in svc.devices.status("P-2077").periods] == [1]


def test_an_unknown_serial_is_kept_unmatched(http: httpx.Client, svc: Service) -> None:
    answer = post(http, reading(3, serial="ZZ-1") | {"patient_id": None})
    assert answer.json()["unmatched"] == 1
    assert [u.serial for u in svc.devices.unmatched()] == ["ZZ-1"]


def test_bad_signatures_are_401_and_store_nothing(http: httpx.Client, svc: Service) -> None:
    assert post(http, reading(3), secret="guess").status_code == 401
    assert post(http, reading(3), ts=NOW - 301).status_code == 401  # stale
    raw = json.dumps(reading(3)).encode()
    assert http.post("/devices/readings", content=raw).status_code == 401  # unsigned
    assert stored(svc) == 0


def test_a_bad_field_is_400_naming_it_and_stores_nothing(http: httpx.Client,
                                                          svc: Service) -> None:
    answer = post(http, [reading(3), reading(4) | {"kind": "mood"}])
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("readings[1].kind")
    assert post(http, [reading(3)] * 501).json()["error"].startswith("body: 501 readings")
    assert stored(svc) == 0


def test_unknown_fields_and_oversized_values_are_400_and_store_nothing(
        http: httpx.Client, svc: Service) -> None:
    note = post(http, [reading(3), reading(4) | {"note": "x" * 300_000}])
    assert note.status_code == 400
    assert note.json()["error"].startswith("readings[1].note: unknown field")
    assert "xxx" not in note.text
    odd = post(http, reading(4) | {"Jane Doe 1950": 1})  # a key is never repeated unless
    assert odd.json()["error"].startswith("field 6: unknown field")  # it reads as a name
    assert "Jane" not in odd.text
    huge = post(http, reading(5) | {"values": {"systolic": 10**400}})  # was a 500
    assert huge.status_code == 400 and huge.json()["error"].startswith("values.systolic: a ")
    many = post(http, reading(5) | {"values": {f"v{i}": i for i in range(17)}})
    assert many.json()["error"] == "values: an object of 1 to 16 named numbers"
    assert post(http, reading(5) | {"values": {"systolic": 1e12}}).status_code == 400
    assert stored(svc) == 0


def test_503_until_the_secret_is_set(svc: Service) -> None:
    with in_process(create_app(Settings(reminders_enabled=False, reconcile_enabled=False),
                               service=svc)) as client:
        answer = client.post("/devices/readings", content=b"[]")
    assert answer.status_code == 503 and "DEVICE_WEBHOOK_SECRET" in answer.text


def test_the_route_has_its_own_body_limit(svc: Service) -> None:
    seed(svc)
    settings = _settings(max_request_bytes=2048, device_max_request_bytes=4096)
    with in_process(create_app(settings, service=svc)) as client:
        big = [reading(3, f"r-{i}") for i in range(12)]  # ~2.5 KB: over the app's limit
        assert 2048 < len(json.dumps(big)) < 4096
        assert post(client, big).status_code == 200
        assert post(client, big * 2).status_code == 413
        assert client.post("/healthz", content=b"x" * 3000).status_code == 413
        counted = client.get("/metrics").text
    # refused before routing (the declared length is over the limit), yet counted under the
    # route it was sent to, not "unmatched"
    assert _requests(counted, "/devices/readings", "413") == 1
    assert _requests(counted, "unmatched", "413") == 0


def _requests(exposition: str, route: str, status: str) -> float:
    return sum(s.value for family in text_string_to_metric_families(exposition)
               for s in family.samples if s.name == "rpm_http_requests_total"
               and s.labels.get("route") == route and s.labels.get("status") == status)
