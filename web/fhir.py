"""FHIR R4 `Observation` resources (one, or in a `Bundle`) as the webhook's reading fields.

Mapped: the device serial from `Observation.device` (a `Device/SERIAL` reference, or its
identifier's value), the patient from `Observation.subject` (`Patient/P-1042`, or its
identifier's value), the instant from `effectiveDateTime` or `effectiveInstant`, else from
`effectivePeriod`: its `start` (when the measuring began), or its `end` when it has no start;
the kind from the LOINC code (`code.coding`), the values from `valueQuantity` and each
`component`'s, the vendor's id from the first `identifier`, else the resource's `id`.
Resources of other types in a Bundle (Device, Patient) are skipped. Errors name the FHIR
path ("entry[2].resource.effectiveDateTime", "entry[2].resource.subject").

`Observation.status` (FHIR R4's value set): `final`, `amended`, `corrected` (a result, or one
changed after it was final) and `preliminary` (a measurement the device made, not yet
reviewed: it was measured on that day all the same) are readings; `registered` (no result
yet), `cancelled` (never completed), `entered-in-error` (withdrawn) and `unknown` are skipped:
not stored, never counted, reported in the answer's `skipped`. A status outside the value set
is refused naming `status`; an Observation without one (R4 requires it) is taken as a reading,
as before the status was read.
"""

import re
from collections.abc import Mapping
from typing import Any

from service.errors import BadInput

# LOINC codes of what the clinic's devices measure
KIND_OF_LOINC = {
    "85354-9": "blood_pressure", "55284-4": "blood_pressure", "35094-2": "blood_pressure",
    "29463-7": "weight", "3141-9": "weight",
    "2339-0": "glucose", "41653-7": "glucose", "2345-7": "glucose",
    "59408-5": "spo2", "2708-6": "spo2", "59417-6": "spo2",
}
VALUE_OF_LOINC = {"8480-6": "systolic", "8462-4": "diastolic", "8867-4": "heart_rate",
                  "29463-7": "weight", "3141-9": "weight", "2339-0": "glucose",
                  "41653-7": "glucose", "2345-7": "glucose", "59408-5": "spo2",
                  "2708-6": "spo2"}
_NAME = re.compile(r"[^A-Za-z0-9_]")


