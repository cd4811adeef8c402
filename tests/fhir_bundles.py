"""Builders of the Observations a monitoring vendor would post to the FHIR door (tests only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"


def _obs(ident: str, device: str, at: datetime, code: dict[str, Any], **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "https://vendor.example/obs", "value": ident}],
        "status": "final",
        "category": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}
                ]
            }
        ],
        "code": code,
        "subject": {"display": "known to vward by the device"},
        "effectiveDateTime": at.isoformat().replace("+00:00", "Z"),
        "device": {"identifier": {"system": "urn:vward:device", "value": device}},
        **value,
    }


def quantity(ident: str, device: str, at: datetime, loinc: str, value: float, unit: str) -> dict[str, Any]:
    return _obs(
        ident,
        device,
        at,
        {"coding": [{"system": LOINC, "code": loinc}]},
        valueQuantity={"value": value, "unit": unit, "system": UCUM, "code": unit},
    )


def blood_pressure(ident: str, device: str, at: datetime, sbp: float, dbp: float) -> dict[str, Any]:
    def comp(code: str, v: float) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "valueQuantity": {"value": v, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        }

    return _obs(
        ident,
        device,
        at,
        {"coding": [{"system": LOINC, "code": "85354-9"}]},
        component=[comp("8480-6", sbp), comp("8462-4", dbp)],
    )


def air_or_oxygen(ident: str, device: str, at: datetime, on_oxygen: bool) -> dict[str, Any]:
    return _obs(ident, device, at, {"coding": [{"system": SNOMED, "code": "371825009" if on_oxygen else "722742002"}]})


def acvpu(ident: str, device: str, at: datetime, snomed: str) -> dict[str, Any]:
    return _obs(
        ident,
        device,
        at,
        {"coding": [{"system": SNOMED, "code": "1104441000000107"}]},
        valueCodeableConcept={"coding": [{"system": SNOMED, "code": snomed}]},
    )


def bundle(*resources: dict[str, Any], kind: str = "batch") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [{"resource": r, "request": {"method": "POST", "url": "Observation"}} for r in resources],
    }
