"""Pure mappers from vward rows to FHIR R4 Patient, Organization and Encounter (UK Core conventions)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir_r4 import codes
from fhir_r4.rows import AdmissionRow, PatientRow, WardRow

Resource = dict[str, Any]


def instant(at: datetime) -> str:
    """A FHIR instant in UTC with seconds (and microseconds when present)."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ward_org_id(ward_code: str) -> str:
    return f"ward-{ward_code}"


def patient(row: PatientRow) -> Resource:
    return {
        "resourceType": "Patient",
        "id": str(row.id),
        "identifier": [{"system": codes.NHS_NUMBER, "value": row.nhs_number}],
        "name": [{"use": "official", "family": row.family_name, "given": [row.given_name]}],
        "birthDate": row.date_of_birth.isoformat(),
    }


def organization(row: WardRow) -> Resource:
    """A virtual ward as an Organization, part of (named after) its provider."""
    return {
        "resourceType": "Organization",
        "id": ward_org_id(row.code),
        "identifier": [{"system": codes.WARD_CODE, "value": row.code}],
        "active": True,
        "name": row.name,
        "alias": [f"pathway: {row.pathway}", f"provider: {row.provider}"],
    }


def encounter(row: AdmissionRow) -> Resource:
    """One virtual-ward stay; ``in-progress`` while the patient is on the ward, ``finished`` after."""
    period = {"start": instant(row.admitted_at)}
    if row.discharged_at is not None:
        period["end"] = instant(row.discharged_at)
    system, code, display = codes.ENCOUNTER_CLASS
    t_system, t_code, t_display = codes.ENCOUNTER_TYPE
    hospitalization: Resource = {
        "admitSource": {
            "coding": [{"system": codes.ADMIT_SOURCE, "code": row.source, "display": codes.ADMIT_SOURCES[row.source]}],
            "text": codes.ADMIT_SOURCES[row.source],
        }
    }
    if row.discharge_outcome is not None:
        hl7_code, hl7_display = codes.DISCHARGE_OUTCOMES[row.discharge_outcome]
        hospitalization["dischargeDisposition"] = {
            "coding": [
                {"system": codes.DISCHARGE_OUTCOME, "code": row.discharge_outcome},
                {"system": codes.DISCHARGE_DISPOSITION, "code": hl7_code, "display": hl7_display},
            ],
            "text": row.discharge_outcome.replace("_", " "),
        }
    ward_ref = {"reference": f"Organization/{ward_org_id(row.ward_code)}", "display": row.ward_name}
    return {
        "resourceType": "Encounter",
        "id": str(row.id),
        "status": "in-progress" if row.discharged_at is None else "finished",
        "class": {"system": system, "code": code, "display": display},
        "type": [{"coding": [{"system": t_system, "code": t_code, "display": t_display}]}],
        "subject": {"reference": f"Patient/{row.patient_id}"},
        "period": period,
        "hospitalization": hospitalization,
        "location": [
            {"location": {"display": row.ward_name}, "status": "active" if row.discharged_at is None else "completed"}
        ],
        "serviceProvider": ward_ref,
    }