def observations(body: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """(path, resource) of each Observation in a resource or a Bundle."""
    if not isinstance(body, Mapping):
        raise BadInput("body: a FHIR resource (Observation or Bundle) is expected")
    kind = body.get("resourceType")
    if kind == "Observation":
        return [("", body)]
    if kind != "Bundle":
        raise BadInput("resourceType: Observation or Bundle")
    entries = body.get("entry")
    if not isinstance(entries, list):
        raise BadInput("entry: a Bundle's entries are a list")
    found = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            raise BadInput(f"entry[{index}].resource: a FHIR resource")
        if resource.get("resourceType") == "Observation":
            found.append((f"entry[{index}].resource.", resource))
    return found


READING_STATUSES = frozenset({"final", "amended", "corrected", "preliminary"})
SKIPPED_STATUSES = frozenset({"registered", "cancelled", "entered-in-error", "unknown"})


def is_reading(path: str, resource: Mapping[str, Any]) -> bool:
    """Whether the Observation's status makes it a reading (above); BadInput naming
    `status` for a value outside FHIR R4's ObservationStatus."""
    status = resource.get("status")
    if status is None or status in READING_STATUSES:
        return True
    if status in SKIPPED_STATUSES:
        return False
    raise BadInput(f"{path}status: one of FHIR R4's Observation statuses (final, amended, "
                   "corrected, preliminary; registered, cancelled, entered-in-error and "
                   "unknown are skipped)")


# the reading's fields as an Observation names them, for the service's refusals
NAMES = {"reading_id": "identifier", "device_serial": "device", "patient_id": "subject",
         "kind": "code"}


def reading_fields(path: str, resource: Mapping[str, Any]
                   ) -> tuple[dict[str, Any], dict[str, str]]:
    """The reading fields of one Observation (checked further by the service), and what
    the Observation calls each (`service.devices.Place`), so a refusal names its path."""
    fields: dict[str, Any] = {
        "reading_id": _reading_id(resource),
        "device_serial": _reference(resource.get("device"), "Device", path + "device"),
        "patient_id": _reference(resource.get("subject"), "Patient", path + "subject"),
    }
    if fields["device_serial"] is None and fields["patient_id"] is None:
        raise BadInput(f"{path}device: Observation.device or subject is needed")
    names = dict(NAMES)
    names["measured_at"], fields["measured_at"] = _effective(resource, path)
    codes = _codes(resource.get("code"))
    fields["kind"] = next((KIND_OF_LOINC[c] for c in codes if c in KIND_OF_LOINC), "other")
    values: dict[str, Any] = {}
    _add_value(values, resource, codes, path)
    components = resource.get("component") or []
    if not isinstance(components, list):
        raise BadInput(f"{path}component: a list")
    for index, component in enumerate(components):
        if isinstance(component, Mapping):
            _add_value(values, component, _codes(component.get("code")),
                       f"{path}component[{index}].")
    if not values:
        raise BadInput(f"{path}valueQuantity: a value (or components with values)")
    fields["values"] = values
    names["values"] = "component" if components else "valueQuantity"
    return {k: v for k, v in fields.items() if v is not None}, names


def _effective(resource: Mapping[str, Any], path: str) -> tuple[str, str]:
    """(its FHIR name, the instant's text) of when the Observation was measured:
    effectiveDateTime or effectiveInstant, else effectivePeriod's start, else its end."""
    for name in ("effectiveDateTime", "effectiveInstant"):
        if name in resource and resource[name] is not None:
            value = resource[name]
            if not isinstance(value, str):
                raise BadInput(f"{path}{name}: an instant with its offset")
            return name, value
    period = resource.get("effectivePeriod")
    if period is None:
        raise BadInput(f"{path}effectiveDateTime: an instant with its offset (or "
                       "effectivePeriod with a start)")
    if not isinstance(period, Mapping):
        raise BadInput(f"{path}effectivePeriod: a Period (start, end)")
    for end in ("start", "end"):
        if period.get(end) is not None:
            if not isinstance(period[end], str):
                raise BadInput(f"{path}effectivePeriod.{end}: an instant with its offset")
            return f"effectivePeriod.{end}", period[end]
    raise BadInput(f"{path}effectivePeriod.start: an instant with its offset")


def _reading_id(resource: Mapping[str, Any]) -> str | None:
    identifiers = resource.get("identifier")
    if isinstance(identifiers, list) and identifiers and isinstance(identifiers[0], Mapping):
        value = identifiers[0].get("value")
        if isinstance(value, str) and value.strip():
            return value
    rid = resource.get("id")
    return rid if isinstance(rid, str) and rid.strip() else None


def _reference(value: Any, kind: str, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise BadInput(f"{path}: a FHIR Reference")
    reference = value.get("reference")
    if isinstance(reference, str) and reference.startswith(kind + "/"):
        return reference[len(kind) + 1:]
    identifier = value.get("identifier")
    if isinstance(identifier, Mapping) and isinstance(identifier.get("value"), str):
        return str(identifier["value"])
    raise BadInput(f"{path}: a reference {kind}/ID or an identifier with a value")


def _codes(concept: Any) -> list[str]:
    if not isinstance(concept, Mapping) or not isinstance(concept.get("coding"), list):
        return []
    return [c["code"] for c in concept["coding"]
            if isinstance(c, Mapping) and isinstance(c.get("code"), str)]


def _add_value(values: dict[str, Any], holder: Mapping[str, Any], codes: list[str],
               path: str) -> None:
    quantity = holder.get("valueQuantity")
    if quantity is None:
        return
    if not isinstance(quantity, Mapping) or isinstance(quantity.get("value"), bool) \
            or not isinstance(quantity.get("value"), int | float):
        raise BadInput(f"{path}valueQuantity.value: a number")
    name = next((VALUE_OF_LOINC[c] for c in codes if c in VALUE_OF_LOINC), None)
    if name is None:
        name = _NAME.sub("_", "loinc_" + codes[0])[:32] if codes else "value"
    values[name] = quantity["value"]
