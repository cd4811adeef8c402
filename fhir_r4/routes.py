"""The FHIR R4 HTTP edge: ``/fhir/R4`` reads and searches behind OAuth2 bearer tokens, and ``/oauth2/token``.

Roles for the route table: every ``/fhir/R4`` route except ``metadata`` needs an API client's bearer token
with the ``system/*.read`` scope (no clinician session, no cookies, so no CSRF); ``metadata`` and the token
endpoint are public. Errors are OperationOutcomes (the token endpoint answers OAuth2 errors per RFC 6749).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from fhir_r4 import bundles, clients, intake, observations, reading_path, resources, search
from fhir_r4 import queries as q
from fhir_r4.errors import BadRequest, FhirError, InsufficientScope, InvalidClient, ResourceNotFound
from fhir_r4.resources import Resource
from vward.config import Settings

BASE_PATH = "/fhir/R4"
TOKEN_PATH = "/oauth2/token"
FHIR_JSON = "application/fhir+json"


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def fhir_json(body: Resource, status: int = 200) -> Response:
    return FhirResponse(body, status_code=status)


class FhirRoute(APIRoute):
    """Turns the door's errors and unreadable parameters into OperationOutcomes, never a bare 4xx or a 500."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except FhirError as exc:
                return fhir_json(bundles.outcome("error", exc.code, str(exc)), exc.status)
            except RequestValidationError as exc:
                msgs = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
                return fhir_json(bundles.outcome("error", "invalid", msgs), 400)

        return handler


router = APIRouter(tags=["fhir"], route_class=FhirRoute)


def _conn(request: Request) -> Iterator[psycopg.Connection]:
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn:
        yield conn


Conn = Annotated[psycopg.Connection, Depends(_conn)]


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _reader(request: Request, conn: Conn) -> clients.Client:
    client = clients.authenticate(conn, request.headers.get("authorization"), datetime.now(UTC))
    client.need(bundles.SCOPE_READ)
    return client


Reader = Annotated[clients.Client, Depends(_reader)]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + BASE_PATH


def _params(request: Request, allowed: set[str]) -> dict[str, list[str]]:
    unknown = sorted(set(request.query_params) - allowed - {"_count", "_offset", "_format"})
    if unknown:
        raise BadRequest(f"unsupported search parameter(s): {', '.join(unknown)}")
    return {k: request.query_params.getlist(k) for k in request.query_params}


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name, [])
    if len(values) > 1:
        raise BadRequest(f"{name} may be given once")
    return values[0] if values else None


def _paging(params: dict[str, list[str]]) -> search.Paging:
    return search.paging(_one(params, "_count"), _one(params, "_offset"))


def _query_pairs(params: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, vs in params.items() if k not in ("_count", "_offset") for v in vs]


