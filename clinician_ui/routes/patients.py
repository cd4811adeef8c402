"""The patient view (charts, observations, alert history, notes; each view audited) and hand-entered obs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict

from alerting.escalation_plans import current_plan
from alerting.npews import AGE_BANDS, CARER_ANSWERS, CARER_QUESTION, OXYGEN_DEVICES, RESP_DISTRESS_DESCRIPTORS
from alerting.npews_escalation import response_target
from alerting.outbox import publish_pending
from alerting.score_choice import choose_score, utc_day
from clinician_ui.charts import Band, Point, time_series_svg
from clinician_ui.deps import AppSettings, Clinician, Conn, get_redis, wants_html
from clinician_ui.errors import BadInput, NotFound
from clinician_ui.observation_rows import NEWS2_TABLE, NPEWS_TABLE, SetTable, set_rows
from clinician_ui.queries import alerts as alerts_q
from clinician_ui.queries import audit
from clinician_ui.queries import patients as q
from clinician_ui.queue import annotate
from clinician_ui.routes.alerts import alert_counts
from clinician_ui.routing import make_router
from clinician_ui.schemas import Moment, StrictIn
from clinician_ui.security import User
from clinician_ui.templating import render
from readings.columns import ChildExtras
from readings.errors import ReadingRefused
from readings.path import accept_reading
from vward.config import Settings
from vward.vocabulary import MEASURES, AcvpuLetter, Vital

router = make_router("patients")

# (reading column, its sub-score column, title, unit, y range)
VITALS = (
    ("news2_total", None, "NEWS2", "", (0, 20)),
    ("rr", "score_rr", "Respiration rate", MEASURES[Vital.RR].unit, (0, 40)),
    ("spo2", "score_spo2", "SpO2", MEASURES[Vital.SPO2].unit, (70, 100)),
    ("sbp", "score_sbp", "Systolic BP", MEASURES[Vital.SBP].unit, (60, 220)),
    ("hr", "score_pulse", "Pulse", MEASURES[Vital.HR].unit, (30, 160)),
    ("temp", "score_temp", "Temperature", MEASURES[Vital.TEMP].unit, (34, 41)),
)


# A child's charts: the NPEWS total first, its sub-scores colouring the vitals (0, 1, 2 or 4).
NPEWS_VITALS = (
    ("npews_total", None, "NPEWS", "", (0, 26)),
    ("rr", "npews_rr", "Respiration rate", "/min", (0, 90)),
    ("spo2", "npews_spo2", "SpO2", "%", (70, 100)),
    ("sbp", "npews_sbp", "Systolic BP", "mmHg", (40, 160)),
    ("hr", "npews_hr", "Heart rate", "/min", (40, 220)),
    ("temp", None, "Temperature", "°C", (34, 41)),
)


CHART_HOURS = (24, 24 * 7, 24 * 30)


def chart_bands(score: str, spo2_scale: int) -> dict[str, tuple[Band, ...]]:
    """Shading per chart: NEWS2's medium and high bands, and the SpO2 target of the patient's scale."""
    spo2 = (
        Band(88, 92, "target", "Scale 2 target 88–92%") if spo2_scale == 2 else Band(96, 100, "target", "target ≥ 96%")
    )
    if score == "npews":
        return {"spo2": (Band(95, 100, "target", "target ≥ 95%"),)}
    return {
        "news2_total": (Band(5, 7, "medium", "medium 5–6"), Band(7, 20, "high", "high 7+")),
        "spo2": (spo2,),
    }


def _band(row: dict[str, Any], score_col: str | None) -> str:
    if score_col is None:
        return "r-" + str(row["npews_level"] if row.get("npews_total") is not None else row["news2_risk"])
    s = row[score_col]
    return f"s{s}" if s is not None else ""


def _score_shown(
    adm: dict[str, Any], readings: list[dict[str, Any]], settings: Settings, now: datetime
) -> dict[str, Any]:
    """Which score applies today (the one rule, ``score_choice``) and, for a child, the current NPEWS level,
    its response target and the chart's respiratory distress descriptors for the child's age."""
    choice = choose_score(
        date_of_birth=adm["date_of_birth"], admitted_on=utc_day(adm["admitted_at"]), observed_on=utc_day(now)
    )
    shown: dict[str, Any] = {"score": choice.score, "label": choice.label, "age_band": choice.age_band}
    if choice.age_band is None:
        return shown
    latest = next((r for r in readings if r["npews_total"] is not None), None)
    level = latest["npews_level"] if latest else None
    target = response_target(level, settings) if level else None
    under_five = choice.age_band < AGE_BANDS.index("5-12 years")
    return {
        **shown,
        "latest": latest,
        "reassess_within": target.reassess_within if target else None,
        "review_within": target.review_within if target else None,
        "distress_choices": [
            (code, words[0 if under_five else 1]) for code, words in RESP_DISTRESS_DESCRIPTORS.items()
        ],
        "carer_question": CARER_QUESTION,
        "carer_answers": CARER_ANSWERS,
        "oxygen_devices": list(OXYGEN_DEVICES),
    }


def _record(conn: Any, admission_id: int, user: User, settings: Settings, now: datetime) -> dict[str, Any]:
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
    readings = q.readings(conn, admission_id, since=now - timedelta(hours=CHART_HOURS[-1]))
    plan = current_plan(conn, admission_id=admission_id)
    return {
        "admission": adm,
        "score": _score_shown(adm, readings, settings, now),
        "escalation_plan": plan,
        "plan_review_due": plan is not None and plan.review_on <= utc_day(now),
        "readings": readings,
        "alerts": [
            annotate(a, now)
            for a in alerts_q.history(conn, admission_id, windows=alerts_q.TrendWindows.from_settings(settings))
        ],
        "notes": alerts_q.notes(conn, admission_id=admission_id),
        "timeline": alerts_q.timeline(conn, admission_id=admission_id),
    }


def set_headings(table: SetTable, spo2_scale: int) -> list[str]:
    """The table's column headings; an adult's SpO2 column says when it is read on Scale 2."""
    scale2 = spo2_scale == 2 and table is NEWS2_TABLE
    return [c.heading + (" (Scale 2)" if scale2 and c.heading == "SpO2" else "") for c in table.columns]


@router.get("/patients/{admission_id}", include_in_schema=False)
def patient_page(admission_id: int, request: Request, conn: Conn, user: Clinician, settings: AppSettings) -> Response:
    now = datetime.now(UTC)
    rec = _record(conn, admission_id, user, settings, now)
    table = NPEWS_TABLE if rec["score"]["score"] == "npews" else NEWS2_TABLE
    charts = {}
    vitals = NPEWS_VITALS if rec["score"]["score"] == "npews" else VITALS
    bands = chart_bands(rec["score"]["score"], rec["admission"]["spo2_scale"])
    for hours in CHART_HOURS:
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
                bands=bands.get(col, ()),
            )
            for col, sc, title, unit, yr in vitals
        ]
    return render(
        request,
        "patient.html",
        {
            **rec,
            "charts": charts,
            "set_table": table,
            "set_headings": set_headings(table, rec["admission"]["spo2_scale"]),
            "sets": set_rows(rec["readings"], table=table, freshness=settings.news2_freshness_window, limit=100),
            "alert_counts": alert_counts(conn, user),
            "wards": conn.execute(
                "SELECT id, name FROM wards WHERE id = ANY(%s) ORDER BY name", (user.ward_ids,)
            ).fetchall(),
        },
    )


class PatientOut(BaseModel):
    admission: dict[str, Any]
    score: dict[str, Any]
    escalation_plan: Any
    plan_review_due: bool
    readings: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    notes: list[dict[str, Any]]


@router.get("/api/patients/{admission_id}", response_model=PatientOut)
def patient_api(admission_id: int, conn: Conn, user: Clinician, settings: AppSettings) -> Any:
    """The admission, the score that applies, the escalation plan, 30 days of readings with sub-scores (NEWS2
    or NPEWS), alert history and notes."""
    return jsonable_encoder(_record(conn, admission_id, user, settings, datetime.now(UTC)))


class ObservationIn(ChildExtras, StrictIn):
    """Vital signs, and for a child what the visit adds (``ChildExtras``: respiratory distress, capillary
    refill, oxygen delivery, the specific concerns, the carer's answer and "just not right")."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    rr: float | None = None
    spo2: float | None = None
    sbp: float | None = None
    dbp: float | None = None
    hr: float | None = None
    temp: float | None = None
    on_oxygen: bool | None = None
    consciousness: AcvpuLetter | None = None
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
    extra_fields = set(ChildExtras.model_fields)
    values = obs.model_dump(exclude_none=True, exclude={"measured_at", *extra_fields})
    extras = ChildExtras.model_validate(obs.model_dump(include=extra_fields))
    with conn.transaction():
        try:
            accept_reading(
                conn,
                values,
                source=f"manual-u{user.id}",
                admission_id=admission_id,
                admitted_at=adm["admitted_at"],
                measured_at=measured,
                settings=settings,
                now=now,
                child_extras=extras,
            )
        except ReadingRefused as exc:
            raise BadInput(str(exc)) from exc
        audit.record(
            conn,
            actor_id=user.id,
            action="observation.manual",
            entity="patient",
            entity_id=adm["patient_id"],
            detail={"admission_id": admission_id, **values, **extras.model_dump(exclude_none=True)},
        )
    publish_pending(conn, get_redis(request), settings=settings)
    if wants_html(request):
        return RedirectResponse(f"/patients/{admission_id}", status_code=303)
    return JSONResponse({"stored": True, "measured_at": measured.isoformat()}, status_code=201)
