"""Pure builders of FHIR Bundles, OperationOutcomes and the CapabilityStatement."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from fhir_r4.resources import Resource, instant
from fhir_r4.search import Paging
from vward.vocabulary import ENCOUNTER_CLASSES

FHIR_VERSION = "4.0.1"
SCOPE_READ = "system/*.read"
SCOPE_WRITE_OBSERVATIONS = "system/Observation.write"
SCOPE_WRITE_ENCOUNTERS = "system/Encounter.write"  # hospital systems: admissions of former ward patients
SCOPES = (SCOPE_READ, SCOPE_WRITE_OBSERVATIONS, SCOPE_WRITE_ENCOUNTERS)

SEARCH_PARAMS: dict[str, list[tuple[str, str, str]]] = {
    "Patient": [
        ("_id", "token", "The patient's id"),
        ("identifier", "token", "NHS number, https://fhir.nhs.uk/Id/nhs-number|{10 digits}"),
    ],
    "Encounter": [
        ("_id", "token", "The stay's id"),
        ("patient", "reference", "The patient on the virtual ward"),
        ("status", "token", "in-progress (on the virtual ward now) or finished"),
    ],
    "Observation": [
        ("patient", "reference", "The patient (required)"),
        ("date", "date", "When measured; ge, le, gt, lt or eq, repeatable"),
        ("code", "token", "LOINC or SNOMED code of the vital sign, NEWS2 or NPEWS, comma for any of several"),
    ],
}


def outcome(severity: str, code: str, text: str) -> Resource:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": code, "diagnostics": text}]}


def searchset(
    resources: list[Resource], *, base: str, path: str, params: list[tuple[str, str]], paging: Paging, total: int
) -> Resource:
    """A searchset page with self/first/previous/next links that repeat the search with another ``_offset``."""

    def link(relation: str, offset: int) -> dict[str, str]:
        query = [*params, ("_count", str(paging.count)), ("_offset", str(offset))]
        return {"relation": relation, "url": f"{base}/{path}?{urlencode(query)}"}

    links = [link("self", paging.offset), link("first", 0)]
    if paging.offset > 0:
        links.append(link("previous", max(0, paging.offset - paging.count)))
    if paging.count and paging.offset + paging.count < total:
        links.append(link("next", paging.offset + paging.count))
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }


def collection(resources: list[Resource], *, base: str, now: datetime) -> Resource:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": instant(now),
        "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }


def capability_statement(*, base: str, token_url: str, now: datetime) -> Resource:
    resources = []
    for rtype, params in SEARCH_PARAMS.items():
        entry: Resource = {
            "type": rtype,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [{"name": n, "type": t, "documentation": d} for n, t, d in params],
        }
        if rtype == "Encounter":
            entry["interaction"].append(
                {
                    "code": "create",
                    "documentation": f"a hospital admission (class {' or '.join(ENCOUNTER_CLASSES)}) of a former "
                    f"virtual-ward patient, idempotent on Encounter.identifier; {SCOPE_WRITE_ENCOUNTERS}",
                }
            )
            entry["operation"] = [
                {
                    "name": "export",
                    "definition": f"{base}/OperationDefinition/Encounter-export",
                    "documentation": "GET Encounter/{id}/$export: the end-of-stay collection Bundle "
                    "(Patient, Organization, Encounter, Observations) for the receiving record",
                }
            ]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(now),
        "publisher": "vward",
        "kind": "instance",
        "software": {"name": "vward"},
        "implementation": {"description": "vward virtual ward FHIR R4 API", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": f"OAuth2 client credentials: POST {token_url}; scopes {', '.join(SCOPES)}",
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "OAuth",
                                }
                            ]
                        }
                    ],
                    "description": f"Bearer tokens from {token_url} (client_credentials grant)",
                },
                "resource": resources,
                "interaction": [
                    {
                        "code": "batch",
                        "documentation": f"vital-sign Observations from devices; {SCOPE_WRITE_OBSERVATIONS}",
                    },
                    {"code": "transaction", "documentation": "processed entry by entry, like batch"},
                ],
            }
        ],
    }
