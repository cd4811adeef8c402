"""Escalation plans (record and read a patient's plan) and grading an NPEWS alert that awaits a clinician.

Both are clinical decisions by a named, signed-in clinician (nurse or coordinator on the patient's ward),
written with their audit entry in one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from alerting import escalation_plans
from alerting.npews_raising import grade_alert
from alerting.outbox import publish_pending
from clinician_ui.deps import AppSettings, Clinician, Conn, get_redis, wants_html
from clinician_ui.errors import NotFound
from clinician_ui.queries import alerts as alerts_q
from clinician_ui.queries import patients as patients_q
from clinician_ui.queue import annotate
from clinician_ui.routes.alerts import alert_counts
from clinician_ui.routing import make_router
from clinician_ui.schemas import Day, StrictIn
from clinician_ui.security import User
from clinician_ui.templating import render

router = make_router("escalation")  # every route here: nurses and coordinators of the patient's ward


class GradeIn(StrictIn):
    """The level a clinician chooses for a carer's W or a "just not right" (the chart's levels)."""

    level: Literal["none", "low", "medium", "high", "emergency"]


class PlanIn(StrictIn):
    plan: Annotated[str, Field(min_length=1, max_length=2000)]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    hospital_transfer: bool
    review_on: Day


class PlanOut(BaseModel):
    plan: dict[str, Any] | None
    response_kinds: list[str]


class PlanCreatedOut(BaseModel):
    id: int


@router.post("/api/alerts/{alert_id}/grade", response_model=dict[str, Any])
def grade(
    alert_id: int, request: Request, body: GradeIn, conn: Conn, user: Clinician, settings: AppSettings
) -> Response:
    """Sets the level of an alert that waits for a clinician's grade; 409 if it does not wait for one."""
    if alerts_q.get_alert(conn, alert_id, ward_ids=user.ward_ids) is None:
        raise NotFound(f"no alert {alert_id} on your wards")
    now = datetime.now(UTC)
    with conn.transaction():
        grade_alert(conn, alert_id=alert_id, level=body.level, actor_id=user.id, settings=settings, now=now)
    publish_pending(conn, get_redis(request), settings=settings)
    if wants_html(request):
        return RedirectResponse("/", status_code=303)
    row = alerts_q.get_alert(conn, alert_id, ward_ids=user.ward_ids)
    return JSONResponse(jsonable_encoder(annotate(row, now)) if row else {"id": alert_id})


def _admission(conn: Any, admission_id: int, user: User) -> dict[str, Any]:
    adm = patients_q.admission(conn, admission_id, ward_ids=user.ward_ids)
    if adm is None:
        raise NotFound(f"no admission {admission_id} on your wards")
    return adm


@router.get("/api/patients/{admission_id}/escalation-plan", response_model=PlanOut)
def get_plan(admission_id: int, conn: Conn, user: Clinician) -> dict[str, Any]:
    """The current plan (null if none) and the responses it allows."""
    _admission(conn, admission_id, user)
    plan = escalation_plans.current_plan(conn, admission_id=admission_id)
    return {
        "plan": jsonable_encoder(plan) if plan else None,
        "response_kinds": escalation_plans.response_kinds(plan.hospital_transfer if plan else None),
    }


@router.get("/patients/{admission_id}/escalation-plan", include_in_schema=False)
def plan_page(admission_id: int, request: Request, conn: Conn, user: Clinician) -> Response:
    adm = _admission(conn, admission_id, user)
    plan = escalation_plans.current_plan(conn, admission_id=admission_id)
    context = {"admission": adm, "plan": plan, "alert_counts": alert_counts(conn, user)}
    return render(request, "escalation_plan.html", context)


@router.post("/api/patients/{admission_id}/escalation-plan", status_code=201, response_model=PlanCreatedOut)
def record_plan(admission_id: int, request: Request, body: PlanIn, conn: Conn, user: Clinician) -> Response:
    """Records the patient's escalation plan (superseding the current one), by the signed-in clinician."""
    adm = _admission(conn, admission_id, user)
    if adm["discharged_at"] is not None:
        raise NotFound(f"admission {admission_id} has ended")
    with conn.transaction():
        plan_id = escalation_plans.record_plan(
            conn,
            admission_id=admission_id,
            plan=body.plan,
            reason=body.reason,
            hospital_transfer=body.hospital_transfer,
            review_on=body.review_on,
            actor_id=user.id,
            now=datetime.now(UTC),
        )
    if wants_html(request):
        return RedirectResponse(f"/patients/{admission_id}", status_code=303)
    return JSONResponse({"id": plan_id}, status_code=201)
