"""The FHIR R4 HTTP edge: ``/fhir/R4`` reads and searches, and the one router the app includes (it carries
the token endpoint, ``token_route``, and FHIR in, ``post_route``).

Roles for the route table: every ``GET /fhir/R4/...`` except ``metadata`` needs an API client's bearer token
with the ``system/*.read`` scope, ``POST /fhir/R4`` the ``system/Observation.write`` scope (no clinician
session, no cookies, so no CSRF); ``metadata`` and ``/oauth2/token`` are public. Errors are OperationOutcomes
(the token endpoint answers OAuth2 errors per RFC 6749).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import Response

from fhir_r4 import bundles, clients, encounter_route, observations, post_route, resources, search, token_route
from fhir_r4 import queries as q
from fhir_r4.errors import BadRequest, ResourceNotFound
from fhir_r4.resources import Resource
from fhir_r4.search import Paging
from fhir_r4.web import (
    BASE_PATH,
    TOKEN_PATH,
    Conn,
    FhirResponse,
    FhirRoute,
    Reader,
    app_settings,
    base_url,
    fhir_json,
    int_id,
    one,
    paging_of,
    query_pairs,
    search_params,
)

router = APIRouter(tags=["fhir"], route_class=FhirRoute)


def _searchset(
    request: Request,
    conn: psycopg.Connection,
    client: clients.Client,
    *,
    path: str,
    params: dict[str, list[str]],
    entries: list[Resource],
    patient_ids: set[int],
    paging: Paging,
    total: int,
) -> Response:
    """One page of a search, audited as a read of every patient whose record it returned."""
    q.audit_reads(conn, client_id=client.id, patient_ids=patient_ids, interaction="search", detail={"resource": path})
    page = bundles.searchset(
        entries, base=base_url(request), path=path, params=query_pairs(params), paging=paging, total=total
    )
    return fhir_json(page)


@router.get(f"{BASE_PATH}/metadata", response_class=FhirResponse)
def metadata(request: Request) -> Response:
    """The CapabilityStatement: resources, interactions, search parameters, and how to get a token."""
    token_url = str(request.base_url).rstrip("/") + TOKEN_PATH
    return fhir_json(bundles.capability_statement(base=base_url(request), token_url=token_url, now=datetime.now(UTC)))


@router.get(f"{BASE_PATH}/Patient/{{patient_id}}", response_class=FhirResponse)
def read_patient(patient_id: str, conn: Conn, client: Reader) -> Response:
    row = q.patient(conn, int_id(patient_id, "Patient"))
    if row is None:
        raise ResourceNotFound(f"no Patient {patient_id}")
    q.audit_reads(conn, client_id=client.id, patient_ids={row.id}, interaction="read", detail={"resource": "Patient"})
    return fhir_json(resources.patient(row))


@router.get(f"{BASE_PATH}/Patient", response_class=FhirResponse)
def search_patients(request: Request, conn: Conn, client: Reader) -> Response:
    params = search_params(request, {"int_id", "identifier"})
    ident, pid = one(params, "identifier"), one(params, "int_id")
    if ident is None and pid is None:
        raise BadRequest("search Patient by identifier (the NHS number) or int_id")
    paging = paging_of(params)
    rows, total = q.patients(
        conn,
        patient_id=None if pid is None else search.reference_id(pid, "int_id", "Patient"),
        nhs_number=None if ident is None else search.nhs_number(ident),
        paging=paging,
    )
    entries = [resources.patient(r) for r in rows]
    patient_ids = {r.id for r in rows}
    return _searchset(
        request,
        conn,
        client,
        path="Patient",
        params=params,
        entries=entries,
        patient_ids=patient_ids,
        paging=paging,
        total=total,
    )


@router.get(f"{BASE_PATH}/Organization/{{org_id}}", response_class=FhirResponse)
def read_organization(org_id: str, conn: Conn, client: Reader) -> Response:
    """A virtual ward (no patient data, so not audited)."""
    found = re.fullmatch(r"ward-([a-z0-9-]{2,40})", org_id)
    row = found and conn.execute("SELECT id FROM wards WHERE code = %s", (found.group(1),)).fetchone()
    if row is None:
        raise ResourceNotFound(f"no Organization {org_id}")
    return fhir_json(resources.organization(q.ward(conn, row[0])))


@router.get(f"{BASE_PATH}/Encounter/{{encounter_id}}", response_class=FhirResponse)
def read_encounter(encounter_id: str, conn: Conn, client: Reader) -> Response:
    row = q.encounter(conn, int_id(encounter_id, "Encounter"))
    if row is None:
        raise ResourceNotFound(f"no Encounter {encounter_id}")
    q.audit_reads(
        conn,
        client_id=client.id,
        patient_ids={row.patient_id},
        interaction="read",
        detail={"resource": "Encounter", "admission_id": row.id},
    )
    return fhir_json(resources.encounter(row))


@router.get(f"{BASE_PATH}/Encounter", response_class=FhirResponse)
def search_encounters(request: Request, conn: Conn, client: Reader) -> Response:
    params = search_params(request, {"int_id", "patient", "subject", "status"})
    patient = one(params, "patient") or one(params, "subject")
    status, eid = one(params, "status"), one(params, "int_id")
    if status not in (None, "in-progress", "finished"):
        raise BadRequest("status: a virtual-ward stay is in-progress or finished")
    paging = paging_of(params)
    rows, total = q.encounters(
        conn,
        admission_id=None if eid is None else search.reference_id(eid, "int_id", "Encounter"),
        patient_id=None if patient is None else search.reference_id(patient, "patient", "Patient"),
        status=status,
        paging=paging,
    )
    entries = [resources.encounter(r) for r in rows]
    patient_ids = {r.patient_id for r in rows}
    return _searchset(
        request,
        conn,
        client,
        path="Encounter",
        params=params,
        entries=entries,
        patient_ids=patient_ids,
        paging=paging,
        total=total,
    )


@router.get(f"{BASE_PATH}/Encounter/{{encounter_id}}/$export", response_class=FhirResponse)
def export_encounter(encounter_id: str, request: Request, conn: Conn, client: Reader) -> Response:
    """The end-of-stay collection Bundle for the receiving record: Patient, Organization, Encounter and every
    Observation of the stay."""
    adm = q.encounter(conn, int_id(encounter_id, "Encounter"))
    if adm is None:
        raise ResourceNotFound(f"no Encounter {encounter_id}")
    pat = q.patient(conn, adm.patient_id)
    assert pat is not None, "an admission's patient exists (foreign key)"
    window = app_settings(request).news2_freshness_window
    obs = [o for r in q.readings_of_admission(conn, adm.id, window) for o in observations.observations(r)]
    content = [
        resources.patient(pat),
        resources.organization(q.ward(conn, adm.ward_id)),
        resources.encounter(adm),
        *obs,
    ]
    q.audit_reads(
        conn,
        client_id=client.id,
        patient_ids={pat.id},
        interaction="export",
        detail={"resource": "Encounter", "admission_id": adm.id},
    )
    return fhir_json(bundles.collection(content, base=base_url(request), now=datetime.now(UTC)))


@router.get(f"{BASE_PATH}/Observation/{{observation_id}}", response_class=FhirResponse)
def read_observation(observation_id: str, request: Request, conn: Conn, client: Reader) -> Response:
    key = observations.parse_observation_id(observation_id)
    row = None if key is None else q.reading_for(conn, key, app_settings(request).news2_freshness_window)
    obs = None if row is None or key is None else observations.observation(row, key.kind)
    if row is None or obs is None:
        raise ResourceNotFound(f"no Observation {observation_id}")
    q.audit_reads(
        conn, client_id=client.id, patient_ids={row.patient_id}, interaction="read", detail={"resource": "Observation"}
    )
    return fhir_json(obs)


@router.get(f"{BASE_PATH}/Observation", response_class=FhirResponse)
def search_observations(request: Request, conn: Conn, client: Reader) -> Response:
    """A patient's vital signs and NEWS2 or NPEWS scores, oldest first, by date range and code."""
    params = search_params(request, {"patient", "subject", "date", "code"})
    patient = one(params, "patient") or one(params, "subject")
    if patient is None:
        raise BadRequest("search Observation with patient=")
    patient_id = search.reference_id(patient, "patient", "Patient")
    bounds = search.time_bounds(params.get("date", []))
    kinds = search.observation_kinds(params.get("code", []))
    paging = paging_of(params)
    keys, total = q.observation_page(conn, patient_id=patient_id, bounds=bounds, kinds=kinds, paging=paging)
    rows = {
        (r.device_id, r.measured_at): r
        for r in q.readings_by_keys(
            conn, sorted({(d, m) for d, m, _ in keys}), app_settings(request).news2_freshness_window
        )
    }
    found = [observations.observation(rows[(d, m)], kind) for d, m, kind in keys if (d, m) in rows]
    entries = [o for o in found if o is not None]
    patient_ids = {patient_id} if q.patient(conn, patient_id) else set()
    return _searchset(
        request,
        conn,
        client,
        path="Observation",
        params=params,
        entries=entries,
        patient_ids=patient_ids,
        paging=paging,
        total=total,
    )


router.include_router(token_route.router)
router.include_router(post_route.router)
router.include_router(encounter_route.router)
