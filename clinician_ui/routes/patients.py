"""The patient view (charts, observations, alert history, notes; each view audited) and hand-entered obs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from alerting.outbox import publish_pending
from clinician_ui.charts import Point, time_series_svg
from clinician_ui.deps import AppSettings, Clinician, Conn, get_redis, wants_html
from clinician_ui.errors import BadInput, NotFound
from clinician_ui.queries import alerts as alerts_q
from clinician_ui.queries import audit
from clinician_ui.queries import patients as q
from clinician_ui.routing import make_router
from clinician_ui.schemas import Moment, StrictIn
from clinician_ui.security import User
from clinician_ui.templating import render
from ingest.columns import AcceptedReading
from ingest.store import store_readings
from vward.contract import Reading

router = make_router("patients")

# (reading column, its sub-score column, title, unit, y range)
VITALS = (
    ("news2_total", None, "NEWS2", "", (0, 20)),
    ("rr", "score_rr", "Respiration rate", "/min", (0, 40)),
    ("spo2", "score_spo2", "SpO2", "%", (70, 100)),
    ("sbp", "score_sbp", "Systolic BP", "mmHg", (60, 220)),
    ("hr", "score_pulse", "Pulse", "/min", (30, 160)),
    ("temp", "score_temp", "Temperature", "°C", (34, 41)),
)


def _band(row: dict[str, Any], score_col: str | None) -> str:
    if score_col is None:
        return "r-" + str(row["news2_risk"])
    s = row[score_col]
    return f"s{s}" if s is not None else ""


def _record(conn: Any, admission_id: int, user: User, now: datetime) -> dict[str, Any]:
    adm = q.admission(conn, admission_id, ward_ids=user.ward_ids)
    if adm is None:
        raise NotFound(f"no admission {admission_id} on your wards")
    audit.record(
        conn,
        actor_id=user.id,
        action="patient.view",
        entity="patient",
        entity_id=adm["patient_id"],
        detail={"admission_id": admission_id},
    )
    return {
        "admission": adm,
        "readings": q.readings(conn, admission_id, since=now - timedelta(days=7)),
        "alerts": alerts_q.history(conn, admission_id),
        "notes": alerts_q.notes(conn, admission_id=admission_id),
    }


@router.get("/patients/{admission_id}", include_in_schema=False)
def patient_page(admission_id: int, request: Request, conn: Conn, user: Clinician) -> Response:
    now = datetime.now(UTC)
    rec = _record(conn, admission_id, user, now)
    charts = {}
    for hours in (24, 24 * 7):
        start = now - timedelta(hours=hours)
        charts[hours] = [
            time_series_svg(
                [
                    Point(r["measured_at"], float(r[col]), _band(r, sc))
                    for r in rec["readings"]
                    if r[col] is not None and r["measured_at"] >= start
                ],
                start=start,
                end=now,
                y_range=yr,
                title=title,
                unit=unit,
            )
            for col, sc, title, unit, yr in VITALS
        ]
    return render(
        request,
        "patient.html",
        {
            **rec,
            "charts": charts,
            "table": rec["readings"][:100],
            "wards": conn.execute(
                "SELECT id, name FROM wards WHERE id = ANY(%s) ORDER BY name", (user.ward_ids,)
            ).fetchall(),
        },
    )


class PatientOut(BaseModel):
    admission: dict[str, Any]
    readings: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    notes: list[dict[str, Any]]


@router.get("/api/patients/{admission_id}", response_model=PatientOut)
def patient_api(admission_id: int, conn: Conn, user: Clinician) -> Any:
    """The admission, 7 days of readings with sub-scores, alert history and notes."""
    return jsonable_encoder(_record(conn, admission_id, user, datetime.now(UTC)))


class ObservationIn(StrictIn):
    rr: float | None = None
    spo2: float | None = None
    sbp: float | None = None
    dbp: float | None = None
    hr: float | None = None
    temp: float | None = None
    on_oxygen: bool | None = None
    consciousness: Literal["A", "C", "V", "P", "U"] | None = None
    measured_at: Moment | None = None


class StoredOut(BaseModel):
    stored: bool
    measured_at: datetime


@router.post("/api/patients/{admission_id}/observations", status_code=201, response_model=StoredOut)
def add_observation(
    admission_id: int, request: Request, obs: ObservationIn, conn: Conn, user: Clinician, settings: AppSettings
) -> Response:
    """A phone reading typed in by a nurse: same plausibility bounds, scoring and alerting as a device's."""
    now = datetime.now(UTC)
    adm = q.admission(conn, admission_id, ward_ids=user.ward_ids)
    if adm is None or adm["discharged_at"] is not None:
        raise NotFound(f"no current admission {admission_id} on your wards")
    measured = obs.measured_at or now
    if measured.tzinfo is None:
        measured = measured.replace(tzinfo=UTC)
    if measured > now + settings.ingest_future_tolerance or measured < adm["admitted_at"]:
        raise BadInput("the measurement time must be during this admission and not in the future")
    try:
        reading = Reading.model_validate({**obs.model_dump(exclude_none=True), "measured_at": measured})
    except ValidationError as exc:
        raise BadInput(
            "; ".join(f"{'.'.join(map(str, e['loc'])) or 'reading'}: {e['msg']}" for e in exc.errors())
        ) from exc
    values = reading.model_dump(exclude={"measured_at"})
    accepted = AcceptedReading(
        device_id=f"manual-u{user.id}",
        admission_id=admission_id,
        measured_at=measured,
        received_at=now,
        **values,
    )
    with conn.transaction():
        store_readings(conn, [accepted], settings=settings, now=now)
        audit.record(
            conn,
            actor_id=user.id,
            action="observation.manual",
            entity="patient",
            entity_id=adm["patient_id"],
            detail={"admission_id": admission_id, **values},
        )
    publish_pending(conn, get_redis(request), settings=settings)
    if wants_html(request):
        return RedirectResponse(f"/patients/{admission_id}", status_code=303)
    return JSONResponse({"stored": True, "measured_at": measured.isoformat()}, status_code=201)
