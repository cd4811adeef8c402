"""Administration: users, devices and their MQTT credentials, sessions, sign-in locks and the audit search."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clinician_ui.deps import Admin, AppClock, AppSettings, Conn, safe_next, wants_html
from clinician_ui.errors import NotFound
from clinician_ui.password_policy import password_problem
from clinician_ui.queries import admin as q
from clinician_ui.queries import audit
from clinician_ui.queries import security as sq
from clinician_ui.routing import make_router
from clinician_ui.schemas import Day, NoBody, StrictIn
from clinician_ui.templating import render
from vward.config import broker_service_accounts
from vward.contract import DEVICE_ID_PATTERN
from vward.services import sync_device_credentials

router = make_router("admin")


def _done(request: Request, result: BaseModel, default: str, status: int = 200) -> Response:
    if wants_html(request):
        return RedirectResponse(safe_next(request, default), status_code=303)
    return JSONResponse(result.model_dump(mode="json"), status_code=status)


class UserRow(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    active: bool
    wards: str


@router.get("/admin/users", include_in_schema=False)
def users_page(request: Request, conn: Conn, user: Admin) -> Response:
    wards = conn.execute("SELECT id, name FROM wards ORDER BY name").fetchall()
    return render(request, "admin_users.html", {"users": q.users(conn), "wards": wards})


@router.get("/api/users", response_model=list[UserRow])
def list_users(conn: Conn, user: Admin) -> Any:
    return q.users(conn)


class UserIn(StrictIn):
    username: Annotated[str, Field(pattern=r"^[a-z0-9._-]{2,64}$")]
    display_name: Annotated[str, Field(min_length=1, max_length=120)]
    role: Literal["nurse", "coordinator", "admin"]
    password: Annotated[str, Field(max_length=1000)]
    ward_ids: list[int] = Field(default_factory=list, max_length=100)

    @field_validator("password")
    @classmethod
    def _ncsc_rules(cls, v: str, info: Any) -> str:
        problem = password_problem(v, username=info.data.get("username", ""))
        if problem is not None:
            raise ValueError(problem)
        return v


class CreatedOut(BaseModel):
    id: int


@router.post("/api/users", status_code=201, response_model=CreatedOut)
def create_user(request: Request, body: UserIn, conn: Conn, user: Admin) -> Response:
    """Creates a user; unknown wards are a 422, a weak or common password is a 422."""
    new_id = q.create_user(conn, **body.model_dump(), actor_id=user.id)
    return _done(request, CreatedOut(id=new_id), "/admin/users", 201)


class ActiveIn(StrictIn):
    active: bool


class ActiveOut(BaseModel):
    id: int
    active: bool


@router.post("/api/users/{user_id}/active", response_model=ActiveOut)
def set_active(user_id: int, request: Request, body: ActiveIn, conn: Conn, user: Admin, clock: AppClock) -> Response:
    """Deactivating ends the user's sessions at once; the last active admin cannot be deactivated."""
    q.set_active(conn, user_id=user_id, active=body.active, actor_id=user.id, now=clock())
    return _done(request, ActiveOut(id=user_id, active=body.active), "/admin/users")


class DeviceRow(BaseModel):
    id: str
    kind: str
    serial: str
    admission_id: int | None
    registered_at: datetime
    credentials_rotated_at: datetime | None
    ward: str | None


@router.get("/admin/devices", include_in_schema=False)
def devices_page(request: Request, conn: Conn, user: Admin) -> Response:
    return render(request, "admin_devices.html", {"devices": q.devices(conn), "issued": None})


@router.get("/api/devices", response_model=list[DeviceRow])
def list_devices(conn: Conn, user: Admin) -> Any:
    return q.devices(conn)


class DeviceIn(StrictIn):
    id: str
    kind: Literal["pulse_oximeter", "bp_cuff", "thermometer", "wearable", "checkin"]
    serial: Annotated[str, Field(min_length=1, max_length=100)]

    @field_validator("id")
    @classmethod
    def _device_id(cls, v: str) -> str:
        if not DEVICE_ID_PATTERN.match(v):
            raise ValueError("a device id is 3-64 lower-case letters, digits and hyphens, not starting vward-")
        return v


class IssuedOut(BaseModel):
    id: str
    mqtt_username: str
    mqtt_password: str


def _issued(request: Request, device_id: str, password: str, status: int) -> Response:
    """The new password, shown once; never stored or logged."""
    if wants_html(request):
        return render(request, "device_secret.html", {"device_id": device_id, "password": password}, status_code=status)
    out = IssuedOut(id=device_id, mqtt_username=device_id, mqtt_password=password)
    return JSONResponse(out.model_dump(), status_code=status)


def _sync_broker(conn: Any, settings: Any) -> None:
    sync_device_credentials(conn, settings.state_dir, broker_service_accounts(settings))


@router.post("/api/devices", status_code=201, response_model=IssuedOut)
def register_device(request: Request, body: DeviceIn, conn: Conn, user: Admin, settings: AppSettings) -> Response:
    password = q.register_device(conn, device_id=body.id, kind=body.kind, serial=body.serial, actor_id=user.id)
    _sync_broker(conn, settings)
    return _issued(request, body.id, password, 201)


