"""Reporting for coordinators and commissioners: the SitRep CSV and the Outcomes page with its CSV.

Roles: every route here is for the ``coordinator`` and ``admin`` roles. Figures are aggregates over all
wards (no patient is named), so no record view is audited.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, model_validator

from clinician_ui import reports as rp
from clinician_ui.deps import Conn, require
from clinician_ui.queries import reports as q
from clinician_ui.routing import make_router
from clinician_ui.schemas import Day, StrictIn
from clinician_ui.security import User
from clinician_ui.templating import render

router = make_router("reports")
Reporter = Annotated[User, Depends(require("coordinator", "admin"))]
MAX_RANGE_DAYS = 3 * 366
DEFAULT_RANGE_DAYS = 28
EARLIEST, LATEST = date(2000, 1, 1), date(2199, 12, 31)


class ReportRange(StrictIn):
    """Inclusive London days; by default the last four weeks."""

    date_from: Day | None = None
    date_to: Day | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ReportRange:
        for day in (self.date_from, self.date_to):
            if day is not None and not EARLIEST <= day <= LATEST:
                raise ValueError(f"report dates run from {EARLIEST} to {LATEST}")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        if self.date_from and self.date_to and (self.date_to - self.date_from).days > MAX_RANGE_DAYS:
            raise ValueError(f"a report covers at most {MAX_RANGE_DAYS} days")
        return self

    def resolved(self, now: datetime) -> tuple[date, date]:
        today = now.astimezone(rp.LONDON).date()
        end = self.date_to or today
        return self.date_from or end - timedelta(days=DEFAULT_RANGE_DAYS - 1), end


class FigureOut(BaseModel):
    ward_code: str | None
    measure: str
    breakdown: str
    value: float | None


class OutcomesOut(BaseModel):
    date_from: date
    date_to: date
    figures: list[FigureOut]


class SitRepOut(BaseModel):
    snapshot: datetime
    level: str
    provider: str | None
    pathway: str | None
    ward_code: str | None
    ward_name: str | None
    capacity: int
    patients: int
    occupancy_pct: float | None


Range = Annotated[ReportRange, Query()]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "A CSV file", "content": {"text/csv": {"schema": {"type": "string"}}}}
}


def _csv(body: str, name: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@router.get("/reports/sitrep.csv", response_class=Response, responses=CSV_RESPONSE)
def sitrep_csv(request: Request, conn: Conn, user: Reporter, span: Range) -> Response:
    """Capacity, patients at the 08:00 Thursday snapshot and occupancy, by ward, pathway, provider and total."""
    start, end = span.resolved(datetime.now(UTC))
    rows = q.sitrep(conn, date_from=start, date_to=end)
    return _csv(rp.sitrep_csv(rows), f"vward-sitrep-{start}-{end}.csv")


@router.get("/api/reports/sitrep", response_model=list[SitRepOut])
def sitrep_api(request: Request, conn: Conn, user: Reporter, span: Range) -> list[SitRepOut]:
    start, end = span.resolved(datetime.now(UTC))
    return [
        SitRepOut(**r.__dict__, occupancy_pct=rp.occupancy_pct(r)) for r in q.sitrep(conn, date_from=start, date_to=end)
    ]


@router.get("/reports/outcomes.csv", response_class=Response, responses=CSV_RESPONSE)
def outcomes_csv(request: Request, conn: Conn, user: Reporter, span: Range) -> Response:
    start, end = span.resolved(datetime.now(UTC))
    figures = rp.Figures(q.outcomes(conn, date_from=start, date_to=end, now=datetime.now(UTC)))
    return _csv(rp.outcomes_csv(figures, q.wards(conn)), f"vward-outcomes-{start}-{end}.csv")


@router.get("/api/reports/outcomes", response_model=OutcomesOut)
def outcomes_api(request: Request, conn: Conn, user: Reporter, span: Range) -> OutcomesOut:
    start, end = span.resolved(datetime.now(UTC))
    figures = rp.Figures(q.outcomes(conn, date_from=start, date_to=end, now=datetime.now(UTC)))
    out = [
        FigureOut(ward_code=code, measure=m, breakdown=b, value=v)
        for code in [None, *(w["code"] for w in q.wards(conn))]
        for m, b, v in figures.rows(code)
    ]
    return OutcomesOut(date_from=start, date_to=end, figures=out)


def _charts(f: rp.Figures, wards: list[dict[str, Any]]) -> list[str]:
    derived = {(m, b): v for m, b, v in f.derived(None)}
    return [
        rp.bars_svg(
            [rp.Bar(o.replace("_", " "), f.get(None, "discharges", o)) for o in rp.OUTCOMES],
            title="Discharges by outcome",
        ),
        rp.bars_svg(
            [rp.Bar(r, derived[("responded_within_target_pct", r)], f"r-{r}") for r in rp.RISKS],
            title="Alerts responded to within target",
            unit="%",
            maximum=100,
        ),
        rp.bars_svg(
            [rp.Bar(k.replace("_", " "), derived[("missed_reading_pct", k)]) for k in rp.DEVICE_KINDS],
            title="Missed-reading rate by device type",
            unit="%",
            maximum=100,
        ),
        rp.bars_svg(
            [rp.Bar(w["name"].removesuffix(" virtual ward"), f.get(w["code"], "admissions")) for w in wards],
            title="Admissions by ward",
        ),
    ]


@router.get("/reports", include_in_schema=False)
def reports_page(request: Request, conn: Conn, user: Reporter, span: Range) -> Response:
    start, end = span.resolved(datetime.now(UTC))
    figures = rp.Figures(q.outcomes(conn, date_from=start, date_to=end, now=datetime.now(UTC)))
    wards = q.wards(conn)
    sitrep = [r for r in q.sitrep(conn, date_from=start, date_to=end) if r.level == "total"]
    context = {
        "date_from": start,
        "date_to": end,
        "f": figures,
        "derived": {(m, b): v for m, b, v in figures.derived(None)},
        "wards": [(w, {(m, b): v for m, b, v in figures.derived(w["code"])}) for w in wards],
        "charts": _charts(figures, wards),
        "sitrep": [(rp.snapshot_label(r.snapshot), r, rp.occupancy_pct(r)) for r in sitrep],
        "risks": rp.RISKS,
        "triggers": rp.TRIGGERS,
        "outcomes": rp.OUTCOMES,
        "kinds": rp.DEVICE_KINDS,
        "query": f"date_from={start}&date_to={end}",
    }
    return render(request, "reports.html", context)