def _id(value: str, what: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise ResourceNotFound(f"no {what} {value}")
    return int(value)


@router.get(f"{BASE_PATH}/metadata", response_class=FhirResponse)
def metadata(request: Request) -> Response:
    """The CapabilityStatement: resources, interactions, search parameters, and how to get a token."""
    token_url = str(request.base_url).rstrip("/") + TOKEN_PATH
    return fhir_json(bundles.capability_statement(base=_base(request), token_url=token_url, now=datetime.now(UTC)))


class TokenForm(BaseModel):
    grant_type: str = ""  # missing is answered as OAuth2's unsupported_grant_type, not a validation error
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    scope: str


class OAuthError(BaseModel):
    error: str
    error_description: str = Field(default="")


def _basic(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(authorization[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


@router.post(TOKEN_PATH, response_model=TokenOut, responses={400: {"model": OAuthError}, 401: {"model": OAuthError}})
def token(request: Request, conn: Conn, form: Annotated[TokenForm, Form()]) -> Response:
    """OAuth2 client credentials (RFC 6749 4.4): the client's id and secret, in the form or HTTP Basic."""

    def oauth_error(status: int, error: str, description: str) -> Response:
        return JSONResponse(OAuthError(error=error, error_description=description).model_dump(), status_code=status)

    if form.grant_type != "client_credentials":
        return oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
    creds = _basic(request.headers.get("authorization")) or (form.client_id or "", form.client_secret or "")
    try:
        issued = clients.exchange(conn, client_id=creds[0], secret=creds[1], scope=form.scope, now=datetime.now(UTC))
    except InvalidClient as exc:
        return oauth_error(401, "invalid_client", str(exc))
    except InsufficientScope as exc:
        return oauth_error(400, "invalid_scope", str(exc))
    body = TokenOut(access_token=issued.access_token, expires_in=issued.expires_in, scope=" ".join(issued.scopes))
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.get(f"{BASE_PATH}/Patient/{{patient_id}}", response_class=FhirResponse)
def read_patient(patient_id: str, conn: Conn, client: Reader) -> Response:
    row = q.patient(conn, _id(patient_id, "Patient"))
    if row is None:
        raise ResourceNotFound(f"no Patient {patient_id}")
    q.audit_reads(conn, client_id=client.id, patient_ids={row.id}, interaction="read", detail={"resource": "Patient"})
    return fhir_json(resources.patient(row))


@router.get(f"{BASE_PATH}/Patient", response_class=FhirResponse)
def search_patients(request: Request, conn: Conn, client: Reader) -> Response:
    params = _params(request, {"_id", "identifier"})
    ident, pid = _one(params, "identifier"), _one(params, "_id")
    if ident is None and pid is None:
        raise BadRequest("search Patient by identifier (the NHS number) or _id")
    paging = _paging(params)
    rows, total = q.patients(
        conn,
        patient_id=None if pid is None else search.reference_id(pid, "_id", "Patient"),
        nhs_number=None if ident is None else search.nhs_number(ident),
        paging=paging,
    )
    q.audit_reads(
        conn,
        client_id=client.id,
        patient_ids={r.id for r in rows},
        interaction="search",
        detail={"resource": "Patient"},
    )
    return fhir_json(
        bundles.searchset(
            [resources.patient(r) for r in rows],
            base=_base(request),
            path="Patient",
            params=_query_pairs(params),
            paging=paging,
            total=total,
        )
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
    row = q.encounter(conn, _id(encounter_id, "Encounter"))
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
    params = _params(request, {"_id", "patient", "subject", "status"})
    patient = _one(params, "patient") or _one(params, "subject")
    status, eid = _one(params, "status"), _one(params, "_id")
    if status not in (None, "in-progress", "finished"):
        raise BadRequest("status: a virtual-ward stay is in-progress or finished")
    paging = _paging(params)
    rows, total = q.encounters(
        conn,
        admission_id=None if eid is None else search.reference_id(eid, "_id", "Encounter"),
        patient_id=None if patient is None else search.reference_id(patient, "patient", "Patient"),
        status=status,
        paging=paging,
    )
    q.audit_reads(
        conn,
        client_id=client.id,
        patient_ids={r.patient_id for r in rows},
        interaction="search",
        detail={"resource": "Encounter"},
    )
    return fhir_json(
        bundles.searchset(
            [resources.encounter(r) for r in rows],
            base=_base(request),
            path="Encounter",
            params=_query_pairs(params),
            paging=paging,
            total=total,
        )
    )


@router.get(f"{BASE_PATH}/Encounter/{{encounter_id}}/$export", response_class=FhirResponse)
def export_encounter(encounter_id: str, request: Request, conn: Conn, client: Reader) -> Response:
    """The end-of-stay collection Bundle for the receiving record: Patient, Organization, Encounter and every
    Observation of the stay."""
    adm = q.encounter(conn, _id(encounter_id, "Encounter"))
    if adm is None:
        raise ResourceNotFound(f"no Encounter {encounter_id}")
    pat = q.patient(conn, adm.patient_id)
    assert pat is not None, "an admission's patient exists (foreign key)"
    window = _settings(request).news2_freshness_window
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
    return fhir_json(bundles.collection(content, base=_base(request), now=datetime.now(UTC)))


@router.get(f"{BASE_PATH}/Observation/{{observation_id}}", response_class=FhirResponse)
def read_observation(observation_id: str, request: Request, conn: Conn, client: Reader) -> Response:
    key = observations.parse_observation_id(observation_id)
    row = None if key is None else q.reading_for(conn, key, _settings(request).news2_freshness_window)
    obs = None if row is None or key is None else observations.observation(row, key.kind)
    if row is None or obs is None:
        raise ResourceNotFound(f"no Observation {observation_id}")
    q.audit_reads(
        conn, client_id=client.id, patient_ids={row.patient_id}, interaction="read", detail={"resource": "Observation"}
    )
    return fhir_json(obs)


@router.get(f"{BASE_PATH}/Observation", response_class=FhirResponse)
def search_observations(request: Request, conn: Conn, client: Reader) -> Response:
    """A patient's vital signs and NEWS2 scores, oldest first, by date range and code."""
    params = _params(request, {"patient", "subject", "date", "code"})
    patient = _one(params, "patient") or _one(params, "subject")
    if patient is None:
        raise BadRequest("search Observation with patient=")
    patient_id = search.reference_id(patient, "patient", "Patient")
    bounds = search.time_bounds(params.get("date", []))
    kinds = search.observation_kinds(params.get("code", []))
    paging = _paging(params)
    keys, total = q.observation_page(conn, patient_id=patient_id, bounds=bounds, kinds=kinds, paging=paging)
    rows = {
        (r.device_id, r.measured_at): r
        for r in q.readings_by_keys(
            conn, sorted({(d, m) for d, m, _ in keys}), _settings(request).news2_freshness_window
        )
    }
    found = [observations.observation(rows[(d, m)], kind) for d, m, kind in keys if (d, m) in rows]
    q.audit_reads(
        conn,
        client_id=client.id,
        patient_ids={patient_id} if q.patient(conn, patient_id) else set(),
        interaction="search",
        detail={"resource": "Observation"},
    )
    return fhir_json(
        bundles.searchset(
            [o for o in found if o is not None],
            base=_base(request),
            path="Observation",
            params=_query_pairs(params),
            paging=paging,
            total=total,
        )
    )


def _writer(request: Request, conn: Conn) -> clients.Client:
    client = clients.authenticate(conn, request.headers.get("authorization"), datetime.now(UTC))
    client.need(bundles.SCOPE_WRITE_OBSERVATIONS)
    return client


Writer = Annotated[clients.Client, Depends(_writer)]


@router.post(BASE_PATH, response_class=FhirResponse)
async def post_bundle(request: Request, client: Writer) -> Response:
    """FHIR in: a batch/transaction Bundle of vital-sign Observations takes the MQTT readings' path.

    Both Bundle types are processed entry by entry (a bad entry is refused alone, with its OperationOutcome,
    and quarantined), because that is what a device's buffered batch gets over MQTT. Needs the
    ``system/Observation.write`` scope.
    """
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from exc
    if "\x00" in json.dumps(body):
        raise BadRequest("the body contains a NUL character")
    bundle_type, entries = intake.bundle_entries(body)
    return await run_in_threadpool(_store_bundle, request, client, bundle_type, entries)


def _store_bundle(request: Request, client: clients.Client, bundle_type: str, entries: list[Any]) -> Response:
    now = datetime.now(UTC)
    settings = _settings(request)
    decoded = [intake.decode_entry(i, e) for i, e in enumerate(entries)]
    accepted = [d for d in decoded if isinstance(d, intake.Accepted)]
    refused = [d for d in decoded if isinstance(d, intake.Refused)]
    results: list[intake.EntryResult] = []
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn, conn.transaction():
        claims = [(*a.identifier, a.device_id, a.measured_at) for a in accepted]
        new = q.claim_identifiers(conn, client_id=client.id, entries=claims, now=now)
        fresh = [a for a in accepted if a.identifier in new]
        results += [intake.EntryResult(a.index, "duplicate") for a in accepted if a.identifier not in new]
        groups, clashes = intake.merge(fresh)
        refused += clashes
        verdicts = reading_path.store_readings(conn, groups, settings=settings, now=now)
        released = []
        for group, verdict in zip(groups, verdicts, strict=True):
            for entry in group.entries:
                if verdict is None:
                    results.append(intake.EntryResult(entry.index, "stored"))
                else:
                    refused.append(
                        intake.Refused(entry.index, verdict[0], verdict[1], entry.identifier, entry.device_id)
                    )
                    released.append(entry.identifier)
        released += [r.identifier for r in clashes if r.identifier is not None]
        q.release_identifiers(conn, released)
        raw = {i: json.dumps(e, separators=(",", ":"), default=str).encode() for i, e in enumerate(entries)}
        q.quarantine(
            conn,
            [(r.device_id, r.reason, r.detail, r.raw or raw[r.index]) for r in refused],
            topic=f"fhir/R4/{client.id}",
            now=now,
        )
        results += [intake.EntryResult(r.index, "refused", r.reason, r.detail) for r in refused]
    return fhir_json(intake.response_bundle(bundle_type, results))
