"""Administration of API clients: other systems that read the FHIR API (or post observations or hospital
admissions) with OAuth2 client credentials, and the devices each observation-writing client may submit for.
Roles: every route here is admin-only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, field_validator

from clinician_ui.deps import Admin, Conn, wants_html
from clinician_ui.errors import BadInput, NotFound
from clinician_ui.routing import make_router
from clinician_ui.schemas import NoBody, StrictIn
from clinician_ui.templating import render
from fhir_r4 import client_devices, clients
from fhir_r4.bundles import SCOPES
from fhir_r4.errors import BadRequest, ResourceNotFound
from fhir_r4.web import TOKEN_PATH

router = make_router("api clients")
Scope = Literal["system/*.read", "system/Observation.write", "system/Encounter.write"]
assert set(SCOPES) == set(Scope.__args__)  # type: ignore[attr-defined]


class ApiClientOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None
    devices: list[str]


class ApiClientIn(StrictIn):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{2,63}$")]
    name: Annotated[str, Field(min_length=1, max_length=120)]
    scopes: Annotated[list[Scope], Field(min_length=1)]

    @field_validator("scopes", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class IssuedClientOut(BaseModel):
    """The secret is shown once and never stored (only its digest is)."""

    client_id: str
    client_secret: str
    scopes: list[str]
    token_url: str


class RevokedOut(BaseModel):
    id: str
    revoked: bool


class DeviceIn(StrictIn):
    device_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{2,63}$")]


class BindingOut(BaseModel):
    client_id: str
    device_id: str
    bound: bool
    changed: bool


@router.get("/admin/api-clients", include_in_schema=False)
def api_clients_page(request: Request, conn: Conn, user: Admin) -> Response:
    return _page(request, conn, None)


def _page(request: Request, conn: Conn, issued: IssuedClientOut | None, status: int = 200) -> Response:
    context = {
        "clients": clients.listing(conn),
        "devices": client_devices.by_client(conn),
        "scopes": SCOPES,
        "issued": issued,
    }
    return render(request, "admin_api_clients.html", context, status_code=status)


@router.get("/api/api-clients", response_model=list[ApiClientOut])
def list_api_clients(conn: Conn, user: Admin) -> list[ApiClientOut]:
    bound = client_devices.by_client(conn)
    return [ApiClientOut.model_validate({**c, "devices": bound.get(c["id"], [])}) for c in clients.listing(conn)]


@router.post("/api/api-clients", status_code=201, response_model=IssuedClientOut)
def issue_api_client(request: Request, body: ApiClientIn, conn: Conn, user: Admin) -> Response:
    try:
        secret = clients.issue(conn, client_id=body.id, name=body.name, scopes=list(body.scopes), actor_id=user.id)
    except BadRequest as exc:
        raise BadInput(str(exc)) from exc
    issued = IssuedClientOut(
        client_id=body.id,
        client_secret=secret,
        scopes=sorted(set(body.scopes)),
        token_url=str(request.base_url).rstrip("/") + TOKEN_PATH,
    )
    if wants_html(request):
        return _page(request, conn, issued, 201)
    return JSONResponse(issued.model_dump(), status_code=201, headers={"Cache-Control": "no-store"})


@router.post("/api/api-clients/{client_id}/revoke", response_model=RevokedOut)
def revoke_api_client(
    client_id: str, request: Request, conn: Conn, user: Admin, body: NoBody | None = None
) -> Response:
    if not clients.revoke(conn, client_id=client_id, actor_id=user.id):
        raise NotFound(f"no active API client {client_id}")
    if wants_html(request):
        return RedirectResponse("/admin/api-clients", status_code=303)
    return JSONResponse(RevokedOut(id=client_id, revoked=True).model_dump())


def _binding(request: Request, out: BindingOut) -> Response:
    if wants_html(request):
        return RedirectResponse("/admin/api-clients", status_code=303)
    return JSONResponse(out.model_dump())


@router.post("/api/api-clients/{client_id}/devices", response_model=BindingOut)
def bind_device(client_id: str, request: Request, body: DeviceIn, conn: Conn, user: Admin) -> Response:
    """Lets an observation-writing client submit for the device (audited)."""
    try:
        changed = client_devices.bind(conn, client_id=client_id, device_id=body.device_id, actor_id=user.id)
    except ResourceNotFound as exc:
        raise NotFound(str(exc)) from exc
    except BadRequest as exc:
        raise BadInput(str(exc)) from exc
    return _binding(request, BindingOut(client_id=client_id, device_id=body.device_id, bound=True, changed=changed))


@router.post("/api/api-clients/{client_id}/devices/{device_id}/unbind", response_model=BindingOut)
def unbind_device(
    client_id: str, device_id: str, request: Request, conn: Conn, user: Admin, body: NoBody | None = None
) -> Response:
    """Stops the client submitting for the device (audited); 404 if it was not bound."""
    if not client_devices.unbind(conn, client_id=client_id, device_id=device_id, actor_id=user.id):
        raise NotFound(f"{client_id} is not bound to device {device_id}")
    return _binding(request, BindingOut(client_id=client_id, device_id=device_id, bound=False, changed=True))
