"""FHIR in for hospital systems: ``POST /fhir/R4/Encounter`` records a hospital admission of a former
virtual-ward patient (scope ``system/Encounter.write``), idempotent on ``Encounter.identifier``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from fhir_r4 import bundles, clients, encounter_in, hospital_admissions
from fhir_r4.web import BASE_PATH, Conn, FhirResponse, FhirRoute, fhir_json, posted_json

router = APIRouter(tags=["fhir"], route_class=FhirRoute)


def _encounter_writer(request: Request, conn: Conn) -> clients.Client:
    client = clients.authenticate(conn, request.headers.get("authorization"), datetime.now(UTC))
    client.need(bundles.SCOPE_WRITE_ENCOUNTERS)
    return client


EncounterWriter = Annotated[clients.Client, Depends(_encounter_writer)]


@router.post(f"{BASE_PATH}/Encounter", response_class=FhirResponse)
async def post_encounter(request: Request, conn: Conn, client: EncounterWriter) -> Response:
    """201 with an OperationOutcome when recorded, 200 when this identifier was recorded before (nothing new);
    400 for a malformed Encounter, 422 for an unknown patient, one never discharged from a virtual ward by
    then, or a date in the future."""
    body = await posted_json(request)
    posted = encounter_in.decode(body)
    row_id, created = await run_in_threadpool(_record, conn, client, posted)
    text = f"hospital admission {row_id} " + ("recorded" if created else "already recorded: nothing new")
    return fhir_json(bundles.outcome("information", "informational", text), 201 if created else 200)


def _record(conn: Conn, client: clients.Client, posted: encounter_in.PostedEncounter) -> tuple[int, bool]:
    return hospital_admissions.record(
        conn,
        patient_id=hospital_admissions.patient_by_nhs_number(conn, posted.nhs_number),
        admission=posted.admission,
        now=datetime.now(UTC),
        identifier=posted.identifier,
        api_client_id=client.id,
    )
