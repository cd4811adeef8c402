"""Administration: users, devices and their MQTT credentials, and the audit search."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, field_validator

from clinician_ui.deps import AppSettings, Conn, Payload, parse, require, safe_next, wants_html
from clinician_ui.queries import admin as q
from clinician_ui.queries import audit
from clinician_ui.security import User
from clinician_ui.templating import render
from vward.config import broker_service_accounts
from vward.contract import DEVICE_ID_PATTERN
from vward.services import sync_device_credentials

router = APIRouter(tags=["admin"])
Admin = Annotated[User, Depends(require("admin"))]


def _done(request: Request, data: dict[str, Any], result: dict[str, Any], default: str) -> Response:
    if wants_html(request):
        return RedirectResponse(safe_next(data, default), status_code=303)
    return JSONResponse(result)


@router.get("/admin/users", include_in_schema=False)
def users_page(request: Request, conn: Conn, user: Admin) -> Response:
    wards = conn.execute("SELECT id, name FROM wards ORDER BY name").fetchall()
    return render(request, "admin_users.html", {"users": q.users(conn), "wards": wards})


@router.get("/api/users")
def list_users(conn: Conn, user: Admin) -> list[dict[str, Any]]:
    return q.users(conn)


class UserIn(BaseModel):
    username: Annotated[str, Field(pattern=r"^[a-z0-9._-]{2,64}$")]
    display_name: Annotated[str, Field(min_length=1, max_length=120)]
    role: Literal["nurse", "coordinator", "admin"]
    password: Annotated[str, Field(min_length=12, max_length=200)]
    ward_ids: list[int] = []

    @field_validator("ward_ids", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


@router.post("/api/users", status_code=201)
def create_user(request: Request, conn: Conn, user: Admin, data: Payload) -> Response:
    body = parse(UserIn, data)
    new_id = q.create_user(conn, **body.model_dump(), actor_id=user.id)
    return _done(request, data, {"id": new_id}, "/admin/users")


class ActiveIn(BaseModel):
    active: bool


@router.post("/api/users/{user_id}/active")
def set_active(user_id: int, request: Request, conn: Conn, user: Admin, data: Payload) -> Response:
    body = parse(ActiveIn, data)
    q.set_active(conn, user_id=user_id, active=body.active, actor_id=user.id)
    return _done(request, data, {"id": user_id, "active": body.active}, "/admin/users")


@router.get("/admin/devices", include_in_schema=False)
def devices_page(request: Request, conn: Conn, user: Admin) -> Response:
    return render(request, "admin_devices.html", {"devices": q.devices(conn), "issued": None})


@router.get("/api/devices")
def list_devices(conn: Conn, user: Admin) -> Any:
    return jsonable_encoder(q.devices(conn))


class DeviceIn(BaseModel):
    id: str
    kind: Literal["pulse_oximeter", "bp_cuff", "thermometer", "wearable", "checkin"]
    serial: Annotated[str, Field(min_length=1, max_length=100)]

    @field_validator("id")
    @classmethod
    def _device_id(cls, v: str) -> str:
        if not DEVICE_ID_PATTERN.match(v):
            raise ValueError("a device id is 3-64 lower-case letters, digits and hyphens, not starting vward-")
        return v


def _issued(request: Request, device_id: str, password: str, status: int) -> Response:
    """The new password, shown once; never stored or logged."""
    if wants_html(request):
        return render(request, "device_secret.html", {"device_id": device_id, "password": password}, status_code=status)
    return JSONResponse(
        {"id": device_id, "mqtt_username": device_id, "mqtt_password": password},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _sync_broker(conn: Any, settings: Any) -> None:
    sync_device_credentials(conn, settings.state_dir, broker_service_accounts(settings))


@router.post("/api/devices", status_code=201)
def register_device(request: Request, conn: Conn, user: Admin, settings: AppSettings, data: Payload) -> Response:
    body = parse(DeviceIn, data)
    password = q.register_device(conn, device_id=body.id, kind=body.kind, serial=body.serial, actor_id=user.id)
    _sync_broker(conn, settings)
    return _issued(request, body.id, password, 201)


@router.post("/api/devices/{device_id}/rotate")
def rotate_device(
    device_id: str, request: Request, conn: Conn, user: Admin, settings: AppSettings, data: Payload
) -> Response:
    password = q.rotate_device(conn, device_id=device_id, actor_id=user.id)
    _sync_broker(conn, settings)
    return _issued(request, device_id, password, 200)


class AssignIn(BaseModel):
    admission_id: int | None = None


@router.post("/api/devices/{device_id}/assign")
def assign_device(device_id: str, request: Request, conn: Conn, user: Admin, data: Payload) -> Response:
    body = parse(AssignIn, data)
    q.assign_device(conn, device_id=device_id, admission_id=body.admission_id, actor_id=user.id)
    return _done(request, data, {"id": device_id, "admission_id": body.admission_id}, "/admin/devices")


class AuditQuery(BaseModel):
    username: str | None = None
    patient_id: int | None = None
    action: str | None = None
    day_from: date | None = None
    day_to: date | None = None


def _audit_rows(conn: Any, request: Request) -> tuple[AuditQuery, list[dict[str, Any]]]:
    f = parse(AuditQuery, dict(request.query_params))
    return f, audit.search(conn, **f.model_dump())


@router.get("/admin/audit", include_in_schema=False)
def audit_page(request: Request, conn: Conn, user: Admin) -> Response:
    f, rows = _audit_rows(conn, request)
    return render(request, "audit.html", {"f": f, "rows": rows})


@router.get("/api/audit")
def audit_api(
    request: Request,
    conn: Conn,
    user: Admin,
    username: str | None = None,
    patient_id: int | None = None,
    action: str | None = None,
    day_from: date | None = None,
    day_to: date | None = None,
) -> Any:
    """Audit rows, newest first, filtered by user, patient, action and day range (inclusive)."""
    return jsonable_encoder(_audit_rows(conn, request)[1])