@router.post("/api/devices/{device_id}/rotate", response_model=IssuedOut)
def rotate_device(
    device_id: str, request: Request, conn: Conn, user: Admin, settings: AppSettings, body: NoBody | None = None
) -> Response:
    password = q.rotate_device(conn, device_id=device_id, actor_id=user.id)
    _sync_broker(conn, settings)
    return _issued(request, device_id, password, 200)


class AssignIn(StrictIn):
    admission_id: int | None = None


class AssignOut(BaseModel):
    id: str
    admission_id: int | None


@router.post("/api/devices/{device_id}/assign", response_model=AssignOut)
def assign_device(device_id: str, request: Request, body: AssignIn, conn: Conn, user: Admin) -> Response:
    q.assign_device(conn, device_id=device_id, admission_id=body.admission_id, actor_id=user.id)
    return _done(request, AssignOut(id=device_id, admission_id=body.admission_id), "/admin/devices")


class AuditQuery(StrictIn):
    username: Annotated[str, Field(max_length=64)] | None = None
    patient_id: int | None = None
    action: Annotated[str, Field(max_length=64)] | None = None
    day_from: Day | None = None
    day_to: Day | None = None

    model_config = ConfigDict(strict=False)  # query strings are text: "5" is the number 5

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, data: Any) -> Any:
        """The page's search form sends empty fields for filters left blank."""
        return {k: v for k, v in data.items() if v != ""} if isinstance(data, dict) else data


class AuditRow(BaseModel):
    id: int
    at: datetime
    username: str | None
    action: str
    entity: str
    entity_id: str | None
    detail: dict[str, Any]


AuditFilter = Annotated[AuditQuery, Query()]


@router.get("/admin/audit", include_in_schema=False)
def audit_page(request: Request, conn: Conn, user: Admin, f: AuditFilter) -> Response:
    return render(request, "audit.html", {"f": f, "rows": audit.search(conn, **f.model_dump())})


@router.get("/api/audit", response_model=list[AuditRow])
def audit_api(conn: Conn, user: Admin, f: AuditFilter) -> Any:
    """Audit rows, newest first, filtered by user, patient, action and day range (inclusive)."""
    return audit.search(conn, **f.model_dump())


class SessionRow(BaseModel):
    id: int
    username: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client_addr: str
    user_agent: str


class LockRow(BaseModel):
    scope: Literal["account", "address"]
    key: str
    failures: int
    last_failure_at: datetime
    locked_until: datetime


class SecurityOut(BaseModel):
    sessions: list[SessionRow]
    locks: list[LockRow]


def _security(conn: Any, settings: Any, now: datetime) -> dict[str, Any]:
    idle_since = now - settings.session_idle_timeout
    return {"sessions": sq.open_sessions(conn, now=now, idle_since=idle_since), "locks": sq.locks(conn, now=now)}


@router.get("/admin/security", include_in_schema=False)
def security_page(request: Request, conn: Conn, user: Admin, settings: AppSettings, clock: AppClock) -> Response:
    return render(request, "admin_security.html", _security(conn, settings, clock()))


@router.get("/api/security", response_model=SecurityOut)
def security_api(conn: Conn, user: Admin, settings: AppSettings, clock: AppClock) -> Any:
    """Open sessions and sign-in locks in force."""
    return _security(conn, settings, clock())


class RevokedOut(BaseModel):
    id: int
    revoked: bool


@router.post("/api/sessions/{session_id}/revoke", response_model=RevokedOut)
def revoke_session(
    session_id: int, request: Request, conn: Conn, user: Admin, clock: AppClock, body: NoBody | None = None
) -> Response:
    with conn.transaction():
        owner = sq.revoke_session(conn, session_id=session_id, now=clock())
        if owner is None:
            raise NotFound(f"no open session {session_id}")
        audit.record(
            conn,
            actor_id=user.id,
            action="auth.session_revoke",
            entity="user",
            entity_id=owner,
            detail={"session_id": session_id},
        )
    return _done(request, RevokedOut(id=session_id, revoked=True), "/admin/security")


class UnlockIn(StrictIn):
    scope: Literal["account", "address"]
    key: Annotated[str, Field(min_length=1, max_length=100)]


class UnlockOut(BaseModel):
    scope: str
    key: str
    unlocked: bool


@router.post("/api/signin-locks/unlock", response_model=UnlockOut)
def unlock(request: Request, body: UnlockIn, conn: Conn, user: Admin) -> Response:
    """Lifts a sign-in delay on an account (its username) or a client address before it runs out."""
    with conn.transaction():
        if not sq.clear_counter(conn, scope=body.scope, key=body.key):
            raise NotFound(f"no sign-in lock on {body.scope} {body.key}")
        audit.record(conn, actor_id=user.id, action="auth.unlock", entity=body.scope, entity_id=body.key, detail={})
    return _done(request, UnlockOut(scope=body.scope, key=body.key, unlocked=True), "/admin/security")
