"""Admit, transfer and discharge (coordinators), against each ward's bed capacity."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, field_validator, model_validator

from clinician_ui.deps import Clinician, Conn, Coordinator, safe_next, wants_html
from clinician_ui.queries import admissions as q
from clinician_ui.routes.alerts import alert_counts
from clinician_ui.routing import make_router
from clinician_ui.schemas import Day, StrictIn
from clinician_ui.templating import render
from vward.nhs_number import normalise

router = make_router("admissions")
Name = Annotated[str, Field(min_length=1, max_length=100)]


class AdmitIn(StrictIn):
    nhs_number: Annotated[str, Field(max_length=20)]
    given_name: Name
    family_name: Name
    date_of_birth: Day
    sex: Literal["female", "male", "other", "unknown"] | None = None
    ward_id: int
    source: Literal["step_up", "step_down"]
    spo2_scale: Annotated[int, Field(ge=1, le=2)] = 1
    spo2_scale_reason: Annotated[str, Field(min_length=3, max_length=500)] | None = None
    device_ids: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=20)
    # A known NHS number with another name or date of birth: ask (409 naming both), keep the record's, or update it.
    demographics: Literal["ask", "keep", "update"] = "ask"

    @field_validator("nhs_number")
    @classmethod
    def _nhs(cls, v: str) -> str:
        return normalise(v)  # InvalidNhsNumber is a ValueError: reported as a 422 with its message

    @model_validator(mode="after")
    def _scale2_reason(self) -> AdmitIn:
        if self.spo2_scale == 2 and not self.spo2_scale_reason:
            raise ValueError("SpO2 scale 2 needs the clinical reason (confirmed hypercapnic respiratory failure)")
        if self.date_of_birth > date.today():
            raise ValueError("the date of birth is in the future")
        return self


@router.get("/admissions/new", include_in_schema=False)
def admit_page(request: Request, conn: Conn, user: Coordinator) -> Response:
    wards = conn.execute("SELECT id, name FROM wards WHERE id = ANY(%s) ORDER BY name", (user.ward_ids,)).fetchall()
    context = {"wards": wards, "devices": q.free_devices(conn), "alert_counts": alert_counts(conn, user)}
    return render(request, "admit.html", context)


def _done(request: Request, result: dict[str, Any], default: str) -> Response:
    if wants_html(request):
        return RedirectResponse(safe_next(request, default), status_code=303)
    return JSONResponse(result)


class AdmittedOut(BaseModel):
    admission_id: int
    patient_id: int
    ward: str
    readmission: bool
    readmission_of: int | None


@router.post("/api/admissions", status_code=201, response_model=AdmittedOut)
def admit(request: Request, body: AdmitIn, conn: Conn, user: Coordinator) -> Response:
    """Admits a patient; a full ward is a 409 naming wards with free beds."""
    result = q.admit(conn, **body.model_dump(), actor_id=user.id, ward_ids=user.ward_ids, now=datetime.now(UTC))
    if wants_html(request):
        return RedirectResponse(f"/patients/{result['admission_id']}", status_code=303)
    return JSONResponse(result, status_code=201)


class TransferIn(StrictIn):
    to_ward_id: int


class TransferredOut(BaseModel):
    admission_id: int
    ward: str


@router.post("/api/admissions/{admission_id}/transfer", response_model=TransferredOut)
def transfer(admission_id: int, request: Request, body: TransferIn, conn: Conn, user: Coordinator) -> Response:
    result = q.transfer(
        conn, admission_id=admission_id, to_ward_id=body.to_ward_id, actor_id=user.id, ward_ids=user.ward_ids
    )
    return _done(request, result, f"/patients/{admission_id}")


class DischargeIn(StrictIn):
    outcome: Literal["recovered_at_home", "conveyed_to_hospital", "died", "other"]


class DischargedOut(BaseModel):
    admission_id: int
    outcome: str
    devices_unassigned: list[str]
    alert_closed: int | None


@router.post("/api/admissions/{admission_id}/discharge", response_model=DischargedOut)
def discharge(admission_id: int, request: Request, body: DischargeIn, conn: Conn, user: Coordinator) -> Response:
    result = q.discharge(
        conn,
        admission_id=admission_id,
        outcome=body.outcome,
        actor_id=user.id,
        ward_ids=user.ward_ids,
        now=datetime.now(UTC),
    )
    return _done(request, result, "/capacity")


class Spo2ScaleIn(StrictIn):
    scale: Annotated[int, Field(ge=1, le=2)]
    reason: Annotated[str, Field(min_length=3, max_length=500)] | None = None

    @model_validator(mode="after")
    def _scale2_reason(self) -> Spo2ScaleIn:
        if self.scale == 2 and not self.reason:
            raise ValueError("SpO2 scale 2 needs the clinical reason (confirmed hypercapnic respiratory failure)")
        return self


class Spo2ScaleOut(BaseModel):
    admission_id: int
    spo2_scale: int


@router.post("/api/admissions/{admission_id}/spo2-scale", response_model=Spo2ScaleOut)
def set_spo2_scale(admission_id: int, request: Request, body: Spo2ScaleIn, conn: Conn, user: Clinician) -> Response:
    """Scale 2 is a clinical decision: a nurse or coordinator records it (or its end) with who, when and why."""
    result = q.set_spo2_scale(
        conn,
        admission_id=admission_id,
        scale=body.scale,
        reason=body.reason,
        actor_id=user.id,
        ward_ids=user.ward_ids,
        now=datetime.now(UTC),
    )
    return _done(request, result, f"/patients/{admission_id}")
