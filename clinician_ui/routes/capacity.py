"""The capacity board: beds by ward and pathway against the 80% target, now and over 30 and 90 days."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from clinician_ui import capacity as cap
from clinician_ui.charts import Point, time_series_svg
from clinician_ui.deps import Clinician, Conn, Coordinator, SignedIn, safe_next, wants_html
from clinician_ui.queries import admissions as adm_q
from clinician_ui.queries import capacity as q
from clinician_ui.routes.alerts import alert_counts
from clinician_ui.routing import make_router
from clinician_ui.schemas import StrictIn
from clinician_ui.templating import render

router = make_router("capacity")


def board(conn: Any, now: datetime) -> dict[str, Any]:
    """Everything the board shows, as plain data (the JSON API and the page share it)."""
    wards = q.ward_loads(conn)
    total = cap.totals(wards)
    census = cap.census_times(90, now)
    intervals = q.intervals_by_ward(conn, since=census[0][1] - timedelta(days=1))
    all_intervals = [iv for ivs in intervals.values() for iv in ivs]
    history = [
        {"day": d.isoformat(), "utilisation": round(u, 4)}
        for (d, _), u in zip(
            census, cap.utilisation_series(all_intervals, census, q.capacity_changes(conn)), strict=True
        )
    ]
    day_start = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)

    def load(w: cap.WardLoad) -> dict[str, Any]:
        return {
            **asdict(w),
            "free": w.free,
            "utilisation": round(w.utilisation, 4),
            "vs_target": cap.target_status(w.utilisation),
        }

    return {
        "target": cap.UTILISATION_TARGET,
        "total": load(total),
        "wards": [load(w) for w in wards],
        "pathways": [load(p) for p in cap.by_pathway(wards)],
        "history_90d": history,
        "today": q.todays_flow(conn, day_start=day_start),
    }


def _chart(history: list[dict[str, Any]], days: int, now: datetime) -> str:
    pts = [
        Point(
            datetime.fromisoformat(h["day"]).replace(tzinfo=UTC) + timedelta(hours=23, minutes=59),
            h["utilisation"] * 100,
            "over" if h["utilisation"] > cap.UTILISATION_TARGET else "under",
        )
        for h in history[-days:]
    ]
    return time_series_svg(
        pts,
        start=now - timedelta(days=days),
        end=now,
        y_range=(0, 100),
        title=f"Utilisation over {days} days (%)",
        unit="%",
        target=cap.UTILISATION_TARGET * 100,
        time_format="%d %b",
    )


@router.get("/capacity", include_in_schema=False)
def capacity_page(request: Request, conn: Conn, user: Clinician) -> Response:
    now = datetime.now(UTC)
    data = board(conn, now)
    charts = {d: _chart(data["history_90d"], d, now) for d in (30, 90)}
    return render(
        request,
        "capacity.html",
        {
            "b": data,
            "charts": charts,
            "admissions": adm_q.active_list(conn, ward_ids=user.ward_ids),
            "alert_counts": alert_counts(conn, user),
        },
    )


class BoardOut(BaseModel):
    target: float
    total: dict[str, Any]
    wards: list[dict[str, Any]]
    pathways: list[dict[str, Any]]
    history_90d: list[dict[str, Any]]
    today: dict[str, Any]


@router.get("/api/capacity", response_model=BoardOut)
def capacity_api(conn: Conn, user: SignedIn) -> dict[str, Any]:
    """Beds, free beds and utilisation by ward, pathway and overall; 90 days of daily utilisation."""
    return board(conn, datetime.now(UTC))


class CapacityIn(StrictIn):
    beds: Annotated[int, Field(ge=0, le=1000)]


class CapacityOut(BaseModel):
    ward_id: int
    beds: int


@router.post("/api/wards/{ward_id}/capacity", response_model=CapacityOut)
def set_capacity(ward_id: int, request: Request, body: CapacityIn, conn: Conn, user: Coordinator) -> Response:
    adm_q.set_capacity(conn, ward_id=ward_id, beds=body.beds, actor_id=user.id, ward_ids=user.ward_ids)
    if wants_html(request):
        return RedirectResponse(safe_next(request, "/capacity"), status_code=303)
    return JSONResponse({"ward_id": ward_id, "beds": body.beds})
